//! Soft-deleted users, as Graph lists them: `GET /directory/deletedItems/microsoft.graph.user`
//! (paged by object id, `$select`, `$top`) and `GET /directory/deletedItems/{id}`.

use std::ops::Bound;
use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::Value;

use crate::auth::GraphCaller;
use crate::errors::GraphError;
use crate::AppState;

use super::http::{
    authorize, collection_response, next_link, resource_not_found, user_entity_response, PageToken,
    USER_READ,
};
use super::model::User;
use super::properties::render_user;
use super::query::{parse_user_select, GraphQuery};

const COLLECTION: &str = "/v1.0/directory/deletedItems/microsoft.graph.user";

pub async fn list_deleted_users(
    State(state): State<AppState>,
    caller: GraphCaller,
    headers: HeaderMap,
    RawQuery(raw_query): RawQuery,
) -> Result<Response, GraphError> {
    authorize(&state, &caller, USER_READ)?;
    let query = GraphQuery::parse(raw_query.as_deref())?;
    query.reject_unsupported()?;
    let page_size = query.page_size()?;
    let selection = parse_user_select(query.select.as_deref())?;
    let fingerprint = query.fingerprint(&headers);
    let after = match &query.skiptoken {
        Some(token) => {
            PageToken::open(
                &state,
                token,
                "deletedUsers",
                caller.tenant_id,
                &fingerprint,
            )?
            .after
        }
        None => None,
    };
    let (page, has_more) = state.directory.read(caller.tenant_id, |directory| {
        let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
        let mut page: Vec<Arc<User>> = Vec::new();
        let mut has_more = false;
        for (_, user) in directory.deleted.range((lower, Bound::Unbounded)) {
            if page.len() == page_size {
                has_more = true;
                break;
            }
            page.push(user.clone());
        }
        (page, has_more)
    });
    let items: Vec<Value> = page
        .iter()
        .map(|user| Value::Object(render_user(user, selection.as_deref())))
        .collect();
    let next = match (has_more, page.last()) {
        (true, Some(last)) => {
            let token = state.directory.seal.seal(&PageToken {
                kind: "deletedUsers".to_owned(),
                tenant: caller.tenant_id,
                query: fingerprint,
                after: Some(last.id),
                offset: 0,
            });
            Some(next_link(&state, COLLECTION, &query.link_query(), &token))
        }
        _ => None,
    };
    Ok(collection_response(
        "directory/deletedItems/microsoft.graph.user",
        None,
        items,
        next,
    ))
}

pub async fn get_deleted_item(
    State(state): State<AppState>,
    caller: GraphCaller,
    Path(id): Path<String>,
    RawQuery(raw_query): RawQuery,
) -> Result<Response, GraphError> {
    authorize(&state, &caller, USER_READ)?;
    let query = GraphQuery::parse(raw_query.as_deref())?;
    let selection = parse_user_select(query.select.as_deref())?;
    let found = id.parse::<uuid::Uuid>().ok().and_then(|object_id| {
        state.directory.read(caller.tenant_id, |directory| {
            directory.deleted.get(&object_id).cloned()
        })
    });
    let Some(user) = found else {
        return Err(resource_not_found(&id));
    };
    Ok(user_entity_response(
        "directory/deletedItems/$entity",
        &user,
        selection.as_deref(),
    ))
}
