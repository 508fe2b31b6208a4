//! `GET facets` (the distinct values of the filterable columns, for filter
//! menus) and `GET actions` (typeahead over action names). Both read only what
//! the viewer's scope allows: a name that occurs only outside it is not listed.

use axum::Json;
use axum::extract::RawQuery;
use events_core::EventLog;
use events_postgres::audit::{FACET_LIMIT, SEARCH_LIMIT};

use super::dto::{ActionNames, FacetsView};
use crate::error::ApiError;
use crate::params::{Params, TYPEAHEAD_PARAMS, number, store_error};
use crate::policy::Viewer;

/// `GET facets`: actions, kinds, resources, modes, modules and actors.
pub(crate) async fn facets<L: EventLog>(
    viewer: Viewer<L>,
    RawQuery(raw): RawQuery,
) -> Result<Json<FacetsView>, ApiError> {
    Params::parse(raw.as_deref()).refuse_unknown(&[])?;
    let facets = viewer.audit.facets().await.map_err(store_error)?;
    let actors = viewer
        .audit
        .distinct_actors(FACET_LIMIT)
        .await
        .map_err(store_error)?;
    Ok(Json(FacetsView {
        actions: facets.actions,
        kinds: facets.kinds.into_iter().map(Into::into).collect(),
        resources: facets.resources,
        modes: facets.modes,
        modules: facets.modules,
        actors: actors.into_iter().map(Into::into).collect(),
    }))
}

/// `GET actions?q=&limit=`: action names starting with `q`.
pub(crate) async fn actions<L: EventLog>(
    viewer: Viewer<L>,
    RawQuery(raw): RawQuery,
) -> Result<Json<ActionNames>, ApiError> {
    let params = Params::parse(raw.as_deref());
    params.refuse_unknown(&[TYPEAHEAD_PARAMS])?;
    let term = params.one("q")?.unwrap_or("");
    let limit = params
        .one("limit")?
        .map(|v| number("limit", v))
        .transpose()?
        .unwrap_or(SEARCH_LIMIT);
    let actions =
        viewer
            .audit
            .search_actions(term, limit)
            .await
            .map_err(|e| match store_error(e) {
                // The store checks the term as the query's `search` filter.
                ApiError::BadParameter { parameter, message } if parameter == "search" => {
                    ApiError::bad_parameter("q", message)
                }
                other => other,
            })?;
    Ok(Json(ActionNames { actions }))
}
