//! The administrator's sign-in: a device code for the delegated scopes
//! provisioning (or adopting) needs, and Graph opened with the token. The
//! token stays in memory and goes nowhere else.

use std::sync::Arc;

use base64::Engine;
use galsync_graph::identity::{IdentityClient, IdentityConfig, IdentityError};
use galsync_graph::{AccessToken, GraphClient, GraphClientConfig, StaticTokenSource};
use secrecy::ExposeSecret;

use super::{ProvisionEvent, Reporter};
use crate::broker::Broker;
use crate::error::BrokerError;
use crate::provision_graph::ProvisioningGraph;

/// The delegated permissions of the sign-in, and no more.
pub const ADMIN_SCOPES: [&str; 2] = [
    "Application.ReadWrite.All",
    "AppRoleAssignment.ReadWrite.All",
];

/// Adopting only reads the apps, their service principals and grants.
pub const ADOPT_SCOPES: [&str; 1] = ["Application.Read.All"];

impl Broker {
    /// Signs the administrator in with the scopes adopting or provisioning
    /// needs and opens Graph with their token; also returns who signed in.
    pub(super) async fn admin_graph(
        &self,
        tenant_id: &str,
        login_base_url: &str,
        graph_base_url: &str,
        adopt: bool,
        report: &Reporter<'_>,
    ) -> Result<(ProvisioningGraph, String), BrokerError> {
        let scopes: &[&str] = if adopt { &ADOPT_SCOPES } else { &ADMIN_SCOPES };
        let admin_token = self
            .admin_sign_in(tenant_id, login_base_url, scopes, report)
            .await?;
        let signed_in_as = signed_in_upn(&admin_token);
        report.step(format!("signed in as {signed_in_as}")).await?;
        let graph = GraphClient::new(
            self.http.clone(),
            GraphClientConfig {
                base_url: format!("{graph_base_url}/v1.0"),
                ..GraphClientConfig::default()
            },
            Arc::new(StaticTokenSource::new(admin_token)),
        )
        .map_err(|error| BrokerError::Internal(error.to_string()))?;
        let graph = ProvisioningGraph {
            graph,
            signed_in_as: signed_in_as.clone(),
            repair: !adopt,
        };
        Ok((graph, signed_in_as))
    }

    /// The device code sign-in; the token is returned to the caller's
    /// memory and goes nowhere else.
    async fn admin_sign_in(
        &self,
        tenant_id: &str,
        login_base_url: &str,
        scopes: &[&str],
        report: &Reporter<'_>,
    ) -> Result<AccessToken, BrokerError> {
        let client_id = self.settings.admin_signin_client_id.as_str();
        let mut config = IdentityConfig::new(tenant_id.to_owned());
        config.login_base_url = login_base_url.to_owned();
        let identity = IdentityClient::new(self.http.clone(), config)
            .map_err(|error| BrokerError::Internal(error.to_string()))?;
        let device_code = identity
            .start_device_code_with_scopes(client_id, scopes)
            .await
            .map_err(|error| sign_in_error(client_id, error))?;
        report
            .send(ProvisionEvent::SignIn {
                user_code: device_code.user_code.clone(),
                verification_uri: device_code.verification_uri.clone(),
                message: device_code.message.clone().unwrap_or_default(),
                expires_at: device_code.expires_at,
            })
            .await?;
        let tokens = identity
            .wait_for_device_code(client_id, &device_code)
            .await
            .map_err(|error| sign_in_error(client_id, error))?;
        Ok(tokens.access_token)
    }
}

fn sign_in_error(client_id: &str, error: IdentityError) -> BrokerError {
    match error {
        IdentityError::DeviceCodeExpired => BrokerError::FailedPrecondition(
            "the sign-in code expired before the administrator signed in; run provision again"
                .to_owned(),
        ),
        IdentityError::DeviceCodeDeclined => BrokerError::PermissionDenied(
            "the administrator declined the sign-in; nothing was changed".to_owned(),
        ),
        other => BrokerError::Credential(format!(
            "the administrator's sign-in with client {client_id} failed: {other} (if your \
             organisation blocks Microsoft Graph Command Line Tools, start the broker with \
             --admin-signin-client-id set to your own public client app)"
        )),
    }
}

/// The signed-in user's UPN from the token's payload (read unverified, for
/// the audit log and the screen; Graph verifies the token itself).
fn signed_in_upn(token: &AccessToken) -> String {
    let claims = token
        .value
        .expose_secret()
        .split('.')
        .nth(1)
        .and_then(|payload| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(payload.trim_end_matches('='))
                .ok()
        })
        .and_then(|bytes| serde_json::from_slice::<serde_json::Value>(&bytes).ok())
        .unwrap_or_default();
    for claim in ["upn", "preferred_username", "unique_name", "oid"] {
        if let Some(text) = claims[claim].as_str() {
            return text.to_owned();
        }
    }
    "an unknown administrator".to_owned()
}
