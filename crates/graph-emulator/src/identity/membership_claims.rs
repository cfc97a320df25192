//! What an ID token says of the user's memberships: `groups` (security
//! groups, direct or nested, `groupMembershipClaims: "SecurityGroup"`), or
//! the groups *overage* when there are too many, and `roles` (the app roles
//! of the signed-in app assigned to the user or to a group they are a
//! direct member of, [`super::app_roles`]).
//!
//! Followed: the ID token claims reference
//! (<https://learn.microsoft.com/entra/identity-platform/id-token-claims-reference>,
//! "Groups overage claim"): to keep tokens within HTTP header limits, Entra
//! caps the group object ids in a token at 150 for SAML and 200 for JWTs; a
//! user in more groups gets no `groups` claim but an overage claim telling
//! the app to ask Graph: `_claim_names: {"groups": "src1"}` and
//! `_claim_sources: {"src1": {"endpoint": …}}`, the endpoint being the
//! user's `getMemberObjects` on the (legacy) Azure AD Graph; the app is to
//! ask Microsoft Graph instead ("How to get the signed-in user group list
//! when a group overage claim is displayed",
//! <https://learn.microsoft.com/troubleshoot/entra/entra-id/app-integration/get-signed-in-users-groups-in-access-token>),
//! e.g. `POST /me/checkMemberGroups` ([`crate::directory::member_groups`]).
//! The emulator names its own host in the endpoint, with Azure AD Graph's
//! path, and does not serve it.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use uuid::Uuid;

use super::model::SignedInUser;
use crate::directory::model::MemberRef;
use crate::EmulatorState;

/// The most group ids a JWT carries before the overage replaces them.
pub const JWT_GROUPS_LIMIT: usize = 200;

/// The membership claims of an ID token.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct MembershipClaims {
    /// Object ids of the user's security groups, sorted; absent on overage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub groups: Option<Vec<String>>,
    /// `{"groups": "src1"}` on overage.
    #[serde(
        default,
        rename = "_claim_names",
        skip_serializing_if = "Option::is_none"
    )]
    pub claim_names: Option<Value>,
    /// `{"src1": {"endpoint": "…/getMemberObjects"}}` on overage.
    #[serde(
        default,
        rename = "_claim_sources",
        skip_serializing_if = "Option::is_none"
    )]
    pub claim_sources: Option<Value>,
    /// Values of the app roles of the signed-in app assigned to the user.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub roles: Vec<String>,
}

/// The user's display name and membership claims for `client_id`.
pub fn membership_claims(
    state: &EmulatorState,
    tenant_id: Uuid,
    client_id: &str,
    user: &SignedInUser,
) -> (String, MembershipClaims) {
    let facts = directory_facts(state, tenant_id, user);
    let (name, groups) = (facts.name, facts.security_groups);
    let roles = state.identity.app_roles_of_user(
        tenant_id,
        client_id,
        &user.object_id,
        &facts.direct_groups,
    );
    let mut claims = MembershipClaims {
        roles,
        ..MembershipClaims::default()
    };
    if groups.len() > JWT_GROUPS_LIMIT {
        let endpoint = format!(
            "{}/{tenant_id}/users/{}/getMemberObjects",
            state.base_url(),
            user.object_id
        );
        claims.claim_names = Some(json!({"groups": "src1"}));
        claims.claim_sources = Some(json!({"src1": {"endpoint": endpoint}}));
    } else {
        claims.groups = Some(groups);
    }
    (name, claims)
}

/// What the directory says of the signed-in user.
struct DirectoryFacts {
    name: String,
    /// The security groups they belong to, directly or through nested
    /// groups, sorted: the `groups` claim.
    security_groups: Vec<String>,
    /// Every group they are a direct member of: the groups whose app role
    /// assignments reach them.
    direct_groups: Vec<String>,
}

fn directory_facts(state: &EmulatorState, tenant_id: Uuid, user: &SignedInUser) -> DirectoryFacts {
    let Ok(user_id) = user.object_id.parse::<Uuid>() else {
        return DirectoryFacts {
            name: user.upn.clone(),
            security_groups: Vec::new(),
            direct_groups: Vec::new(),
        };
    };
    state.directory.read(tenant_id, |directory| {
        let name = directory
            .users
            .get(&user_id)
            .map(|found| found.display_name.clone())
            .unwrap_or_else(|| user.upn.clone());
        let mut security_groups: Vec<String> = directory
            .groups
            .values()
            .filter(|group| group.security_enabled)
            .filter(|group| {
                directory
                    .transitive_users(group)
                    .iter()
                    .any(|member| member.id == user_id)
            })
            .map(|group| group.id.to_string())
            .collect();
        security_groups.sort();
        let direct_groups = directory
            .groups
            .values()
            .filter(|group| group.members.contains(&MemberRef::User(user_id)))
            .map(|group| group.id.to_string())
            .collect();
        DirectoryFacts {
            name,
            security_groups,
            direct_groups,
        }
    })
}
