//! `each(..)`: many calls of one action, each with its own body, in one
//! transaction, all their events written by one statement.

use serde::Serialize;
use sqlx::PgConnection;
use tracing::Instrument;

use super::Call;
use super::run::{self, AfterCommit, CallStore, Work};
use super::single::Prepared;
use crate::{ActionCall, ActionOutput, Error, EventId, EventStore, Resource};

/// Runs many calls of an action, each with its own body, in one transaction,
/// writing all their events with one statement.
///
/// For actions without a `#[bulk(..)]` form: every call keeps its own record id,
/// actor, metadata and tenant, and its body runs as it would under
/// [`ActionCall::run`](crate::ActionCall::run), one after the other in the given
/// order, each with its own event id and `after_action` hooks. The events are
/// inserted first, all at once, under every call's lock (ascending key order);
/// they share one `occurred_at`. Either every call commits or none does. Compared
/// with running the calls one by one, this saves a transaction per call (its
/// `BEGIN`, lock and event round trips and its commit), but still runs each
/// body's statements; a `#[bulk]` body writes the state of all calls at once.
///
/// Replay applies the events one by one in the same order, so the state is the
/// one the calls produced. A body run this way cannot run nested actions
/// ([`Error::NestedInEach`]): their events would follow all of this call's.
///
/// ```no_run
/// # use events_core::{ActionCtx, Error, EventStore, event_log, events};
/// # #[event_log] pub struct AppLog;
/// # pub struct Tag;
/// # #[events(event_log = AppLog)]
/// # impl Tag {
/// #     #[update]
/// #     async fn rename(ctx: &mut ActionCtx<'_>, name: String) -> Result<(), Error> { Ok(()) }
/// # }
/// # async fn run<S: EventStore<Log = AppLog>>(store: &S, renames: Vec<(uuid::Uuid, String)>) -> Result<(), Error> {
/// let calls = renames.into_iter().map(|(id, name)| Tag::rename(id, name));
/// let outputs: Vec<()> = events_core::each(calls).run(store).await?;
/// # Ok(()) }
/// ```
pub fn each<R: Resource, I, Ret>(
    calls: impl IntoIterator<Item = ActionCall<R, I, Ret>>,
) -> EachCall<R, I, Ret> {
    Call::of(Each {
        calls: calls.into_iter().collect(),
    })
}

/// Calls of one action gathered by [`each`], executed by [`run`](Call::run);
/// its [`deadline`](Call::deadline) bounds the whole transaction.
pub type EachCall<R, I, Ret> = Call<Each<R, I, Ret>>;

/// The kind of an [`EachCall`]: the gathered calls.
pub struct Each<R: Resource, I, Ret> {
    calls: Vec<ActionCall<R, I, Ret>>,
}

impl<R: Resource, I, Ret> Call<Each<R, I, Ret>> {
    /// The number of calls.
    pub fn len(&self) -> usize {
        self.kind.calls.len()
    }

    /// True without calls: `run` then returns an empty `Vec` and writes nothing.
    pub fn is_empty(&self) -> bool {
        self.kind.calls.is_empty()
    }

    /// Runs every call in one transaction; returns their values in call order, or
    /// the first error (and nothing is stored).
    pub async fn run<S: EventStore<Log = R::Log>>(self, store: &S) -> Result<Vec<Ret::Ok>, Ret::Err>
    where
        I: Serialize + Send,
        Ret: ActionOutput<Err: From<Error>> + Send,
    {
        if self.is_empty() {
            return Ok(Vec::new());
        }
        let span = tracing::info_span!("events.each", resource = R::NAME, calls = self.len());
        async move {
            let calls = self.len();
            let prepared = self
                .kind
                .calls
                .into_iter()
                .map(ActionCall::prepare)
                .collect::<Result<Vec<_>, _>>()?;
            let what = move || format!("each(..) over {calls} calls of `{}`", R::NAME);
            run::run(store, self.deadline, what, PreparedEach(prepared)).await
        }
        .instrument(span)
        .await
    }
}

/// The calls of an [`EachCall`], their record ids, event data and locks settled.
struct PreparedEach<R: Resource, I, Ret>(Vec<Prepared<R, I, Ret>>);

/// `each(..)`: every call's lock and event (one statement), then each body in
/// order.
impl<R: Resource, I, Ret: ActionOutput<Err: From<Error>>> Work for PreparedEach<R, I, Ret> {
    type Ok = Vec<Ret::Ok>;
    type Err = Ret::Err;

    fn appends_first(&self) -> bool {
        self.0.iter().any(|call| call.new_event().is_some())
    }

    async fn execute(
        self,
        conn: &mut PgConnection,
        store: CallStore<'_>,
    ) -> Result<(Vec<Ret::Ok>, AfterCommit), Ret::Err> {
        let prepared = self.0;
        let mut event_ids: Vec<Option<EventId>> = vec![None; prepared.len()];
        let now = {
            let (mut recorded, mut events, mut locks) = (Vec::new(), Vec::new(), Vec::new());
            for (index, call) in prepared.iter().enumerate() {
                if let Some((event, lock)) = call.new_event() {
                    recorded.push(index);
                    events.push(event);
                    locks.extend(lock);
                }
            }
            let (ids, now) = store.append_all(&mut *conn, locks, &events).await?;
            for (index, id) in recorded.into_iter().zip(ids) {
                event_ids[index] = Some(id);
            }
            now
        };

        let mut outputs = Vec::with_capacity(prepared.len());
        let mut after_commit = Vec::new();
        for (call, event_id) in prepared.into_iter().zip(event_ids) {
            let (output, mut hooks) = call.run_body(conn, store, event_id, now, true).await?;
            outputs.push(output);
            after_commit.append(&mut hooks);
        }
        Ok((outputs, after_commit))
    }
}
