//! `POST /me/checkMemberGroups`: which of up to 20 given groups the signed-in
//! user belongs to, directly or through nested groups. An app finds a user's
//! role groups this way when the ID token carries the groups *overage*
//! (`_claim_names`/`_claim_sources` instead of `groups`, see
//! `identity::authorize`).
//!
//! Followed: "user: checkMemberGroups"
//! (<https://learn.microsoft.com/graph/api/user-checkmembergroups>): "You can
//! check up to a maximum of 20 groups per request", the function is
//! transitive and supports every group in Entra ID; for the signed-in user a
//! delegated token needs `User.Read` (or `User.ReadBasic.All`/`User.Read.All`
//! with `GroupMember.Read.All`/`Group.Read.All`, or `Directory.Read.All`), and
//! application permissions are "Not supported" on `/me`. The answer is
//! `{"value": [ids]}`, a collection of strings.

use axum::body::Bytes;
use axum::extract::State;
use axum::Json;
use serde::Deserialize;
use serde_json::{json, Value};
use uuid::Uuid;

use crate::auth::GraphCaller;
use crate::errors::GraphError;
use crate::AppState;

/// The most group ids one request may check (the page's limit).
pub const MAX_GROUP_IDS: usize = 20;

/// Any one of these delegated permissions lets a user check their own groups.
const SINGLE_PERMISSIONS: [&str; 5] = [
    "User.Read",
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CheckMemberGroups {
    group_ids: Option<Vec<String>>,
}

/// `POST /v1.0/me/checkMemberGroups`.
pub async fn check_my_member_groups(
    State(state): State<AppState>,
    caller: GraphCaller,
    body: Bytes,
) -> Result<Json<Value>, GraphError> {
    if caller.claims.idtyp != "user" {
        // What Graph answers an app-only token on /me.
        return Err(GraphError::new(
            axum::http::StatusCode::BAD_REQUEST,
            "BadRequest",
            "/me request is only valid with delegated authentication flow.",
        ));
    }
    let claims = &caller.claims;
    let pair = claims.has_any(&["User.ReadBasic.All", "User.Read.All"])
        && claims.has_any(&["GroupMember.Read.All", "Group.Read.All"]);
    if !claims.has_any(&SINGLE_PERMISSIONS) && !pair {
        return Err(GraphError::authorization_denied());
    }
    let request: CheckMemberGroups = serde_json::from_slice(&body).map_err(|error| {
        request_bad(format!(
            "Invalid request body for action 'checkMemberGroups': {error}"
        ))
    })?;
    let Some(group_ids) = request.group_ids else {
        return Err(request_bad(
            "The parameter 'groupIds' is required for action 'checkMemberGroups'.",
        ));
    };
    if group_ids.len() > MAX_GROUP_IDS {
        return Err(request_bad(format!(
            "checkMemberGroups takes at most {MAX_GROUP_IDS} group ids; {} were given.",
            group_ids.len()
        )));
    }
    let mut wanted = Vec::new();
    for id in &group_ids {
        let Ok(parsed) = id.trim().parse::<Uuid>() else {
            return Err(request_bad(format!("Invalid object identifier '{id}'.")));
        };
        wanted.push((id.clone(), parsed));
    }
    let Ok(user_id) = claims.oid.parse::<Uuid>() else {
        return Err(GraphError::not_found(format!(
            "Resource '{}' does not exist or one of its queried reference-property objects are not present.",
            claims.oid
        )));
    };
    let member_of: Vec<String> = state.directory.read(caller.tenant_id, |directory| {
        wanted
            .iter()
            .filter(|(_, group_id)| {
                directory.groups.get(group_id).is_some_and(|group| {
                    directory
                        .transitive_users(group)
                        .iter()
                        .any(|member| member.id == user_id)
                })
            })
            .map(|(given, _)| given.clone())
            .collect()
    });
    Ok(Json(json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#Collection(Edm.String)",
        "value": member_of,
    })))
}

fn request_bad(message: impl Into<String>) -> GraphError {
    GraphError::new(
        axum::http::StatusCode::BAD_REQUEST,
        "Request_BadRequest",
        message,
    )
}
