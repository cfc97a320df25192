//! Directory admin API for groups and delta tokens: create groups, add and
//! remove members, list groups as stored, expire every delta token of a tenant,
//! arm delta's occasional events.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::AppState;

use super::{tenant_id, AdminResult, TENANT};
use crate::directory::model::{Group, MemberRef};
use crate::directory::store::DeltaEvent;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            &format!("{TENANT}/groups"),
            get(list_groups).post(create_group),
        )
        .route(&format!("{TENANT}/groups/{{id}}/members"), post(add_member))
        .route(
            &format!("{TENANT}/groups/{{id}}/members/{{member_id}}"),
            axum::routing::delete(remove_member),
        )
        .route(&format!("{TENANT}/delta/expire"), post(expire_delta))
        .route(&format!("{TENANT}/delta/events"), post(arm_delta_events))
}

fn group_view(group: &Group) -> Value {
    json!({
        "id": group.id,
        "displayName": group.display_name,
        "mail": group.mail,
        "members": group.members,
    })
}

async fn list_groups(State(state): State<AppState>, Path(tenant): Path<String>) -> AdminResult {
    let tenant_id = tenant_id(&state, &tenant)?;
    let groups: Vec<Value> = state
        .directory
        .list_groups(tenant_id)
        .iter()
        .map(|group| group_view(group))
        .collect();
    Ok(Json(json!({"count": groups.len(), "groups": groups})).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct NewGroup {
    display_name: String,
    description: Option<String>,
    mail: Option<String>,
    #[serde(default)]
    members: Vec<MemberRef>,
}

async fn create_group(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    Json(body): Json<NewGroup>,
) -> AdminResult {
    let tenant_id = tenant_id(&state, &tenant)?;
    let mut group = Group::new_security(&body.display_name);
    group.description = body.description;
    group.mail_enabled = body.mail.is_some();
    group.mail = body.mail;
    let group_id = state.directory.create_group(tenant_id, group)?;
    for member in body.members {
        state
            .directory
            .add_group_member(tenant_id, group_id, member)?;
    }
    let created = state.directory.read(tenant_id, |directory| {
        directory.groups.get(&group_id).cloned()
    });
    let view = created
        .map(|group| group_view(&group))
        .unwrap_or_else(|| json!({"id": group_id}));
    Ok((StatusCode::CREATED, Json(view)).into_response())
}

async fn add_member(
    State(state): State<AppState>,
    Path((tenant, id)): Path<(String, Uuid)>,
    Json(member): Json<MemberRef>,
) -> AdminResult {
    let tenant_id = tenant_id(&state, &tenant)?;
    state.directory.add_group_member(tenant_id, id, member)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn remove_member(
    State(state): State<AppState>,
    Path((tenant, id, member_id)): Path<(String, Uuid, Uuid)>,
) -> AdminResult {
    let tenant_id = tenant_id(&state, &tenant)?;
    state
        .directory
        .remove_group_member(tenant_id, id, member_id)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn expire_delta(State(state): State<AppState>, Path(tenant): Path<String>) -> AdminResult {
    let tenant_id = tenant_id(&state, &tenant)?;
    state.directory.expire_delta_tokens(tenant_id);
    Ok(Json(json!({"expired": true})).into_response())
}

/// `{"empty_openings": n, "gone": n}`: the next n delta rounds open with an
/// empty page; the next n deltaLink requests get `410 Gone`.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct DeltaEvents {
    empty_openings: u32,
    gone: u32,
}

async fn arm_delta_events(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    Json(events): Json<DeltaEvents>,
) -> AdminResult {
    let tenant_id = tenant_id(&state, &tenant)?;
    let directory = &state.directory;
    directory.arm_delta_event(tenant_id, DeltaEvent::EmptyOpening, events.empty_openings);
    directory.arm_delta_event(tenant_id, DeltaEvent::Gone, events.gone);
    Ok(Json(json!({"empty_openings": events.empty_openings, "gone": events.gone})).into_response())
}
