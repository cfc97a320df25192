//! Contacts: `/v1.0/users/{id}/contactFolders/{fid}/contacts[/{cid}]` and the
//! default-folder forms `/v1.0/users/{id}/contacts[/{cid}]` (a single contact
//! by id may live in any folder of the mailbox).

use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, Uri};
use axum::response::Response;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use super::body::{contact_changes, parse_object};
use super::filter::contact_filter;
use super::model::{json_response, ContactView, Projection};
use super::odata::{
    contact_select, extended_expand, invalid_query, next_link, parse_query, QueryOptions,
    DEFAULT_PAGE_SIZE,
};
use super::{
    check_id, item_error, odata_context, open_mailbox, READ_PERMISSIONS, WRITE_PERMISSIONS,
};
use crate::auth::GraphCaller;
use crate::errors::GraphError;
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v1.0/users/{id}/contactFolders/{folder_id}/contacts",
            get(list_in_folder).post(create_in_folder),
        )
        .route(
            "/v1.0/users/{id}/contactFolders/{folder_id}/contacts/{contact_id}",
            get(get_in_folder)
                .patch(update_in_folder)
                .delete(delete_in_folder),
        )
        .route(
            "/v1.0/users/{id}/contacts",
            get(list_default).post(create_default),
        )
        .route(
            "/v1.0/users/{id}/contacts/{contact_id}",
            get(get_anywhere)
                .patch(update_anywhere)
                .delete(delete_anywhere),
        )
}

/// `$select` and `$expand` of a request as a rendering projection.
pub(crate) fn projection(options: &QueryOptions) -> Result<Projection, GraphError> {
    let select = match &options.select {
        Some(select) => Some(contact_select(select)?),
        None => None,
    };
    let extended = match &options.expand {
        Some(expand) => Some(extended_expand(expand)?),
        None => None,
    };
    Ok(Projection { select, extended })
}

fn contact_context(state: &AppState, user: &str) -> String {
    odata_context(state, &format!("users('{user}')/contacts/$entity"))
}

async fn list_in_folder(
    State(state): State<AppState>,
    caller: GraphCaller,
    Path((user, folder_id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    uri: Uri,
) -> Result<Json<Value>, GraphError> {
    list_contacts(
        &state,
        &caller,
        &user,
        Some(&folder_id),
        query.as_deref(),
        &uri,
    )
}

async fn list_default(
    State(state): State<AppState>,
    caller: GraphCaller,
    Path(user): Path<String>,
    RawQuery(query): RawQuery,
    uri: Uri,
) -> Result<Json<Value>, GraphError> {
    list_contacts(&state, &caller, &user, None, query.as_deref(), &uri)
}

fn list_contacts(
    state: &AppState,
    caller: &GraphCaller,
    user: &str,
    folder: Option<&str>,
    raw_query: Option<&str>,
    uri: &Uri,
) -> Result<Json<Value>, GraphError> {
    let opened = open_mailbox(state, caller, user, READ_PERMISSIONS)?;
    if let Some(folder_id) = folder {
        check_id(folder_id)?;
    }
    let options = parse_query(raw_query)?;
    // singlevaluelegacyextendedproperty-get documents `$expand` of an
    // extended property on one resource instance only; a collection is
    // queried with `$filter=singleValueExtendedProperties/Any(…)`, which
    // returns the matching instances without the property. The strictest
    // reading refuses `$expand` on a collection.
    if options.expand.is_some() {
        return Err(invalid_query(
            "$expand of singleValueExtendedProperties is supported on a single contact only; \
             filter the collection with singleValueExtendedProperties/Any(…) instead",
        ));
    }
    let projection = projection(&options)?;
    let filters = match &options.filter {
        Some(filter) => contact_filter(filter)?,
        None => Vec::new(),
    };
    let page_size = options.top.unwrap_or(DEFAULT_PAGE_SIZE);
    let mailbox = opened.lock();
    let folder_id = folder.unwrap_or(&mailbox.root_folder_id).to_owned();
    let mut page = Vec::with_capacity(page_size.min(1000));
    let mut more = false;
    let matching = mailbox
        .folder_contacts(&folder_id)
        .map_err(item_error)?
        .filter(|contact| filters.iter().all(|filter| filter.matches(contact)))
        .skip(options.skip);
    for contact in matching {
        if page.len() == page_size {
            more = true;
            break;
        }
        page.push(contact.to_json(&projection));
    }
    drop(mailbox);
    let mut response = json!({
        "@odata.context": odata_context(state, &format!("users('{user}')/contacts")),
        "value": page,
    });
    if more {
        response["@odata.nextLink"] = Value::String(next_link(
            state.base_url(),
            uri.path(),
            &options,
            options.skip + page_size,
        ));
    }
    Ok(Json(response))
}

async fn create_in_folder(
    State(state): State<AppState>,
    caller: GraphCaller,
    Path((user, folder_id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, GraphError> {
    create_contact(&state, &caller, &user, Some(&folder_id), &body)
}

async fn create_default(
    State(state): State<AppState>,
    caller: GraphCaller,
    Path(user): Path<String>,
    body: Bytes,
) -> Result<Response, GraphError> {
    create_contact(&state, &caller, &user, None, &body)
}

fn create_contact(
    state: &AppState,
    caller: &GraphCaller,
    user: &str,
    folder: Option<&str>,
    body: &[u8],
) -> Result<Response, GraphError> {
    let opened = open_mailbox(state, caller, user, WRITE_PERMISSIONS)?;
    if let Some(folder_id) = folder {
        check_id(folder_id)?;
    }
    let changes = contact_changes(parse_object(body)?)?;
    let now = state.clock.now();
    let context = contact_context(state, user);
    let mut mailbox = opened.lock();
    let folder_id = folder.unwrap_or(&mailbox.root_folder_id).to_owned();
    let contact = mailbox
        .create_contact(&folder_id, changes, now)
        .map_err(item_error)?;
    let projection = Projection::default();
    let view = ContactView {
        context: Some(&context),
        ..ContactView::new(contact, &projection)
    };
    Ok(json_response(StatusCode::CREATED, &view))
}

async fn get_in_folder(
    State(state): State<AppState>,
    caller: GraphCaller,
    Path((user, folder_id, contact_id)): Path<(String, String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, GraphError> {
    get_contact(
        &state,
        &caller,
        &user,
        Some(&folder_id),
        &contact_id,
        query.as_deref(),
    )
}

async fn get_anywhere(
    State(state): State<AppState>,
    caller: GraphCaller,
    Path((user, contact_id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
) -> Result<Response, GraphError> {
    get_contact(&state, &caller, &user, None, &contact_id, query.as_deref())
}

fn get_contact(
    state: &AppState,
    caller: &GraphCaller,
    user: &str,
    folder: Option<&str>,
    contact_id: &str,
    raw_query: Option<&str>,
) -> Result<Response, GraphError> {
    let opened = open_mailbox(state, caller, user, READ_PERMISSIONS)?;
    if let Some(folder_id) = folder {
        check_id(folder_id)?;
    }
    check_id(contact_id)?;
    let projection = projection(&parse_query(raw_query)?)?;
    let mailbox = opened.lock();
    if let Some(folder_id) = folder {
        mailbox.folder(folder_id).map_err(item_error)?;
    }
    let contact = mailbox.contact(contact_id, folder).map_err(item_error)?;
    let context = contact_context(state, user);
    let view = ContactView {
        context: Some(&context),
        ..ContactView::new(contact, &projection)
    };
    Ok(json_response(StatusCode::OK, &view))
}

async fn update_in_folder(
    State(state): State<AppState>,
    caller: GraphCaller,
    Path((user, folder_id, contact_id)): Path<(String, String, String)>,
    body: Bytes,
) -> Result<Response, GraphError> {
    update_contact(&state, &caller, &user, Some(&folder_id), &contact_id, &body)
}

async fn update_anywhere(
    State(state): State<AppState>,
    caller: GraphCaller,
    Path((user, contact_id)): Path<(String, String)>,
    body: Bytes,
) -> Result<Response, GraphError> {
    update_contact(&state, &caller, &user, None, &contact_id, &body)
}

fn update_contact(
    state: &AppState,
    caller: &GraphCaller,
    user: &str,
    folder: Option<&str>,
    contact_id: &str,
    body: &[u8],
) -> Result<Response, GraphError> {
    let opened = open_mailbox(state, caller, user, WRITE_PERMISSIONS)?;
    if let Some(folder_id) = folder {
        check_id(folder_id)?;
    }
    check_id(contact_id)?;
    let changes = contact_changes(parse_object(body)?)?;
    let now = state.clock.now();
    let mut mailbox = opened.lock();
    if let Some(folder_id) = folder {
        mailbox.folder(folder_id).map_err(item_error)?;
    }
    let contact = mailbox
        .update_contact(contact_id, folder, changes, now)
        .map_err(item_error)?;
    let context = contact_context(state, user);
    let projection = Projection::default();
    let view = ContactView {
        context: Some(&context),
        ..ContactView::new(contact, &projection)
    };
    Ok(json_response(StatusCode::OK, &view))
}

async fn delete_in_folder(
    State(state): State<AppState>,
    caller: GraphCaller,
    Path((user, folder_id, contact_id)): Path<(String, String, String)>,
) -> Result<StatusCode, GraphError> {
    delete_contact(&state, &caller, &user, Some(&folder_id), &contact_id)
}

async fn delete_anywhere(
    State(state): State<AppState>,
    caller: GraphCaller,
    Path((user, contact_id)): Path<(String, String)>,
) -> Result<StatusCode, GraphError> {
    delete_contact(&state, &caller, &user, None, &contact_id)
}

fn delete_contact(
    state: &AppState,
    caller: &GraphCaller,
    user: &str,
    folder: Option<&str>,
    contact_id: &str,
) -> Result<StatusCode, GraphError> {
    let opened = open_mailbox(state, caller, user, WRITE_PERMISSIONS)?;
    if let Some(folder_id) = folder {
        check_id(folder_id)?;
    }
    check_id(contact_id)?;
    let mut mailbox = opened.lock();
    if let Some(folder_id) = folder {
        mailbox.folder(folder_id).map_err(item_error)?;
    }
    mailbox
        .delete_contact(contact_id, folder)
        .map_err(item_error)?;
    Ok(StatusCode::NO_CONTENT)
}
