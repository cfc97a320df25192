//! TestConnection: every active credential of a tenant checked end to end —
//! a fresh token, its `roles` against what each purpose needs, a directory
//! probe and a mailbox probe — with the fix for each failure in plain words.

use galsync_graph::{AccessToken, ApiError};
use galsync_platform::CallerIdentity;
use secrecy::ExposeSecret;

use crate::auth_mode::AuthMode;
use crate::broker::{millis_to_time, Broker};
use crate::error::BrokerError;
use crate::policy::{why_needed, Purpose};
use crate::store::{AppRow, TenantRow};
use crate::tokens::STATE_PENDING;

#[derive(Debug, Clone, PartialEq)]
pub struct ConnectionCheck {
    pub name: String,
    pub ok: bool,
    pub detail: String,
    pub fix: String,
    pub error_code: String,
}

impl ConnectionCheck {
    fn passed(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            ok: true,
            detail: detail.into(),
            fix: String::new(),
            error_code: String::new(),
        }
    }

    fn failed(
        name: impl Into<String>,
        detail: impl Into<String>,
        fix: impl Into<String>,
        code: impl Into<String>,
    ) -> Self {
        Self {
            name: name.into(),
            ok: false,
            detail: detail.into(),
            fix: fix.into(),
            error_code: code.into(),
        }
    }
}

impl Broker {
    pub async fn test_connection(
        &self,
        caller: &CallerIdentity,
        tenant_id: &str,
        probe_mailbox: &str,
    ) -> Result<Vec<ConnectionCheck>, BrokerError> {
        self.require(caller, galsync_platform::on_behalf::Role::Operator)?;
        let tenant = self.tenant(tenant_id).await?;
        let mut checks = Vec::new();
        for app in self.apps(&tenant.tenant_id).await? {
            let purposes: Vec<Purpose> =
                app.purposes.split(',').filter_map(Purpose::parse).collect();
            let purpose_names: Vec<&str> =
                purposes.iter().map(|purpose| purpose.as_str()).collect();
            let label = purpose_names.join("+");
            if let Some(refusal) = self.removed_mode_refusal(&tenant, &app).await? {
                checks.push(ConnectionCheck::failed(
                    format!("token:{label}"),
                    refusal.reason,
                    refusal.fix,
                    "",
                ));
                continue;
            }
            // A fresh token, so the check sees the permissions granted right now.
            let token = match self.tokens.acquire(&tenant, &app).await {
                Ok((token, notes)) => {
                    self.audit_promotion(caller, &tenant.tenant_id, None, &notes)
                        .await?;
                    checks.push(ConnectionCheck::passed(
                        format!("token:{label}"),
                        format!("app {} got a token ({} mode)", app.client_id, app.auth_mode),
                    ));
                    token
                }
                Err(error) => {
                    checks.push(token_failure(&label, &app, &error));
                    self.check_certificates(&app, &label, &mut checks).await?;
                    continue;
                }
            };
            // After the token request, which activates a newly uploaded certificate.
            self.check_certificates(&app, &label, &mut checks).await?;
            let probe_mailbox = probe_mailbox.trim();
            let mailbox_check =
                if purposes.contains(&Purpose::Contacts) && !probe_mailbox.is_empty() {
                    Some(self.probe_mailbox(&tenant, probe_mailbox, &token).await)
                } else {
                    None
                };
            for purpose in &purposes {
                let check = permission_check(*purpose, &token);
                if *purpose == Purpose::Contacts && !check.ok {
                    checks.push(exchange_rbac_check(
                        check,
                        probe_mailbox,
                        mailbox_check.as_ref(),
                    ));
                } else {
                    checks.push(check);
                }
            }
            if purposes.contains(&Purpose::Directory) {
                let url = format!("{}/v1.0/users?$top=1&$select=id", tenant.graph_base_url);
                checks.push(self.probe("graph:users", &url, &token, "read users").await);
            }
            checks.extend(mailbox_check);
        }
        let failures = checks.iter().filter(|check| !check.ok).count();
        self.audit
            .record(
                "connection.tested",
                caller,
                &tenant.tenant_id,
                None,
                &format!("{} checks, {failures} failed", checks.len()),
                None,
            )
            .await?;
        Ok(checks)
    }

    async fn check_certificates(
        &self,
        app: &AppRow,
        label: &str,
        checks: &mut Vec<ConnectionCheck>,
    ) -> Result<(), BrokerError> {
        if app.auth_mode == AuthMode::ClientSecret {
            if let Some(check) = self.secret_expiry_check(app, label) {
                checks.push(check);
            }
            return Ok(());
        }
        if app.auth_mode != AuthMode::Certificate {
            return Ok(());
        }
        let now_millis = self.clock.now_millis();
        for certificate in self
            .store
            .list_certificates(&app.tenant_id, Some(&app.client_id))
            .await?
        {
            let name = format!("certificate:{label}:{}", certificate.thumbprint_sha1);
            if certificate.not_after <= now_millis {
                checks.push(ConnectionCheck::failed(
                    name,
                    format!(
                        "expired on {}",
                        millis_to_time(certificate.not_after).format("%Y-%m-%d")
                    ),
                    "generate a new certificate and upload its .cer to the app registration",
                    "",
                ));
            } else if certificate.state == STATE_PENDING {
                checks.push(ConnectionCheck::failed(
                    name,
                    "not yet accepted by Entra ID (not uploaded to the app registration?)",
                    format!(
                        "upload the .cer (thumbprint {}) under App registrations > {} > Certificates & secrets",
                        certificate.thumbprint_sha1, app.client_id
                    ),
                    "",
                ));
            } else if self.expiring_soon(&certificate) && certificate.state == "active" {
                let fix = if self
                    .store
                    .upload_rotated_certificates(&app.tenant_id)
                    .await?
                {
                    "galsync adds its replacement to the app registration itself (addKey) before \
                     then; `galsync cert rotate` does it now, and its output says if the upload failed"
                } else {
                    "upload the replacement certificate galsync made (galsync cert list) before then, \
                     or let galsync upload it: galsync tenant update --upload-rotated-certificates on"
                };
                checks.push(ConnectionCheck::failed(
                    name,
                    format!(
                        "expires on {}",
                        millis_to_time(certificate.not_after).format("%Y-%m-%d")
                    ),
                    fix,
                    "",
                ));
            }
        }
        Ok(())
    }

    /// A client secret expired, or expiring within the renewal window, as a
    /// failed check with the date and the fix (as for certificates).
    fn secret_expiry_check(&self, app: &AppRow, label: &str) -> Option<ConnectionCheck> {
        let expires_at = app.client_secret_expires_at?;
        let name = format!("secret:{label}");
        let on = millis_to_time(expires_at).format("%Y-%m-%d");
        let fix = format!(
            "add a new client secret under App registrations > {} > Certificates & secrets, then galsync secret set --expires-on DATE",
            app.client_id
        );
        if expires_at <= self.clock.now_millis() {
            return Some(ConnectionCheck::failed(
                name,
                format!("the client secret expired on {on}"),
                fix,
                "",
            ));
        }
        if self.secret_expiring_soon(expires_at) {
            return Some(ConnectionCheck::failed(
                name,
                format!("the client secret expires on {on}"),
                fix,
                "",
            ));
        }
        Some(ConnectionCheck::passed(
            name,
            format!("the client secret expires on {on}"),
        ))
    }

    async fn probe(
        &self,
        name: &str,
        url: &str,
        token: &AccessToken,
        what: &str,
    ) -> ConnectionCheck {
        match self.graph_get(url, token).await {
            Ok(()) => ConnectionCheck::passed(name, format!("graph allowed the app to {what}")),
            Err(ProbeFailure::Api(error)) => {
                let fix = if error.status == 403 {
                    "grant admin consent for the app's permissions (API permissions > Grant admin consent)".to_owned()
                } else {
                    String::new()
                };
                ConnectionCheck::failed(
                    name,
                    format!("graph refused ({}): {}", error.status, error.message),
                    fix,
                    error.code,
                )
            }
            Err(ProbeFailure::Transport(message)) => ConnectionCheck::failed(
                name,
                message,
                "check the network path to the Graph host",
                "",
            ),
        }
    }

    async fn probe_mailbox(
        &self,
        tenant: &TenantRow,
        mailbox: &str,
        token: &AccessToken,
    ) -> ConnectionCheck {
        let url = format!(
            "{}/v1.0/users/{}/contactFolders?$top=1",
            tenant.graph_base_url,
            url::form_urlencoded::byte_serialize(mailbox.as_bytes()).collect::<String>()
        );
        match self.graph_get(&url, token).await {
            Ok(()) => ConnectionCheck::passed("graph:mailbox", format!("the app can read contact folders of {mailbox}")),
            Err(ProbeFailure::Api(error)) if error.is_access_denied_by_policy() => ConnectionCheck::failed(
                "graph:mailbox",
                format!("{mailbox} is blocked by an Exchange application access policy"),
                "add the mailbox to the group the application access policy (or RBAC for Applications scope) allows, \
                 or remove the restriction",
                error.code,
            ),
            Err(ProbeFailure::Api(error)) if error.code == "ErrorInvalidUser" => ConnectionCheck::failed(
                "graph:mailbox",
                format!("there is no user {mailbox} in the tenant"),
                "check the probe mailbox's UPN or object id",
                error.code,
            ),
            Err(ProbeFailure::Api(error)) if error.is_mailbox_not_enabled() => ConnectionCheck::failed(
                "graph:mailbox",
                format!("{mailbox} has no Exchange Online mailbox"),
                "assign the user an Exchange Online license, or choose another probe mailbox",
                error.code,
            ),
            Err(ProbeFailure::Api(error)) => ConnectionCheck::failed(
                "graph:mailbox",
                format!("graph refused ({}): {}", error.status, error.message),
                if error.status == 403 {
                    "grant admin consent for Contacts.ReadWrite".to_owned()
                } else {
                    String::new()
                },
                error.code,
            ),
            Err(ProbeFailure::Transport(message)) => {
                ConnectionCheck::failed("graph:mailbox", message, "check the network path to the Graph host", "")
            }
        }
    }

    async fn graph_get(&self, url: &str, token: &AccessToken) -> Result<(), ProbeFailure> {
        let response = self
            .http
            .get(url)
            .bearer_auth(token.value.expose_secret())
            .send()
            .await
            .map_err(|error| {
                ProbeFailure::Transport(format!("graph could not be reached: {error}"))
            })?;
        let status = response.status().as_u16();
        if response.status().is_success() {
            return Ok(());
        }
        let body = response.bytes().await.unwrap_or_default();
        Err(ProbeFailure::Api(ApiError::from_response(
            status, &body, None,
        )))
    }
}

enum ProbeFailure {
    Api(ApiError),
    Transport(String),
}

fn token_failure(label: &str, app: &AppRow, error: &BrokerError) -> ConnectionCheck {
    let message = error.to_string();
    let code = message
        .split(|character: char| !character.is_ascii_alphanumeric())
        .find(|word| word.starts_with("AADSTS"))
        .unwrap_or("")
        .to_owned();
    let fix = match code.as_str() {
        "AADSTS90002" => "the tenant id must be the Directory (tenant) ID GUID from Microsoft Entra ID > Overview".to_owned(),
        "AADSTS700016" => format!("app {} was not found in the tenant: check the Application (client) ID", app.client_id),
        "AADSTS700027" => "the certificate is not registered on the app: upload the .cer under Certificates & secrets".to_owned(),
        "AADSTS700024" => "the client assertion was outside its time range: check this machine's clock (NTP)".to_owned(),
        "AADSTS7000215" => "the client secret is wrong: paste the secret's Value, not its ID".to_owned(),
        "AADSTS7000222" => "the client secret expired: create a new one and set it with SetClientSecret".to_owned(),
        _ => String::new(),
    };
    ConnectionCheck::failed(format!("token:{label}"), message, fix, code)
}

fn permission_check(purpose: Purpose, token: &AccessToken) -> ConnectionCheck {
    let name = format!("permissions:{purpose}");
    let mut missing = Vec::new();
    for alternatives in purpose.required_roles() {
        let granted = alternatives.iter().any(|role| token.has_role(role));
        if !granted {
            missing.push(alternatives[0]);
        }
    }
    if missing.is_empty() {
        return ConnectionCheck::passed(name, format!("roles granted: {}", token.roles.join(", ")));
    }
    let mut reasons = Vec::with_capacity(missing.len());
    for role in &missing {
        let why = why_needed(role);
        if why.is_empty() {
            reasons.push((*role).to_owned());
        } else {
            reasons.push(format!("{role} ({why})"));
        }
    }
    ConnectionCheck::failed(
        name,
        format!("missing application permission(s): {}", reasons.join("; ")),
        format!(
            "add {} as Application permissions of Microsoft Graph and grant admin consent",
            missing.join(", ")
        ),
        "",
    )
}

/// The contacts permission when the token lacks it: Exchange RBAC for
/// Applications grants it per mailbox and never in the token
/// (<https://learn.microsoft.com/exchange/permissions-exo/application-rbac>),
/// so the probe mailbox decides. Passed when Exchange let the app into it;
/// otherwise the token check's failure, with the Exchange way named too.
fn exchange_rbac_check(
    token_check: ConnectionCheck,
    probe_mailbox: &str,
    mailbox_check: Option<&ConnectionCheck>,
) -> ConnectionCheck {
    if let Some(mailbox) = mailbox_check.filter(|check| check.ok) {
        return ConnectionCheck::passed(
            token_check.name,
            format!(
                "Contacts.ReadWrite is not in the token, but Exchange let the app into {probe_mailbox} \
                 (an RBAC for Applications role assignment): every target mailbox must be in its \
                 scope ({})",
                mailbox.detail
            ),
        );
    }
    let how_to_check = if probe_mailbox.is_empty() {
        "; if Exchange grants it per mailbox (RBAC for Applications, galsync-exchange.ps1), \
         run Test Connection with a target mailbox (--mailbox) to check that grant"
    } else {
        ", or assign the app the Exchange role \"Application Contacts.ReadWrite\" over the \
         target mailboxes (galsync-exchange.ps1 from tenant provision --manual --target-group)"
    };
    ConnectionCheck {
        fix: format!("{}{how_to_check}", token_check.fix),
        ..token_check
    }
}
