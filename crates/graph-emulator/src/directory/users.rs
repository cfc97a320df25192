//! `GET /v1.0/users` (paged by object id, `$select`, `$filter`, `$top`,
//! `$count`, `$expand=manager`), `/users/$count`, `/users/{id|upn}`,
//! `/users/{id}/manager`, `/users/{id}/mailboxSettings[/userPurpose]`.

use std::ops::Bound;
use std::sync::Arc;

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::auth::GraphCaller;
use crate::errors::GraphError;
use crate::AppState;

use super::filter_eval::evaluate;
use super::http::{
    authorize, bind_user_filter, collection_response, next_link, resource_not_found,
    user_entity_response, PageToken, METADATA, USER_READ,
};
use super::model::User;
use super::properties::{render_user, SelectedUserProperty};
use super::query::{parse_manager_expand, parse_user_select, request_bad_request, GraphQuery};

/// Most users per page when `$expand` is present.
pub const EXPAND_PAGE_LIMIT: usize = 100;

/// Renders a user, with its manager when `$expand=manager` asked for it.
pub fn render_with_manager(
    user: &User,
    selection: Option<&[SelectedUserProperty]>,
    manager: Option<(&User, Option<&[SelectedUserProperty]>)>,
) -> Value {
    let mut object = render_user(user, selection);
    if let Some((manager, manager_selection)) = manager {
        let mut rendered = serde_json::Map::new();
        rendered.insert(
            "@odata.type".to_owned(),
            Value::String("#microsoft.graph.user".to_owned()),
        );
        rendered.extend(render_user(manager, manager_selection));
        object.insert("manager".to_owned(), Value::Object(rendered));
    }
    Value::Object(object)
}

fn select_context(select: Option<&str>) -> String {
    match select {
        Some(list) => format!("users({list})"),
        None => "users".to_owned(),
    }
}

pub async fn list_users(
    State(state): State<AppState>,
    caller: GraphCaller,
    headers: HeaderMap,
    RawQuery(raw_query): RawQuery,
) -> Result<Response, GraphError> {
    authorize(&state, &caller, USER_READ)?;
    let query = GraphQuery::parse(raw_query.as_deref())?;
    query.reject_unsupported()?;
    let wants_count = query.wants_count(&headers)?;
    let advanced = query.is_advanced(&headers);
    let selection = parse_user_select(query.select.as_deref())?;
    let expand = parse_manager_expand(query.expand.as_deref())?;
    // Known issue 13635 (Microsoft Graph known issues, user-list): "$expand on
    // directory objects: returns a maximum of 100 objects" per page, whatever `$top` says.
    let page_size = match expand {
        Some(_) => query.page_size()?.min(EXPAND_PAGE_LIMIT),
        None => query.page_size()?,
    };
    let filter = match &query.filter {
        Some(text) => Some(bind_user_filter(text, advanced)?),
        None => None,
    };
    let fingerprint = query.fingerprint(&headers);
    let tenant_id = caller.tenant_id;
    let after = match &query.skiptoken {
        Some(token) => PageToken::open(&state, token, "users", tenant_id, &fingerprint)?.after,
        None => None,
    };

    type Page = (Vec<(Arc<User>, Option<Arc<User>>)>, bool, Option<usize>);
    let (page, has_more, count): Page = state.directory.read(tenant_id, |directory| {
        let lower = match after {
            Some(id) => Bound::Excluded(id),
            None => Bound::Unbounded,
        };
        let matches = |user: &User| filter.as_ref().is_none_or(|expr| evaluate(expr, user));
        let mut page = Vec::with_capacity(page_size.min(directory.users.len()));
        let mut has_more = false;
        for (_, user) in directory.users.range((lower, Bound::Unbounded)) {
            if !matches(user) {
                continue;
            }
            if page.len() == page_size {
                has_more = true;
                break;
            }
            let manager = match (&expand, user.manager_id) {
                (Some(_), Some(manager_id)) => directory.users.get(&manager_id).cloned(),
                _ => None,
            };
            page.push((user.clone(), manager));
        }
        let count = wants_count.then(|| {
            directory
                .users
                .values()
                .filter(|user| matches(user))
                .count()
        });
        (page, has_more, count)
    });

    let manager_selection = expand.as_ref().and_then(|expand| expand.select.as_deref());
    let mut items = Vec::with_capacity(page.len());
    for (user, manager) in &page {
        let manager = manager
            .as_deref()
            .map(|manager| (manager, manager_selection));
        items.push(render_with_manager(user, selection.as_deref(), manager));
    }
    let next = match (has_more, page.last()) {
        (true, Some((last, _))) => {
            let token = state.directory.seal.seal(&PageToken {
                kind: "users".to_owned(),
                tenant: tenant_id,
                query: fingerprint,
                after: Some(last.id),
                offset: 0,
            });
            Some(next_link(
                &state,
                "/v1.0/users",
                &query.link_query(),
                &token,
            ))
        }
        _ => None,
    };
    Ok(collection_response(
        &select_context(query.select.as_deref()),
        count,
        items,
        next,
    ))
}

/// `GET /users/$count`: plain text, needs `ConsistencyLevel: eventual`.
pub async fn count_users(
    State(state): State<AppState>,
    caller: GraphCaller,
    headers: HeaderMap,
    RawQuery(raw_query): RawQuery,
) -> Result<Response, GraphError> {
    authorize(&state, &caller, USER_READ)?;
    if !super::query::eventual_consistency(&headers) {
        return Err(request_bad_request("$count is not currently supported."));
    }
    let query = GraphQuery::parse(raw_query.as_deref())?;
    let filter = match &query.filter {
        Some(text) => Some(bind_user_filter(text, true)?),
        None => None,
    };
    let count = state.directory.read(caller.tenant_id, |directory| {
        directory
            .users
            .values()
            .filter(|user| {
                filter
                    .as_ref()
                    .is_none_or(|expr| evaluate(expr, user.as_ref()))
            })
            .count()
    });
    Ok((
        [(axum::http::header::CONTENT_TYPE, "text/plain")],
        count.to_string(),
    )
        .into_response())
}

pub async fn get_user(
    State(state): State<AppState>,
    caller: GraphCaller,
    Path(id): Path<String>,
    RawQuery(raw_query): RawQuery,
) -> Result<Response, GraphError> {
    authorize(&state, &caller, USER_READ)?;
    let query = GraphQuery::parse(raw_query.as_deref())?;
    let selection = parse_user_select(query.select.as_deref())?;
    let expand = parse_manager_expand(query.expand.as_deref())?;
    let found = state.directory.read(caller.tenant_id, |directory| {
        let user = directory.find_user(&id)?.clone();
        let manager = match (&expand, user.manager_id) {
            (Some(_), Some(manager_id)) => directory.users.get(&manager_id).cloned(),
            _ => None,
        };
        Some((user, manager))
    });
    let Some((user, manager)) = found else {
        return Err(resource_not_found(&id));
    };
    let manager_selection = expand.as_ref().and_then(|expand| expand.select.as_deref());
    let manager = manager
        .as_deref()
        .map(|manager| (manager, manager_selection));
    let mut rendered = render_with_manager(&user, selection.as_deref(), manager);
    if let Value::Object(object) = &mut rendered {
        object.insert(
            "@odata.context".to_owned(),
            Value::String(format!(
                "{METADATA}{}/$entity",
                select_context(query.select.as_deref())
            )),
        );
    }
    Ok(axum::Json(rendered).into_response())
}

pub async fn get_manager(
    State(state): State<AppState>,
    caller: GraphCaller,
    Path(id): Path<String>,
    RawQuery(raw_query): RawQuery,
) -> Result<Response, GraphError> {
    authorize(&state, &caller, USER_READ)?;
    let query = GraphQuery::parse(raw_query.as_deref())?;
    let selection = parse_user_select(query.select.as_deref())?;
    let found = state.directory.read(caller.tenant_id, |directory| {
        let user = directory.find_user(&id)?;
        let manager = user
            .manager_id
            .and_then(|manager_id| directory.users.get(&manager_id).cloned());
        Some(manager)
    });
    let Some(manager) = found else {
        return Err(resource_not_found(&id));
    };
    let Some(manager) = manager else {
        return Err(resource_not_found("manager"));
    };
    Ok(user_entity_response(
        "directoryObjects/$entity",
        &manager,
        selection.as_deref(),
    ))
}

/// A user without an Exchange Online mailbox (no licence with an Exchange
/// plan, a guest, an on-premises mailbox): Graph answers mailbox calls with
/// 404 MailboxNotEnabledForRESTAPI ("REST API is not yet supported for this
/// mailbox" — learn.microsoft.com/troubleshoot/exchange/.../rest-api-is-not-yet-supported-for-this-mailbox-error).
fn mailbox_not_enabled() -> GraphError {
    GraphError::new(
        StatusCode::NOT_FOUND,
        "MailboxNotEnabledForRESTAPI",
        "The mailbox is either inactive, soft-deleted, or is hosted on-premise.",
    )
}

// user-get-mailboxsettings, Permissions: Application "MailboxSettings.Read,
// MailboxSettings.ReadWrite" — nothing else (not User.Read.All) reads it.
const MAILBOX_SETTINGS_READ: &[&str] = &["MailboxSettings.Read", "MailboxSettings.ReadWrite"];

fn mailbox_settings_user(
    state: &AppState,
    caller: &GraphCaller,
    id: &str,
) -> Result<Arc<User>, GraphError> {
    caller.require_mailbox(MAILBOX_SETTINGS_READ)?;
    let Some(user) = state.directory.find_user(caller.tenant_id, id) else {
        return Err(GraphError::not_found(
            "The specified object was not found in the store.",
        ));
    };
    if !user.has_mailbox() {
        return Err(mailbox_not_enabled());
    }
    Ok(user)
}

/// `GET /users/{id}/mailboxSettings`: `userPurpose` tells user, shared, room
/// and equipment mailboxes apart.
pub async fn get_mailbox_settings(
    State(state): State<AppState>,
    caller: GraphCaller,
    Path(id): Path<String>,
) -> Result<Response, GraphError> {
    let user = mailbox_settings_user(&state, &caller, &id)?;
    Ok(axum::Json(json!({
        "@odata.context": format!("{METADATA}users('{}')/mailboxSettings", user.id),
        "archiveFolder": null,
        "timeZone": "UTC",
        "delegateMeetingMessageDeliveryOptions": "sendToDelegateOnly",
        "dateFormat": "M/d/yyyy",
        "timeFormat": "h:mm tt",
        "userPurpose": user.mailbox.user_purpose(),
        "automaticRepliesSetting": {
            "status": "disabled",
            "externalAudience": "all",
            "internalReplyMessage": "",
            "externalReplyMessage": "",
        },
        "language": {"locale": "en-US", "displayName": "English (United States)"},
        "workingHours": {
            "daysOfWeek": ["monday", "tuesday", "wednesday", "thursday", "friday"],
            "startTime": "08:00:00.0000000",
            "endTime": "17:00:00.0000000",
            "timeZone": {"name": "UTC"},
        },
    }))
    .into_response())
}

/// `GET /users/{id}/mailboxSettings/userPurpose` (user-get-mailboxsettings,
/// example 4): `{"@odata.context": …, "value": "user"}`; mailboxsettings:
/// "user, linked, shared, room, equipment, others, unknownFutureValue".
pub async fn get_user_purpose(
    State(state): State<AppState>,
    caller: GraphCaller,
    Path(id): Path<String>,
) -> Result<Response, GraphError> {
    let user = mailbox_settings_user(&state, &caller, &id)?;
    Ok(axum::Json(json!({
        "@odata.context": format!("{METADATA}users('{}')/mailboxSettings/userPurpose", user.id),
        "value": user.mailbox.user_purpose(),
    }))
    .into_response())
}
