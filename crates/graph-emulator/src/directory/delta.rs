//! `GET /v1.0/users/delta`. The initial round pages through the current users
//! (nextLink with `$skiptoken`) and ends with an `@odata.deltaLink`; a deltaLink
//! round returns each user changed since, once: its selected properties
//! (default), or only the changed ones with `Prefer: return=minimal`; soft- and
//! hard-deleted users as `{"id", "@removed": {"reason": "changed"|"deleted"}}`.
//! Links carry only the sealed token: `$select`, `$filter` and `$expand` of the
//! first request live inside it, as with Graph. Tokens die after 7 days, when
//! the tenant's delta generation is bumped (admin), or when altered: 400
//! `syncStateNotFound`. `$filter` accepts only `id eq '…'` terms joined by `or`.

use std::ops::Bound;

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};
use uuid::Uuid;

use crate::auth::GraphCaller;
use crate::errors::GraphError;
use crate::AppState;

use super::filter::{parse, unsupported_query, CompareOp, Expr, Literal};
use super::http::{authorize, METADATA, USER_READ};
use super::model::User;
use super::properties::{render_user, SelectedUserProperty, UserField, DEFAULT_USER_SELECT};
use super::query::{parse_manager_expand, parse_user_select, request_bad_request, GraphQuery};
use super::store::{NetChange, TenantDirectory};

/// How long a delta token stays valid (Entra: 7 days).
const TOKEN_LIFETIME_SECS: i64 = 7 * 24 * 3600;
const DEFAULT_DELTA_PAGE_SIZE: usize = 100;
const MAX_FILTER_IDS: usize = 50;

#[derive(Debug, Clone, Serialize, Deserialize)]
enum Phase {
    /// Initial round: users after `after` in id order; the next round starts at `start`.
    Initial { start: u64, after: Option<Uuid> },
    /// A round of the changes in `(from, to]`, `offset` of them already sent.
    Changes { from: u64, to: u64, offset: usize },
    /// A deltaLink: the next round reports changes after `position`.
    Link { position: u64 },
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct DeltaState {
    tenant: Uuid,
    generation: u64,
    issued: i64,
    select: Option<String>,
    filter_ids: Option<Vec<Uuid>>,
    expand_manager: bool,
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

fn page_size(query: &GraphQuery, headers: &HeaderMap) -> Result<usize, GraphError> {
    let preferred = headers
        .get_all("prefer")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .find_map(|preference| preference.trim().strip_prefix("odata.maxpagesize="))
        .and_then(|size| size.trim().parse::<usize>().ok());
    if let Some(size) = preferred {
        return Ok(size.clamp(1, super::query::MAX_PAGE_SIZE));
    }
    if query.top.is_some() {
        return query.page_size();
    }
    Ok(DEFAULT_DELTA_PAGE_SIZE)
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
    parse_user_select(query.select.as_deref())?;
    let expand = parse_manager_expand(query.expand.as_deref())?;
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
        expand_manager: expand.is_some(),
        page_size: page_size(query, headers)?,
        phase: Phase::Initial {
            start: head,
            after: None,
        },
    })
}

pub async fn users_delta(
    State(state): State<AppState>,
    caller: GraphCaller,
    headers: HeaderMap,
    RawQuery(raw_query): RawQuery,
) -> Result<Response, GraphError> {
    authorize(&state, &caller, USER_READ)?;
    let query = GraphQuery::parse(raw_query.as_deref())?;
    query.reject_unsupported()?;
    let mut delta = match (&query.skiptoken, &query.deltatoken) {
        (Some(_), Some(_)) => return Err(sync_state_not_found()),
        (None, Some(token)) if token == "latest" => {
            let mut fresh = new_state(&state, &caller, &query, &headers)?;
            let Phase::Initial { start, .. } = fresh.phase else {
                return Err(sync_state_not_found());
            };
            fresh.phase = Phase::Link { position: start };
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
            let Phase::Link { position } = opened.phase else {
                return Err(sync_state_not_found());
            };
            let head = state.directory.change_log_head(caller.tenant_id);
            DeltaState {
                phase: Phase::Changes {
                    from: position,
                    to: head,
                    offset: 0,
                },
                ..opened
            }
        }
        (None, None) => new_state(&state, &caller, &query, &headers)?,
    };
    let selection = parse_user_select(delta.select.as_deref())?;
    let minimal = wants_minimal(&headers);
    let (items, next_phase) = state.directory.read(caller.tenant_id, |directory| {
        collect_page(directory, &delta, selection.as_deref(), minimal)
    });
    delta.issued = state.clock.unix_now();
    let has_more = !matches!(next_phase, Phase::Link { .. });
    delta.phase = next_phase;
    Ok(respond(&state, &delta, items, has_more, minimal))
}

fn wanted(delta: &DeltaState, id: &Uuid) -> bool {
    delta.filter_ids.as_ref().is_none_or(|ids| ids.contains(id))
}

/// One page of items and the phase the next link continues with.
fn collect_page(
    directory: &TenantDirectory,
    delta: &DeltaState,
    selection: Option<&[SelectedUserProperty]>,
    minimal: bool,
) -> (Vec<Value>, Phase) {
    let mut items = Vec::new();
    match &delta.phase {
        Phase::Initial { start, after } => {
            let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
            let mut last = None;
            let mut has_more = false;
            for (id, user) in directory.users.range((lower, Bound::Unbounded)) {
                if !wanted(delta, id) {
                    continue;
                }
                if items.len() == delta.page_size {
                    has_more = true;
                    break;
                }
                items.push(render_changed(
                    user,
                    selection,
                    u64::MAX,
                    delta.expand_manager,
                    false,
                ));
                last = Some(*id);
            }
            let next = if has_more {
                Phase::Initial {
                    start: *start,
                    after: last,
                }
            } else {
                Phase::Link { position: *start }
            };
            (items, next)
        }
        Phase::Changes { from, to, offset } => {
            let changes: Vec<NetChange> = directory
                .net_changes(*from, *to)
                .into_iter()
                .filter(|change| wanted(delta, &change.user))
                .collect();
            for change in changes.iter().skip(*offset).take(delta.page_size) {
                items.push(render_net_change(
                    directory,
                    change,
                    selection,
                    delta.expand_manager,
                    minimal,
                ));
            }
            let sent = offset + items.len();
            let next = if sent < changes.len() {
                Phase::Changes {
                    from: *from,
                    to: *to,
                    offset: sent,
                }
            } else {
                Phase::Link { position: *to }
            };
            (items, next)
        }
        Phase::Link { position } => (
            items,
            Phase::Link {
                position: *position,
            },
        ),
    }
}

fn render_net_change(
    directory: &TenantDirectory,
    change: &NetChange,
    selection: Option<&[SelectedUserProperty]>,
    expand_manager: bool,
    minimal: bool,
) -> Value {
    if let Some(user) = directory.users.get(&change.user) {
        return render_changed(user, selection, change.fields, expand_manager, minimal);
    }
    let reason = if directory.deleted.contains_key(&change.user) {
        "changed"
    } else {
        "deleted"
    };
    json!({"id": change.user.to_string(), "@removed": {"reason": reason}})
}

/// A user as delta shows it: `id` always; selected properties (only the
/// changed ones when `minimal`); `manager@delta` when expanded and changed.
fn render_changed(
    user: &User,
    selection: Option<&[SelectedUserProperty]>,
    changed: u64,
    expand_manager: bool,
    minimal: bool,
) -> Value {
    let mut object: Map<String, Value> = if minimal {
        let owned: Vec<SelectedUserProperty> = match selection {
            Some(list) => list.to_vec(),
            None => DEFAULT_USER_SELECT
                .iter()
                .map(|field| SelectedUserProperty::Field(*field))
                .collect(),
        };
        let changed_only: Vec<SelectedUserProperty> = owned
            .into_iter()
            .filter(|property| matches!(property, SelectedUserProperty::Field(field) if changed & field.bit() != 0))
            .collect();
        render_user(user, Some(&changed_only))
    } else {
        render_user(user, selection)
    };
    object.insert("id".to_owned(), Value::String(user.id.to_string()));
    if expand_manager && changed & UserField::Manager.bit() != 0 {
        let managers = match user.manager_id {
            Some(manager) => {
                json!([{"@odata.type": "#microsoft.graph.user", "id": manager.to_string()}])
            }
            None => json!([]),
        };
        object.insert("manager@delta".to_owned(), managers);
    }
    Value::Object(object)
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
