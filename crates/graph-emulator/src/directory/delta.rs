//! `GET /v1.0/users/delta`. The initial round pages through the current users
//! (nextLink with `$skiptoken`) and ends with an `@odata.deltaLink`; a deltaLink
//! round returns the users changed since (see `delta_round` for what an entry
//! holds, and the repeats and replays Graph documents); soft- and hard-deleted
//! users as `{"id", "@removed": {"reason": "changed"|"deleted"}}`.
//! Links carry only the sealed token: `$select` and `$filter` of the first
//! request live inside it, as with Graph. Tokens die after 7 days, when the
//! tenant's delta generation is bumped (admin), or when altered: 400
//! `syncStateNotFound`. `$filter` accepts only `id eq '…'` terms joined by
//! `or`; `$expand`, `$top`, `$orderby` and `$search` are refused. Admin-armed
//! occasional events: a round opening with an empty page, and `410 Gone` with
//! a `Location` to restart from.

use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

use crate::auth::GraphCaller;
use crate::errors::GraphError;
use crate::odata_filter::expression::{parse, unsupported_query, CompareOp, Expr, Literal};
use crate::AppState;

use super::delta_round::{collect_page, Phase, RoundQuery};
use super::http::{authorize, METADATA, USER_READ};
use super::properties::SelectedUserProperty;
use super::query::{parse_user_select, request_bad_request, GraphQuery};
use super::store::DeltaEvent;

/// How long a delta token stays valid (Entra: 7 days).
const TOKEN_LIFETIME_SECS: i64 = 7 * 24 * 3600;
const DEFAULT_DELTA_PAGE_SIZE: usize = 100;
/// Most users one delta page holds, whatever `Prefer: odata.maxpagesize`
/// asks: user-delta documents no larger page, and Microsoft's answer on
/// Q&A ("contact: delta API what limit can we use for odata.maxpagesize",
/// <https://learn.microsoft.com/answers/questions/2276060>) gives 200 for
/// objects such as users, capped even when more is asked. The strictest
/// reading: never more than 200, and 100 unless asked.
pub const MAX_DELTA_PAGE_SIZE: usize = 200;
const MAX_FILTER_IDS: usize = 50;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct DeltaState {
    tenant: Uuid,
    generation: u64,
    issued: i64,
    select: Option<String>,
    filter_ids: Option<Vec<Uuid>>,
    select_manager: bool,
    page_size: usize,
    phase: Phase,
}

fn sync_state_not_found() -> GraphError {
    GraphError::new(
        StatusCode::BAD_REQUEST,
        "syncStateNotFound",
        "The sync state generation is not found. The delta token is expired and data must be synchronized again.",
    )
}

/// `$filter` on users/delta: only `id eq '…'` joined with `or`.
fn filter_ids(filter: &str) -> Result<Vec<Uuid>, GraphError> {
    fn collect(expression: &Expr<String>, ids: &mut Vec<Uuid>) -> Result<(), GraphError> {
        match expression {
            Expr::Or(left, right) => {
                collect(left, ids)?;
                collect(right, ids)
            }
            Expr::Compare(path, CompareOp::Eq, Literal::Text(value)) if path == "id" => {
                let id = value.parse::<Uuid>().map_err(|_| {
                    request_bad_request(format!("Invalid object identifier '{value}'."))
                })?;
                ids.push(id);
                Ok(())
            }
            Expr::Compare(path, ..)
            | Expr::In(path, _)
            | Expr::StartsWith(path, _)
            | Expr::EndsWith(path, _) => Err(unsupported_query(path, "User")),
            Expr::And(..) | Expr::Not(_) => Err(unsupported_query("id", "User")),
        }
    }
    let mut ids = Vec::new();
    collect(&parse(filter)?, &mut ids)?;
    if ids.len() > MAX_FILTER_IDS {
        return Err(unsupported_query("id", "User"));
    }
    Ok(ids)
}

/// user-delta documents `$select` and an id-only `$filter`; `$expand`, `$top`
/// and `$orderby` (delta-query-overview, user-delta) are refused the way Graph
/// answers an unsupported delta query.
fn reject_unsupported_on_delta(query: &GraphQuery) -> Result<(), GraphError> {
    query.reject_unsupported()?;
    if query.expand.is_some() || query.top.is_some() || query.orderby.is_some() {
        return Err(GraphError::new(
            StatusCode::BAD_REQUEST,
            "Request_UnsupportedQuery",
            "Unsupported Query.",
        ));
    }
    Ok(())
}

/// A delta `$select`: the user properties, and whether the `manager`
/// navigation property was named (delta-query-users: `$select=…,manager`
/// tracks the manager through `manager@delta`).
fn parse_delta_select(
    select: Option<&str>,
) -> Result<(Option<Vec<SelectedUserProperty>>, bool), GraphError> {
    let Some(select) = select else {
        return Ok((None, false));
    };
    let mut select_manager = false;
    let mut properties = Vec::new();
    for name in select.split(',').map(str::trim) {
        if name.eq_ignore_ascii_case("manager") {
            select_manager = true;
        } else {
            properties.push(name);
        }
    }
    if properties.is_empty() {
        return Ok((Some(Vec::new()), select_manager));
    }
    let selection = parse_user_select(Some(&properties.join(",")))?;
    Ok((selection, select_manager))
}

fn page_size(headers: &HeaderMap) -> usize {
    let preferred = headers
        .get_all("prefer")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .find_map(|preference| preference.trim().strip_prefix("odata.maxpagesize="))
        .and_then(|size| size.trim().parse::<usize>().ok());
    match preferred {
        Some(size) => size.clamp(1, MAX_DELTA_PAGE_SIZE),
        None => DEFAULT_DELTA_PAGE_SIZE,
    }
}

fn wants_minimal(headers: &HeaderMap) -> bool {
    headers
        .get_all("prefer")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|preference| preference.trim().eq_ignore_ascii_case("return=minimal"))
}

/// Resumes a client's token, or 400 `syncStateNotFound`.
fn open_token(
    state: &AppState,
    caller: &GraphCaller,
    token: &str,
) -> Result<DeltaState, GraphError> {
    let Some(delta) = state.directory.seal.open::<DeltaState>(token) else {
        return Err(sync_state_not_found());
    };
    let generation = state
        .directory
        .read(caller.tenant_id, |directory| directory.delta_generation);
    let age = state.clock.unix_now() - delta.issued;
    // delta-query-overview: directory delta tokens are valid for 7 days.
    if delta.tenant != caller.tenant_id
        || delta.generation != generation
        || age > TOKEN_LIFETIME_SECS
    {
        return Err(sync_state_not_found());
    }
    Ok(delta)
}

fn new_state(
    state: &AppState,
    caller: &GraphCaller,
    query: &GraphQuery,
    headers: &HeaderMap,
) -> Result<DeltaState, GraphError> {
    let (_, select_manager) = parse_delta_select(query.select.as_deref())?;
    let ids = match &query.filter {
        Some(filter) => Some(filter_ids(filter)?),
        None => None,
    };
    let (generation, head) = state.directory.read(caller.tenant_id, |directory| {
        (directory.delta_generation, directory.head())
    });
    Ok(DeltaState {
        tenant: caller.tenant_id,
        generation,
        issued: state.clock.unix_now(),
        select: query.select.clone(),
        filter_ids: ids,
        select_manager,
        page_size: page_size(headers),
        phase: Phase::Initial {
            start: head,
            after: None,
            repeated: false,
        },
    })
}

/// delta-query-overview: "410 Gone … with a Location header" — the client
/// must restart with a full synchronization from that URL. The body's code is
/// not documented; clients key on the status.
fn gone(state: &AppState, delta: &DeltaState) -> Response {
    let mut location = format!("{}/v1.0/users/delta", state.base_url());
    if let Some(select) = &delta.select {
        location.push_str("?$select=");
        location.push_str(select);
    }
    let error = GraphError::new(
        StatusCode::GONE,
        "resyncRequired",
        "The delta token is no longer valid. Restart with a full synchronization.",
    );
    let mut response = error.into_response();
    if let Ok(value) = HeaderValue::from_str(&location) {
        response.headers_mut().insert(header::LOCATION, value);
    }
    response
}

pub async fn users_delta(
    State(state): State<AppState>,
    caller: GraphCaller,
    headers: HeaderMap,
    RawQuery(raw_query): RawQuery,
) -> Result<Response, GraphError> {
    authorize(&state, &caller, USER_READ)?;
    let query = GraphQuery::parse(raw_query.as_deref())?;
    reject_unsupported_on_delta(&query)?;
    let tenant_id = caller.tenant_id;
    let mut delta = match (&query.skiptoken, &query.deltatoken) {
        (Some(_), Some(_)) => return Err(sync_state_not_found()),
        (None, Some(token)) if token == "latest" => {
            let mut fresh = new_state(&state, &caller, &query, &headers)?;
            let Phase::Initial { start, .. } = fresh.phase else {
                return Err(sync_state_not_found());
            };
            fresh.phase = Phase::Link {
                position: start,
                replay_from: start,
            };
            return Ok(respond(&state, &fresh, Vec::new(), false, false));
        }
        (Some(token), None) => {
            let opened = open_token(&state, &caller, token)?;
            if matches!(opened.phase, Phase::Link { .. }) {
                return Err(sync_state_not_found());
            }
            opened
        }
        (None, Some(token)) => {
            let opened = open_token(&state, &caller, token)?;
            let Phase::Link {
                position,
                replay_from,
            } = opened.phase
            else {
                return Err(sync_state_not_found());
            };
            if state
                .directory
                .take_delta_event(tenant_id, DeltaEvent::Gone)
            {
                return Ok(gone(&state, &opened));
            }
            let head = state.directory.change_log_head(tenant_id);
            DeltaState {
                phase: Phase::Changes {
                    from: replay_from,
                    since: position,
                    to: head,
                    offset: 0,
                },
                ..opened
            }
        }
        (None, None) => new_state(&state, &caller, &query, &headers)?,
    };
    let minimal = wants_minimal(&headers);
    let round_opens = query.skiptoken.is_none();
    // delta-query-overview: a nextLink means more pages "even if the current
    // response contains an empty result" — an occasional round opens that way.
    if round_opens
        && state
            .directory
            .take_delta_event(tenant_id, DeltaEvent::EmptyOpening)
    {
        delta.issued = state.clock.unix_now();
        return Ok(respond(&state, &delta, Vec::new(), true, minimal));
    }
    let (selection, _) = parse_delta_select(delta.select.as_deref())?;
    let round_query = RoundQuery {
        filter_ids: delta.filter_ids.as_deref(),
        selection: selection.as_deref(),
        select_manager: delta.select_manager,
        page_size: delta.page_size,
    };
    let (items, next_phase) = state.directory.read(tenant_id, |directory| {
        collect_page(directory, &round_query, &delta.phase)
    });
    delta.issued = state.clock.unix_now();
    let has_more = !matches!(next_phase, Phase::Link { .. });
    delta.phase = next_phase;
    Ok(respond(&state, &delta, items, has_more, minimal))
}

fn respond(
    state: &AppState,
    delta: &DeltaState,
    items: Vec<Value>,
    has_more: bool,
    minimal: bool,
) -> Response {
    let token = state.directory.seal.seal(delta);
    let base = format!("{}/v1.0/users/delta", state.base_url());
    let context = match &delta.select {
        Some(list) => format!("{METADATA}users({list})"),
        None => format!("{METADATA}users"),
    };
    let mut body = Map::new();
    body.insert("@odata.context".to_owned(), Value::String(context));
    if has_more {
        body.insert(
            "@odata.nextLink".to_owned(),
            Value::String(format!("{base}?$skiptoken={token}")),
        );
    } else {
        body.insert(
            "@odata.deltaLink".to_owned(),
            Value::String(format!("{base}?$deltatoken={token}")),
        );
    }
    body.insert("value".to_owned(), Value::Array(items));
    let mut response = axum::Json(Value::Object(body)).into_response();
    if minimal {
        response.headers_mut().insert(
            "preference-applied",
            HeaderValue::from_static("return=minimal"),
        );
    }
    response
}
