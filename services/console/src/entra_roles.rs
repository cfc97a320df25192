//! The console role of a person Microsoft signed in: the highest role of
//! their mapped app roles (the ID token's `roles`, `--role-app-role`) and of
//! their mapped groups (`--role-group`). The groups come from the ID token's
//! `groups` or, when the person is in more groups than fit in a token (the
//! overage: `_claim_names` instead of `groups`), from Microsoft Graph: `POST
//! /me/checkMemberGroups` with the delegated `User.Read` token that came
//! with the sign-in, asked about the mapped groups only, at most 20 ids a
//! call.
//!
//! Followed: <https://learn.microsoft.com/entra/identity-platform/id-token-claims-reference>
//! ("Groups overage claim"),
//! <https://learn.microsoft.com/troubleshoot/entra/entra-id/app-integration/get-signed-in-users-groups-in-access-token>,
//! <https://learn.microsoft.com/graph/api/user-checkmembergroups> ("You can
//! check up to a maximum of 20 groups per request"; `User.Read` for the
//! signed-in user).

use secrecy::ExposeSecret;
use serde::Deserialize;

use crate::entra::{Entra, SignInFailure, SignedIn};
use crate::session::Role;

/// The most group ids one `checkMemberGroups` call may carry.
pub const MAX_GROUP_IDS_PER_CALL: usize = 20;

/// What `checkMemberGroups` answers: the ids, of those asked, the person is in.
#[derive(Deserialize)]
struct MemberGroups {
    value: Vec<String>,
}

#[derive(Deserialize, Default)]
struct GraphErrorBody {
    #[serde(default)]
    error: GraphError,
}

#[derive(Deserialize, Default)]
struct GraphError {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

impl Entra {
    /// The person's console role; None when no mapped app role or group is theirs.
    pub async fn role_of(&self, signed_in: &SignedIn) -> Result<Option<Role>, SignInFailure> {
        let claims = &signed_in.claims;
        let by_app_role = self.role_groups.role_of_app_roles(&claims.roles);
        if by_app_role == Some(Role::Admin) {
            return Ok(by_app_role);
        }
        let by_group = if claims.groups_overage() {
            let groups = self.mapped_groups_from_graph(signed_in).await?;
            self.role_groups.role_of(&groups)
        } else {
            self.role_groups.role_of(&claims.groups)
        };
        Ok(by_app_role.max(by_group))
    }

    /// Which of the mapped groups the person is in, as Microsoft Graph says.
    async fn mapped_groups_from_graph(
        &self,
        signed_in: &SignedIn,
    ) -> Result<Vec<String>, SignInFailure> {
        let group_ids = self.role_groups.group_ids();
        if group_ids.is_empty() {
            return Ok(Vec::new());
        }
        let Some(token) = &signed_in.graph_token else {
            return Err(SignInFailure::Groups(
                "you are in more groups than fit in Microsoft's ID token, and no Microsoft Graph token came with the sign-in to ask which of the console's groups you are in; the console's administrator gives its app registration the delegated Microsoft Graph permission User.Read".to_owned(),
            ));
        };
        let url = format!("{}/v1.0/me/checkMemberGroups", self.graph_url);
        let mut member_of = Vec::new();
        for chunk in group_ids.chunks(MAX_GROUP_IDS_PER_CALL) {
            let unreachable = |error: reqwest::Error| SignInFailure::Unreachable {
                url: url.clone(),
                problem: error.to_string(),
            };
            let response = self
                .http
                .post(&url)
                .bearer_auth(token.expose_secret())
                .json(&serde_json::json!({ "groupIds": chunk }))
                .send()
                .await
                .map_err(unreachable)?;
            let status = response.status();
            if !status.is_success() {
                let body: GraphErrorBody = response.json().await.unwrap_or_default();
                tracing::warn!(%status, code = %body.error.code, "microsoft graph refused checkMemberGroups");
                return Err(SignInFailure::Groups(format!(
                    "you are in more groups than fit in Microsoft's ID token, and Microsoft Graph refused to say which of the console's groups you are in (checkMemberGroups: HTTP {status} {}: {}); the console's app registration needs the delegated Microsoft Graph permission User.Read, consented",
                    body.error.code, body.error.message
                )));
            }
            let answer: MemberGroups = response.json().await.map_err(unreachable)?;
            member_of.extend(answer.value);
        }
        Ok(member_of)
    }
}
