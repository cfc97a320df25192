//! Apps still stored in consent-token mode, which galsync no longer has.
//!
//! A delegated token acts as the signed-in account: Microsoft Graph lets it
//! reach only the contacts that account can reach, so the mode could never
//! keep the directory in every target mailbox. Migration 0003 deleted the
//! mode's credentials (sealed refresh tokens, device-code sign-ins) but kept
//! the apps' rows, so the tenant stays registered and the broker can say
//! what to do: a token request or Test Connection for such an app is refused
//! with the reason and the commands that register the app again in
//! certificate mode.

use crate::auth_mode::AuthMode;
use crate::broker::{Broker, BrokerSettings};
use crate::error::BrokerError;
use crate::policy::Purpose;
use crate::store::{AppRow, TenantRow};

/// Why an app in the removed mode gets no token, and how to fix it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemovedModeRefusal {
    pub reason: String,
    pub fix: String,
}

impl RemovedModeRefusal {
    /// The reason and the fix in one message, for a token request's status.
    pub fn message(&self) -> String {
        format!("{}; to fix it, {}", self.reason, self.fix)
    }

    pub fn into_error(self) -> BrokerError {
        BrokerError::FailedPrecondition(self.message())
    }
}

impl Broker {
    /// The refusal for `app` when it is in the removed consent-token mode.
    pub(crate) async fn removed_mode_refusal(
        &self,
        tenant: &TenantRow,
        app: &AppRow,
    ) -> Result<Option<RemovedModeRefusal>, BrokerError> {
        if app.auth_mode != AuthMode::ConsentToken {
            return Ok(None);
        }
        let apps = self.store.list_apps(&tenant.tenant_id).await?;
        Ok(Some(refusal(&self.settings, tenant, &apps, app)))
    }
}

/// The refusal for `app` of `tenant`, whose apps are `apps`: the fix is the
/// `galsync tenant add` command that registers the same app registration(s)
/// again, in certificate mode, with the tenant's name and hosts.
pub fn refusal(
    settings: &BrokerSettings,
    tenant: &TenantRow,
    apps: &[AppRow],
    app: &AppRow,
) -> RemovedModeRefusal {
    let reason = format!(
        "app {} is in consent-token mode, which galsync no longer supports: a delegated token \
         reaches only the signed-in account's own contacts, never every target mailbox, and its \
         stored sign-in was deleted",
        app.client_id
    );
    let tenant_id = &tenant.tenant_id;
    let mut add = format!(
        "galsync tenant add --tenant-id {tenant_id} --name \"{}\"",
        tenant.display_name.replace('"', "\\\"")
    );
    let serving = |purpose: Purpose| {
        apps.iter().find(|candidate| {
            candidate
                .purposes
                .split(',')
                .any(|text| Purpose::parse(text) == Some(purpose))
        })
    };
    let reader = serving(Purpose::Directory);
    let writer = serving(Purpose::Contacts);
    match (reader, writer) {
        (Some(reader), Some(writer)) if reader.client_id != writer.client_id => {
            add.push_str(&format!(
                " --client-id {} --write-client-id {}",
                reader.client_id, writer.client_id
            ));
        }
        _ => add.push_str(&format!(" --client-id {}", app.client_id)),
    }
    add.push_str(" --auth certificate");
    if tenant.login_base_url != settings.default_login_base_url {
        add.push_str(&format!(" --login-url {}", tenant.login_base_url));
    }
    if tenant.graph_base_url != settings.default_graph_base_url {
        add.push_str(&format!(" --graph-url {}", tenant.graph_base_url));
    }
    let fix = format!(
        "register the app again in certificate mode: run `galsync tenant remove --tenant-id {tenant_id}` \
         (it refuses while sync profiles use the tenant: delete them first, or move them with \
         `galsync profile edit PROFILE_ID --tenant-id OTHER`), then `{add}` and the steps it prints; \
         the app needs Microsoft Graph application permissions with admin consent (docs/security.md)"
    );
    RemovedModeRefusal { reason, fix }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
    const READ: &str = "11111111-2222-3333-4444-555555555555";
    const WRITE: &str = "66666666-7777-8888-9999-000000000000";

    fn settings() -> BrokerSettings {
        BrokerSettings {
            default_login_base_url: "https://login.microsoftonline.com".to_owned(),
            default_graph_base_url: "https://graph.microsoft.com".to_owned(),
            consent_redirect_uri: String::new(),
            cert_renewal_days: 30,
            admin_signin_client_id: String::new(),
        }
    }

    fn tenant(login_base_url: &str) -> TenantRow {
        TenantRow {
            tenant_id: TENANT.to_owned(),
            display_name: "Contoso \"EU\"".to_owned(),
            login_base_url: login_base_url.to_owned(),
            graph_base_url: "https://graph.microsoft.com".to_owned(),
            created_at: 0,
        }
    }

    fn app(client_id: &str, auth_mode: AuthMode, purposes: &str) -> AppRow {
        AppRow {
            tenant_id: TENANT.to_owned(),
            client_id: client_id.to_owned(),
            auth_mode,
            purposes: purposes.to_owned(),
            sealed_client_secret: None,
            client_secret_expires_at: None,
        }
    }

    #[test]
    fn the_fix_registers_the_only_app_again_in_certificate_mode() {
        let only = app(READ, AuthMode::ConsentToken, "directory,contacts");
        let refusal = refusal(
            &settings(),
            &tenant("https://login.microsoftonline.com"),
            std::slice::from_ref(&only),
            &only,
        );
        assert!(
            refusal
                .reason
                .starts_with(&format!("app {READ} is in consent-token mode")),
            "{}",
            refusal.reason
        );
        assert!(
            refusal.fix.contains(&format!(
                "`galsync tenant add --tenant-id {TENANT} --name \"Contoso \\\"EU\\\"\" \
                 --client-id {READ} --auth certificate`"
            )),
            "{}",
            refusal.fix
        );
        assert!(
            refusal
                .fix
                .contains(&format!("`galsync tenant remove --tenant-id {TENANT}`")),
            "{}",
            refusal.fix
        );
    }

    #[test]
    fn the_fix_keeps_two_apps_apart_and_a_tenants_own_hosts() {
        let reader = app(READ, AuthMode::Certificate, "directory");
        let writer = app(WRITE, AuthMode::ConsentToken, "contacts");
        let refusal = refusal(
            &settings(),
            &tenant("https://login.microsoftonline.us"),
            &[reader, writer.clone()],
            &writer,
        );
        assert!(
            refusal.fix.contains(&format!(
                "--client-id {READ} --write-client-id {WRITE} --auth certificate \
                 --login-url https://login.microsoftonline.us`"
            )),
            "{}",
            refusal.fix
        );
    }
}
