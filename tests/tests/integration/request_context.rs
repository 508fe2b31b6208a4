//! A request context never fails a write: a NUL byte, an overlong or a
//! multi-byte user agent or request id is cleaned by one rule
//! (`RequestContext::stored_fields`), and an action, a bulk call, `each(..)` and a
//! manual entry all store the same cleaned values.

use events_core::audit::{
    AuditQuery, MAX_NAME_LEN, MAX_USER_AGENT_LEN, ManualEntry, RequestContext,
};
use events_tests::doc::{Doc, DocLog};
use serde_json::{Value, json};
use sqlx::PgPool;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// `text` without NUL characters, cut to `max` bytes at a character boundary:
/// the documented rule, written out independently of the library.
fn expected(text: &str, max: usize) -> String {
    let mut out = String::new();
    for c in text.chars().filter(|c| *c != '\0') {
        if out.len() + c.len_utf8() > max {
            break;
        }
        out.push(c);
    }
    out
}

/// Hostile contexts: NUL bytes, characters straddling the length limits,
/// astral characters.
fn contexts() -> Vec<RequestContext> {
    let ip = "2001:db8::1".parse().ok();
    vec![
        RequestContext {
            ip_address: ip,
            user_agent: Some(format!("Mozilla\0/5.0 {}", "é😀".repeat(400))),
            request_id: Some(format!("req\0-{}", "ü".repeat(300))),
        },
        RequestContext {
            ip_address: None,
            user_agent: Some(format!("{}\0", "a".repeat(MAX_USER_AGENT_LEN))),
            request_id: Some(format!("{}😀", "r".repeat(MAX_NAME_LEN - 2))),
        },
        RequestContext::new().user_agent("\0").request_id("\0\0"),
    ]
}

#[sqlx::test]
async fn every_write_path_stores_the_same_cleaned_context(pool: PgPool) -> TestResult {
    let store = events_tests::doc::store(&pool).await?;
    let audit = store.audit();
    for request in contexts() {
        let ua = request
            .user_agent
            .as_deref()
            .map(|ua| expected(ua, MAX_USER_AGENT_LEN));
        let id = request
            .request_id
            .as_deref()
            .map(|id| expected(id, MAX_NAME_LEN));
        let ip = request.ip_address.map(|ip| ip.to_string());
        let before = audit.list_all(AuditQuery::new()).await?.len();

        Doc::write(json!({"via": "action"}))
            .metadata(json!({"kept": true}))
            .request(&request)
            .run(&store)
            .await?;
        Doc::write_many(vec![json!({"via": "bulk"}), json!({"via": "bulk"})])
            .request(&request)
            .run(&store)
            .await?;
        events_core::each([
            Doc::write(json!({"via": "each"})).request(&request),
            Doc::write(json!({"via": "each"})).request(&request),
        ])
        .run(&store)
        .await?;
        let tracked = audit
            .track(ManualEntry::<DocLog>::new("doc.viewed").request(request.clone()))
            .await?
            .ok_or("a manual entry is stored")?;
        assert_eq!(
            (tracked.user_agent.clone(), tracked.request_id.clone()),
            (ua.clone(), id.clone())
        );
        assert!(
            audit
                .log(ManualEntry::new("doc.logged").request(request.clone()))
                .await
                .is_some(),
            "log stores the entry too"
        );

        let entries = audit.list_all(AuditQuery::new()).await?;
        let written = &entries[..entries.len() - before];
        assert_eq!(written.len(), 7);
        for entry in written {
            let what = format!("{} {}", entry.action, entry.data);
            assert_eq!(entry.user_agent, ua, "{what}");
            assert_eq!(entry.request_id, id, "{what}");
            assert_eq!(entry.ip_address, ip, "{what}");
            for (key, value) in [
                ("user_agent", &ua),
                ("request_id", &id),
                ("ip_address", &ip),
            ] {
                assert_eq!(
                    entry.metadata.get(key),
                    value.clone().map(Value::String).as_ref(),
                    "{what}: metadata key {key}"
                );
            }
        }
        if let Some(id) = &id {
            let found = audit
                .list_all(AuditQuery::new().request_id(id.clone()))
                .await?;
            assert!(found.len() >= 7, "the cleaned request id finds every entry");
        }
    }
    // The event readers see the same metadata.
    let events = store.list_events(None, 1000).await?;
    assert_eq!(events.len(), 3 * 5);
    assert!(
        events
            .iter()
            .all(|e| e.metadata.get("user_agent").is_some())
    );
    Ok(())
}

#[test]
fn the_rule_is_one_function() {
    for request in contexts() {
        let stored = request.stored_fields();
        for (key, value) in &stored {
            let (raw, max) = match *key {
                "user_agent" => (request.user_agent.as_deref(), MAX_USER_AGENT_LEN),
                "request_id" => (request.request_id.as_deref(), MAX_NAME_LEN),
                _ => (None, 0),
            };
            if let Some(raw) = raw {
                assert_eq!(*value, expected(raw, max), "{key}");
            }
            assert!(!value.contains('\0'));
        }
    }
}
