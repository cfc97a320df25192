//! `/v1.0/users/{id}/contactFolders…`: list (with `$filter=displayName eq`,
//! `$top`, paging), create, get, rename, delete, and child folders.

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::body::{folder_display_name, parse_object};
use super::filter::folder_filter;
use super::odata::{next_link, parse_query, DEFAULT_PAGE_SIZE};
use super::{
    check_id, item_error, odata_context, open_mailbox, READ_PERMISSIONS, WRITE_PERMISSIONS,
};
use crate::auth::GraphCaller;
use crate::errors::GraphError;
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v1.0/users/{id}/contactFolders",
            get(list_top_folders).post(create_top_folder),
        )
        .route(
            "/v1.0/users/{id}/contactFolders/{folder_id}",
            get(get_folder).patch(rename_folder).delete(delete_folder),
        )
        .route(
            "/v1.0/users/{id}/contactFolders/{folder_id}/childFolders",
            get(list_child_folders).post(create_child_folder),
        )
}

async fn list_top_folders(
    State(state): State<AppState>,
    caller: GraphCaller,
    Path(user): Path<String>,
    RawQuery(query): RawQuery,
    uri: Uri,
) -> Result<Json<Value>, GraphError> {
    list_folders(&state, &caller, &user, None, query.as_deref(), &uri)
}

async fn list_child_folders(
    State(state): State<AppState>,
    caller: GraphCaller,
    Path((user, folder_id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    uri: Uri,
) -> Result<Json<Value>, GraphError> {
    list_folders(
        &state,
        &caller,
        &user,
        Some(&folder_id),
        query.as_deref(),
        &uri,
    )
}

/// Children of `parent` (the default Contacts folder when `None`).
fn list_folders(
    state: &AppState,
    caller: &GraphCaller,
    user: &str,
    parent: Option<&str>,
    raw_query: Option<&str>,
    uri: &Uri,
) -> Result<Json<Value>, GraphError> {
    let opened = open_mailbox(state, caller, user, READ_PERMISSIONS)?;
    if let Some(parent_id) = parent {
        check_id(parent_id)?;
    }
    let options = parse_query(raw_query)?;
    let name_filter = match &options.filter {
        Some(filter) => Some(folder_filter(filter)?),
        None => None,
    };
    let page_size = options.top.unwrap_or(DEFAULT_PAGE_SIZE);
    let mailbox = opened.lock();
    let parent_id = parent.unwrap_or(&mailbox.root_folder_id).to_owned();
    mailbox.folder(&parent_id).map_err(item_error)?;
    let matching: Vec<Value> = mailbox
        .child_folders(&parent_id)
        .into_iter()
        .filter(|folder| {
            name_filter
                .as_ref()
                .is_none_or(|name| folder.display_name.eq_ignore_ascii_case(name))
        })
        .map(|folder| folder.to_json())
        .collect();
    drop(mailbox);
    let total = matching.len();
    let page: Vec<Value> = matching
        .into_iter()
        .skip(options.skip)
        .take(page_size)
        .collect();
    let mut response = json!({
        "@odata.context": odata_context(state, &format!("users('{user}')/contactFolders")),
        "value": page,
    });
    let next_skip = options.skip + page_size;
    if next_skip < total {
        response["@odata.nextLink"] =
            Value::String(next_link(state.base_url(), uri.path(), &options, next_skip));
    }
    Ok(Json(response))
}

async fn create_top_folder(
    State(state): State<AppState>,
    caller: GraphCaller,
    Path(user): Path<String>,
    body: Bytes,
) -> Result<Response, GraphError> {
    create_folder(&state, &caller, &user, None, &body)
}

async fn create_child_folder(
    State(state): State<AppState>,
    caller: GraphCaller,
    Path((user, folder_id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, GraphError> {
    create_folder(&state, &caller, &user, Some(&folder_id), &body)
}

fn create_folder(
    state: &AppState,
    caller: &GraphCaller,
    user: &str,
    parent: Option<&str>,
    body: &[u8],
) -> Result<Response, GraphError> {
    let opened = open_mailbox(state, caller, user, WRITE_PERMISSIONS)?;
    if let Some(parent_id) = parent {
        check_id(parent_id)?;
    }
    let display_name = folder_display_name(parse_object(body)?)?;
    let Some(display_name) = display_name.filter(|name| !name.trim().is_empty()) else {
        return Err(GraphError::new(
            StatusCode::BAD_REQUEST,
            "ErrorInvalidRequest",
            "The folder display name is missing.",
        ));
    };
    let mut mailbox = opened.lock();
    let parent_id = parent.unwrap_or(&mailbox.root_folder_id).to_owned();
    let folder = mailbox
        .create_folder(&parent_id, &display_name, false)
        .map_err(item_error)?;
    drop(mailbox);
    let mut rendered = folder.to_json();
    rendered["@odata.context"] = Value::String(odata_context(
        state,
        &format!("users('{user}')/contactFolders/$entity"),
    ));
    Ok((StatusCode::CREATED, Json(rendered)).into_response())
}

async fn get_folder(
    State(state): State<AppState>,
    caller: GraphCaller,
    Path((user, folder_id)): Path<(String, String)>,
) -> Result<Json<Value>, GraphError> {
    let opened = open_mailbox(&state, &caller, &user, READ_PERMISSIONS)?;
    check_id(&folder_id)?;
    let mailbox = opened.lock();
    let mut rendered = mailbox.folder(&folder_id).map_err(item_error)?.to_json();
    drop(mailbox);
    rendered["@odata.context"] = Value::String(odata_context(
        &state,
        &format!("users('{user}')/contactFolders/$entity"),
    ));
    Ok(Json(rendered))
}

async fn rename_folder(
    State(state): State<AppState>,
    caller: GraphCaller,
    Path((user, folder_id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Json<Value>, GraphError> {
    let opened = open_mailbox(&state, &caller, &user, WRITE_PERMISSIONS)?;
    check_id(&folder_id)?;
    let display_name = folder_display_name(parse_object(&body)?)?;
    let mut mailbox = opened.lock();
    let folder = match display_name {
        Some(name) => mailbox
            .rename_folder(&folder_id, &name, false)
            .map_err(item_error)?,
        None => mailbox.folder(&folder_id).map_err(item_error)?.clone(),
    };
    drop(mailbox);
    let mut rendered = folder.to_json();
    rendered["@odata.context"] = Value::String(odata_context(
        &state,
        &format!("users('{user}')/contactFolders/$entity"),
    ));
    Ok(Json(rendered))
}

async fn delete_folder(
    State(state): State<AppState>,
    caller: GraphCaller,
    Path((user, folder_id)): Path<(String, String)>,
) -> Result<StatusCode, GraphError> {
    let opened = open_mailbox(&state, &caller, &user, WRITE_PERMISSIONS)?;
    check_id(&folder_id)?;
    opened
        .lock()
        .delete_folder(&folder_id)
        .map_err(item_error)?;
    Ok(StatusCode::NO_CONTENT)
}
