//! Contacts delta: `/v1.0/users/{id}/contactFolders/{fid}/contacts/delta` (and
//! the default folder's `/v1.0/users/{id}/contacts/delta`). A round pages with
//! `@odata.nextLink` and ends with `@odata.deltaLink`; the next round returns
//! contacts created or changed since, and deleted ones as `@removed`.
//!
//! contact-delta (https://learn.microsoft.com/graph/api/contact-delta)
//! documents `$deltatoken`, `$skiptoken`, `$select` and the
//! `Prefer: odata.maxpagesize` header, nothing else: any other query option
//! (`$expand`, `$filter`, `$orderby`, `$top`, `$skip`, `$count`, `$search`,
//! custom ones) is refused with 400, the strictest reading of the page.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::routing::get;
use axum::{Json, Router};
use base64::Engine;
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use super::contacts::projection;
use super::items::DeltaRow;
use super::odata::{parse_query, QueryOptions};
use super::{check_id, item_error, odata_context, open_mailbox, READ_PERMISSIONS};
use crate::auth::GraphCaller;
use crate::errors::GraphError;
use crate::AppState;

/// Rows per delta page unless `Prefer: odata.maxpagesize` asks otherwise.
/// contact-delta states no default; Outlook collections page by 10 when the
/// client does not ask (paging: "different APIs might have different default
/// and maximum page sizes"), so a client that does not send the header reads
/// a folder 10 contacts at a time.
pub const DEFAULT_DELTA_PAGE_SIZE: usize = 10;
/// Largest page a `Prefer: odata.maxpagesize` gets. contact-delta states no
/// maximum; Microsoft's answer to "contact: delta API what limit can we use
/// for odata.maxpagesize" (learn.microsoft.com/answers/a/2052165) gives 200
/// for contacts, capping any larger preference.
pub const MAX_DELTA_PAGE_SIZE: usize = 200;

/// Query options contact-delta documents: the two state tokens and `$select`.
const DOCUMENTED_DELTA_OPTIONS: [&str; 3] = ["select", "deltatoken", "skiptoken"];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/v1.0/users/{id}/contactFolders/{folder_id}/contacts/delta",
            get(folder_delta),
        )
        .route("/v1.0/users/{id}/contacts/delta", get(default_delta))
}

/// State carried in `$skiptoken` / `$deltatoken`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct DeltaState {
    folder: String,
    since: u64,
    until: u64,
    after: u64,
    select: Option<String>,
}

fn encode_state(state: &DeltaState) -> String {
    let json = serde_json::to_vec(state).unwrap_or_default();
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(json)
}

fn decode_state(token: &str) -> Option<DeltaState> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn invalid_sync_state() -> GraphError {
    GraphError::new(
        StatusCode::BAD_REQUEST,
        "ErrorInvalidSyncStateData",
        "The sync state data is corrupted or otherwise invalid.",
    )
}

/// 400 for every query option contact-delta does not document. The error
/// body is Graph's (errors: `{"error":{"code","message","innerError"}}`); the
/// code is the one Exchange sends for change tracking queries it refuses.
fn refuse_undocumented_options(raw_query: Option<&str>) -> Result<(), GraphError> {
    let Some(raw_query) = raw_query else {
        return Ok(());
    };
    let mut refused = Vec::new();
    for (name, _) in url::form_urlencoded::parse(raw_query.as_bytes()) {
        let bare = name.trim_start_matches('$').to_ascii_lowercase();
        if !DOCUMENTED_DELTA_OPTIONS.contains(&bare.as_str()) {
            refused.push(name.into_owned());
        }
    }
    if refused.is_empty() {
        return Ok(());
    }
    Err(GraphError::new(
        StatusCode::BAD_REQUEST,
        "ErrorInvalidUrlQuery",
        format!(
            "The following parameters are not supported with change tracking over the 'Contacts' resource: '{}'.",
            refused.join(", ")
        ),
    ))
}

/// contact-delta: `Prefer: odata.maxpagesize={x}`, optional.
fn page_size(headers: &HeaderMap) -> usize {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .find_map(|preference| {
            preference
                .trim()
                .strip_prefix("odata.maxpagesize=")
                .and_then(|size| size.trim().parse::<usize>().ok())
        })
        .unwrap_or(DEFAULT_DELTA_PAGE_SIZE)
        .clamp(1, MAX_DELTA_PAGE_SIZE)
}

async fn folder_delta(
    State(state): State<AppState>,
    caller: GraphCaller,
    Path((user, folder_id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Json<Value>, GraphError> {
    delta(
        &state,
        &caller,
        &user,
        Some(&folder_id),
        query.as_deref(),
        &headers,
        &uri,
    )
}

async fn default_delta(
    State(state): State<AppState>,
    caller: GraphCaller,
    Path(user): Path<String>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    uri: Uri,
) -> Result<Json<Value>, GraphError> {
    delta(
        &state,
        &caller,
        &user,
        None,
        query.as_deref(),
        &headers,
        &uri,
    )
}

fn delta(
    state: &AppState,
    caller: &GraphCaller,
    user: &str,
    folder: Option<&str>,
    raw_query: Option<&str>,
    headers: &HeaderMap,
    uri: &Uri,
) -> Result<Json<Value>, GraphError> {
    let opened = open_mailbox(state, caller, user, READ_PERMISSIONS)?;
    if let Some(folder_id) = folder {
        check_id(folder_id)?;
    }
    refuse_undocumented_options(raw_query)?;
    let options = parse_query(raw_query)?;
    let mailbox = opened.lock();
    let folder_id = folder.unwrap_or(&mailbox.root_folder_id).to_owned();
    mailbox.folder(&folder_id).map_err(item_error)?;
    let round = match (&options.skiptoken, &options.deltatoken) {
        (Some(token), _) => decode_state(token).ok_or_else(invalid_sync_state)?,
        (None, Some(token)) => {
            let previous = decode_state(token).ok_or_else(invalid_sync_state)?;
            DeltaState {
                since: previous.until,
                until: mailbox.sequence(),
                after: 0,
                ..previous
            }
        }
        (None, None) => first_round(&options, &folder_id, mailbox.sequence()),
    };
    if round.folder != folder_id {
        return Err(invalid_sync_state());
    }
    let round_options = QueryOptions {
        select: round.select.clone(),
        ..QueryOptions::default()
    };
    let projection = projection(&round_options)?;
    let (rows, continue_after) = mailbox
        .delta_rows(
            &folder_id,
            round.since,
            round.until,
            round.after,
            page_size(headers),
        )
        .map_err(item_error)?;
    let mut value = Vec::with_capacity(rows.len());
    for row in rows {
        value.push(match row {
            DeltaRow::Changed(contact) => {
                let mut rendered = contact.to_json(&projection);
                rendered["@odata.type"] = Value::String("#microsoft.graph.contact".to_owned());
                rendered
            }
            DeltaRow::Removed(contact_id) => json!({
                "@odata.type": "#microsoft.graph.contact",
                "id": contact_id,
                "@removed": {"reason": "deleted"},
            }),
        });
    }
    drop(mailbox);
    let link_base = format!("{}{}", state.base_url(), uri.path());
    let mut response = json!({
        "@odata.context": odata_context(state, "Collection(contact)"),
        "value": value,
    });
    match continue_after {
        Some(after) => {
            let next = DeltaState { after, ..round };
            response["@odata.nextLink"] =
                Value::String(format!("{link_base}?$skiptoken={}", encode_state(&next)));
        }
        None => {
            let finished = DeltaState { after: 0, ..round };
            response["@odata.deltaLink"] = Value::String(format!(
                "{link_base}?$deltatoken={}",
                encode_state(&finished)
            ));
        }
    }
    Ok(Json(response))
}

fn first_round(options: &QueryOptions, folder_id: &str, until: u64) -> DeltaState {
    DeltaState {
        folder: folder_id.to_owned(),
        since: 0,
        until,
        after: 0,
        select: options.select.clone(),
    }
}
