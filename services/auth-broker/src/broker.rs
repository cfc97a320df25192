//! The broker's domain: tenants and apps, certificates, secrets, and token
//! issuance under the purpose policy, every step audited.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use galsync_graph::AccessToken;
use galsync_platform::CallerIdentity;

use crate::audit::Auditor;
use crate::certificates::{self, CertificateMaterial};
use crate::clock::Clock;
use crate::error::BrokerError;
use crate::policy::{Policy, Purpose};
use crate::seal::MasterKey;
use crate::store::{AppRow, BrokerStore, CertificateRow, TenantRow};
use crate::tokens::{self, TokenService, STATE_ACTIVE, STATE_PENDING};

/// Settings the domain needs from the configuration.
#[derive(Debug, Clone)]
pub struct BrokerSettings {
    pub default_login_base_url: String,
    pub default_graph_base_url: String,
    pub consent_redirect_uri: String,
    pub cert_renewal_days: u32,
}

/// An app registration as a caller describes it.
#[derive(Debug, Clone)]
pub struct AppSpec {
    pub client_id: String,
    /// `certificate`, `client-secret` or `consent-token`.
    pub auth_mode: String,
    pub purposes: Vec<Purpose>,
}

/// A tenant registration request, validated by [`Broker::register_tenant`].
#[derive(Debug, Clone)]
pub struct TenantSpec {
    pub tenant_id: String,
    pub display_name: String,
    pub login_base_url: String,
    pub graph_base_url: String,
    pub apps: Vec<AppSpec>,
}

/// An issued token with what the caller needs alongside it.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: AccessToken,
    pub graph_base_url: String,
}

pub struct Broker {
    pub(crate) store: BrokerStore,
    pub(crate) master_key: MasterKey,
    pub(crate) clock: Clock,
    pub(crate) policy: Policy,
    pub(crate) tokens: TokenService,
    pub(crate) audit: Auditor,
    pub(crate) settings: BrokerSettings,
    pub(crate) http: reqwest::Client,
    pub(crate) metrics: galsync_platform::metrics::Metrics,
}

impl Broker {
    pub fn new(
        store: BrokerStore,
        master_key: MasterKey,
        clock: Clock,
        policy: Policy,
        settings: BrokerSettings,
    ) -> Result<Arc<Self>, BrokerError> {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .map_err(|error| {
                BrokerError::Internal(format!("failed to build the HTTP client: {error}"))
            })?;
        let tokens = TokenService::new(
            store.clone(),
            master_key.clone(),
            clock.clone(),
            http.clone(),
        );
        let audit = Auditor::new(store.clone(), clock.clone());
        Ok(Arc::new(Self {
            store,
            master_key,
            clock,
            policy,
            tokens,
            audit,
            settings,
            http,
            metrics: galsync_platform::metrics::Metrics::default(),
        }))
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    /// Closes the store (tests that reopen it, e.g. from the binary).
    pub async fn close(&self) {
        self.store.pool().close().await;
    }

    pub(crate) fn require_admin(&self, caller: &CallerIdentity) -> Result<(), BrokerError> {
        if self.policy.may_administer(caller) {
            return Ok(());
        }
        Err(BrokerError::PermissionDenied(format!(
            "{caller} may not manage tenants or credentials; use an admin identity (--admin-identity)"
        )))
    }

    pub async fn register_tenant(
        &self,
        caller: &CallerIdentity,
        spec: TenantSpec,
    ) -> Result<TenantRow, BrokerError> {
        self.require_admin(caller)?;
        let tenant_id = validate_guid("tenant_id", &spec.tenant_id, TENANT_ID_HELP)?;
        if spec.apps.is_empty() {
            return Err(BrokerError::invalid(
                "apps",
                "register one app (every purpose) or two (a read app for directory, a write app for contacts)",
            ));
        }
        let login_base_url = non_empty_url(
            "login_base_url",
            &spec.login_base_url,
            &self.settings.default_login_base_url,
        )?;
        let graph_base_url = non_empty_url(
            "graph_base_url",
            &spec.graph_base_url,
            &self.settings.default_graph_base_url,
        )?;
        let mut apps = Vec::new();
        let mut covered: Vec<Purpose> = Vec::new();
        for app in &spec.apps {
            let client_id = validate_guid("apps.client_id", &app.client_id, CLIENT_ID_HELP)?;
            if !matches!(
                app.auth_mode.as_str(),
                "certificate" | "client-secret" | "consent-token"
            ) {
                return Err(BrokerError::invalid(
                    "apps.auth_mode",
                    "use certificate (recommended), client-secret or consent-token",
                ));
            }
            if app.purposes.is_empty() {
                return Err(BrokerError::invalid(
                    "apps.purposes",
                    "give each app directory, contacts or both",
                ));
            }
            for purpose in &app.purposes {
                if covered.contains(purpose) {
                    return Err(BrokerError::invalid(
                        "apps.purposes",
                        format!("two apps both serve {purpose}; give each purpose to one app"),
                    ));
                }
                covered.push(*purpose);
            }
            let purposes: Vec<&str> = app
                .purposes
                .iter()
                .map(|purpose| purpose.as_str())
                .collect();
            apps.push(AppRow {
                tenant_id: tenant_id.clone(),
                client_id,
                auth_mode: app.auth_mode.clone(),
                purposes: purposes.join(","),
                sealed_client_secret: None,
                client_secret_expires_at: None,
                sealed_refresh_token: None,
                refresh_token_used_at: None,
            });
        }
        let tenant = TenantRow {
            tenant_id: tenant_id.clone(),
            display_name: if spec.display_name.trim().is_empty() {
                tenant_id.clone()
            } else {
                spec.display_name.trim().to_owned()
            },
            login_base_url,
            graph_base_url,
            created_at: self.clock.now_millis(),
        };
        if !self.store.insert_tenant(&tenant, &apps).await? {
            return Err(BrokerError::AlreadyExists(format!(
                "tenant {tenant_id} is already registered"
            )));
        }
        self.audit
            .record(
                "tenant.registered",
                caller,
                &tenant_id,
                None,
                &format!("{} app(s)", apps.len()),
                None,
            )
            .await?;
        Ok(tenant)
    }

    pub async fn tenant(&self, tenant_id: &str) -> Result<TenantRow, BrokerError> {
        let tenant_id = validate_guid("tenant_id", tenant_id, TENANT_ID_HELP)?;
        self.store.get_tenant(&tenant_id).await?.ok_or_else(|| {
            BrokerError::NotFound(format!(
                "tenant {tenant_id} is not registered: register it first"
            ))
        })
    }

    pub async fn apps(&self, tenant_id: &str) -> Result<Vec<AppRow>, BrokerError> {
        Ok(self.store.list_apps(tenant_id).await?)
    }

    /// The app named by `client_id`, or the tenant's only app when empty.
    pub async fn app(&self, tenant_id: &str, client_id: &str) -> Result<AppRow, BrokerError> {
        let apps = self.store.list_apps(tenant_id).await?;
        if client_id.trim().is_empty() {
            if apps.len() == 1 {
                return Ok(apps.into_iter().next().expect("one app"));
            }
            return Err(BrokerError::invalid(
                "client_id",
                format!("tenant {tenant_id} has {} apps; name one", apps.len()),
            ));
        }
        let client_id = validate_guid("client_id", client_id, CLIENT_ID_HELP)?;
        apps.into_iter()
            .find(|app| app.client_id == client_id)
            .ok_or_else(|| {
                BrokerError::NotFound(format!(
                    "app {client_id} is not registered for tenant {tenant_id}"
                ))
            })
    }

    /// The app whose tokens serve `purpose`.
    pub async fn app_for_purpose(
        &self,
        tenant_id: &str,
        purpose: Purpose,
    ) -> Result<AppRow, BrokerError> {
        let apps = self.store.list_apps(tenant_id).await?;
        apps.into_iter()
            .find(|app| {
                app.purposes
                    .split(',')
                    .any(|text| Purpose::parse(text) == Some(purpose))
            })
            .ok_or_else(|| {
                BrokerError::FailedPrecondition(format!(
                    "tenant {tenant_id} has no app for {purpose} tokens"
                ))
            })
    }

    pub async fn generate_certificate(
        &self,
        caller: &CallerIdentity,
        tenant_id: &str,
        client_id: &str,
        key_bits: u32,
        validity_days: u32,
    ) -> Result<CertificateRow, BrokerError> {
        self.require_admin(caller)?;
        let tenant = self.tenant(tenant_id).await?;
        let app = self.app(&tenant.tenant_id, client_id).await?;
        let key_bits = if key_bits == 0 {
            certificates::DEFAULT_KEY_BITS
        } else {
            key_bits
        };
        let validity_days = if validity_days == 0 {
            certificates::DEFAULT_VALIDITY_DAYS
        } else {
            validity_days
        };
        let now = self.clock.now();
        let subject_tenant = tenant.tenant_id.clone();
        // RSA key generation takes seconds at 4096 bits: keep it off the runtime.
        let material = tokio::task::spawn_blocking(move || {
            certificates::generate(&subject_tenant, key_bits, validity_days, now)
        })
        .await
        .map_err(|error| {
            BrokerError::Internal(format!("certificate generation stopped: {error}"))
        })??;
        let row = self.store_certificate(&app, material).await?;
        self.audit
            .record(
                "certificate.generated",
                caller,
                &tenant.tenant_id,
                None,
                &format!(
                    "thumbprint {} for app {}",
                    row.thumbprint_sha1, app.client_id
                ),
                None,
            )
            .await?;
        Ok(row)
    }

    pub async fn import_certificate(
        &self,
        caller: &CallerIdentity,
        tenant_id: &str,
        client_id: &str,
        material: CertificateMaterial,
    ) -> Result<CertificateRow, BrokerError> {
        self.require_admin(caller)?;
        let tenant = self.tenant(tenant_id).await?;
        let app = self.app(&tenant.tenant_id, client_id).await?;
        if material.not_after <= self.clock.now() {
            return Err(BrokerError::invalid(
                "certificate",
                format!(
                    "it expired on {}; import a current one",
                    material.not_after.format("%Y-%m-%d")
                ),
            ));
        }
        let row = self.store_certificate(&app, material).await?;
        self.audit
            .record(
                "certificate.imported",
                caller,
                &tenant.tenant_id,
                None,
                &format!(
                    "thumbprint {} for app {}",
                    row.thumbprint_sha1, app.client_id
                ),
                None,
            )
            .await?;
        Ok(row)
    }

    /// Seals the key and stores the certificate as pending registration: it
    /// becomes active when Entra first accepts it.
    async fn store_certificate(
        &self,
        app: &AppRow,
        material: CertificateMaterial,
    ) -> Result<CertificateRow, BrokerError> {
        let certificate_id = uuid::Uuid::new_v4().to_string();
        let sealed_private_key = self.master_key.seal(
            &tokens::certificate_context(&certificate_id),
            &material.private_key_pkcs8,
        );
        let row = CertificateRow {
            certificate_id,
            tenant_id: app.tenant_id.clone(),
            client_id: app.client_id.clone(),
            der: material.der,
            sealed_private_key,
            subject: material.subject,
            thumbprint_sha1: material.thumbprint_sha1,
            thumbprint_sha256: material.thumbprint_sha256,
            not_before: material.not_before.timestamp_millis(),
            not_after: material.not_after.timestamp_millis(),
            key_bits: i64::from(material.key_bits),
            state: STATE_PENDING.to_owned(),
            created_at: self.clock.now_millis(),
            last_probe_at: None,
        };
        self.store.insert_certificate(&row).await?;
        Ok(row)
    }

    pub async fn certificate(&self, certificate_id: &str) -> Result<CertificateRow, BrokerError> {
        self.store
            .get_certificate(certificate_id.trim())
            .await?
            .ok_or_else(|| {
                BrokerError::NotFound(format!("certificate {certificate_id} does not exist"))
            })
    }

    pub async fn certificates(
        &self,
        tenant_id: &str,
        client_id: &str,
    ) -> Result<Vec<CertificateRow>, BrokerError> {
        let tenant = self.tenant(tenant_id).await?;
        let client_filter = if client_id.trim().is_empty() {
            None
        } else {
            Some(client_id.trim())
        };
        Ok(self
            .store
            .list_certificates(&tenant.tenant_id, client_filter)
            .await?)
    }

    /// Whether a certificate is within the renewal window.
    /// A client secret expiring within the renewal window (`--cert-renewal-days`).
    pub fn secret_expiring_soon(&self, expires_at_millis: i64) -> bool {
        let window = chrono::Duration::days(i64::from(self.settings.cert_renewal_days));
        millis_to_time(expires_at_millis) - self.clock.now() <= window
    }

    pub fn expiring_soon(&self, certificate: &CertificateRow) -> bool {
        let window = chrono::Duration::days(i64::from(self.settings.cert_renewal_days));
        millis_to_time(certificate.not_after) - self.clock.now() <= window
    }

    /// Makes replacement certificates for active certificates inside the
    /// renewal window that have no pending replacement yet. Returns the new ones.
    pub async fn renew_due_certificates(&self) -> Result<Vec<CertificateRow>, BrokerError> {
        let system = CallerIdentity::Service("auth-broker".to_owned());
        let mut created = Vec::new();
        for tenant in self.store.list_tenants().await? {
            for app in self.store.list_apps(&tenant.tenant_id).await? {
                if app.auth_mode != "certificate" {
                    continue;
                }
                let certificates = self
                    .store
                    .list_certificates(&tenant.tenant_id, Some(&app.client_id))
                    .await?;
                let Some(active) = certificates
                    .iter()
                    .find(|certificate| certificate.state == STATE_ACTIVE)
                else {
                    continue;
                };
                let has_replacement = certificates.iter().any(|certificate| {
                    certificate.state == STATE_PENDING && certificate.created_at > active.created_at
                });
                if has_replacement || !self.expiring_soon(active) {
                    continue;
                }
                let now = self.clock.now();
                let subject_tenant = tenant.tenant_id.clone();
                let key_bits = active.key_bits as u32;
                let material = tokio::task::spawn_blocking(move || {
                    certificates::generate(
                        &subject_tenant,
                        key_bits,
                        certificates::DEFAULT_VALIDITY_DAYS,
                        now,
                    )
                })
                .await
                .map_err(|error| {
                    BrokerError::Internal(format!("certificate generation stopped: {error}"))
                })??;
                let row = self.store_certificate(&app, material).await?;
                tracing::warn!(
                    tenant = %tenant.tenant_id,
                    client_id = %app.client_id,
                    expiring_thumbprint = %active.thumbprint_sha1,
                    new_thumbprint = %row.thumbprint_sha1,
                    "certificate expires soon: made a replacement; upload its .cer to the app registration"
                );
                self.audit
                    .record(
                        "certificate.renewal_created",
                        &system,
                        &tenant.tenant_id,
                        None,
                        &format!(
                            "replacement {} for expiring {}",
                            row.thumbprint_sha1, active.thumbprint_sha1
                        ),
                        None,
                    )
                    .await?;
                created.push(row);
            }
        }
        Ok(created)
    }

    pub async fn set_client_secret(
        &self,
        caller: &CallerIdentity,
        tenant_id: &str,
        client_id: &str,
        secret: &str,
        expires_at: Option<DateTime<Utc>>,
    ) -> Result<AppRow, BrokerError> {
        self.require_admin(caller)?;
        let tenant = self.tenant(tenant_id).await?;
        let app = self.app(&tenant.tenant_id, client_id).await?;
        if secret.trim().is_empty() {
            return Err(BrokerError::invalid(
                "secret",
                "is empty; paste the secret's Value, not its ID",
            ));
        }
        let sealed = self
            .master_key
            .seal(&tokens::secret_context(&app), secret.as_bytes());
        self.store
            .set_client_secret(
                &app.tenant_id,
                &app.client_id,
                &sealed,
                expires_at.map(|at| at.timestamp_millis()),
            )
            .await?;
        self.tokens.invalidate(&app.tenant_id, &app.client_id).await;
        self.audit
            .record(
                "secret.set",
                caller,
                &tenant.tenant_id,
                None,
                &format!("app {}", app.client_id),
                None,
            )
            .await?;
        self.app(&tenant.tenant_id, &app.client_id).await
    }

    /// Issues a token for `purpose` if the caller is allowed it. Refusals and
    /// issuances are both audited.
    pub async fn graph_token(
        &self,
        caller: &CallerIdentity,
        tenant_id: &str,
        purpose: Option<Purpose>,
    ) -> Result<IssuedToken, BrokerError> {
        let Some(purpose) = purpose else {
            return Err(BrokerError::invalid(
                "purpose",
                "use TOKEN_PURPOSE_DIRECTORY or TOKEN_PURPOSE_CONTACTS",
            ));
        };
        if !self.policy.may_get_token(caller, purpose) {
            self.count("galsync_broker_tokens_denied_total");
            self.audit
                .record(
                    "token.denied",
                    caller,
                    tenant_id,
                    Some(purpose),
                    "caller not allowed this purpose",
                    None,
                )
                .await?;
            return Err(BrokerError::PermissionDenied(format!(
                "{caller} may not call galsync.v1.AuthBroker/GetGraphToken for {purpose} tokens; only --allow-purpose identities may"
            )));
        }
        let tenant = self.tenant(tenant_id).await?;
        let app = self.app_for_purpose(&tenant.tenant_id, purpose).await?;
        let result = self.tokens.token(&tenant, &app).await;
        let (token, notes) = match result {
            Ok(issued) => issued,
            Err(error) => {
                self.count("galsync_broker_tokens_failed_total");
                self.audit
                    .record(
                        "token.failed",
                        caller,
                        &tenant.tenant_id,
                        Some(purpose),
                        &error.to_string(),
                        None,
                    )
                    .await?;
                return Err(error);
            }
        };
        self.audit_promotion(caller, &tenant.tenant_id, Some(purpose), &notes)
            .await?;
        self.count("galsync_broker_tokens_issued_total");
        let detail = format!(
            "app {}{}",
            app.client_id,
            if notes.cached { " (cached)" } else { "" }
        );
        self.audit
            .record(
                "token.issued",
                caller,
                &tenant.tenant_id,
                Some(purpose),
                &detail,
                Some(token.expires_at),
            )
            .await?;
        Ok(IssuedToken {
            token,
            graph_base_url: tenant.graph_base_url.clone(),
        })
    }

    /// Audits a certificate that Entra accepted for the first time.
    pub(crate) async fn audit_promotion(
        &self,
        caller: &CallerIdentity,
        tenant_id: &str,
        purpose: Option<Purpose>,
        notes: &tokens::AcquireNotes,
    ) -> Result<(), BrokerError> {
        let Some(certificate_id) = &notes.promoted_certificate else {
            return Ok(());
        };
        self.audit
            .record(
                "certificate.activated",
                caller,
                tenant_id,
                purpose,
                &format!("certificate {certificate_id} accepted by entra"),
                None,
            )
            .await
    }

    pub async fn invalidate_token(
        &self,
        caller: &CallerIdentity,
        tenant_id: &str,
        purpose: Option<Purpose>,
        reason: &str,
    ) -> Result<bool, BrokerError> {
        let Some(purpose) = purpose else {
            return Err(BrokerError::invalid(
                "purpose",
                "use TOKEN_PURPOSE_DIRECTORY or TOKEN_PURPOSE_CONTACTS",
            ));
        };
        if !self.policy.may_get_token(caller, purpose) && !self.policy.may_administer(caller) {
            return Err(BrokerError::PermissionDenied(format!(
                "{caller} may not invalidate {purpose} tokens"
            )));
        }
        let tenant = self.tenant(tenant_id).await?;
        let app = self.app_for_purpose(&tenant.tenant_id, purpose).await?;
        let invalidated = self
            .tokens
            .invalidate(&tenant.tenant_id, &app.client_id)
            .await;
        let reason_text: String = reason.chars().take(300).collect();
        self.audit
            .record(
                "token.invalidated",
                caller,
                &tenant.tenant_id,
                Some(purpose),
                &reason_text,
                None,
            )
            .await?;
        Ok(invalidated)
    }
}

const TENANT_ID_HELP: &str = "must be the Directory (tenant) ID, a GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47; \
     find it in the Microsoft Entra admin center under Overview > Tenant ID (a domain name like contoso.onmicrosoft.com is not accepted)";
const CLIENT_ID_HELP: &str =
    "must be the Application (client) ID GUID from the app registration's Overview page";

/// Parses a GUID field, or explains where to find the right value.
pub fn validate_guid(field: &'static str, value: &str, help: &str) -> Result<String, BrokerError> {
    let trimmed = value.trim();
    match uuid::Uuid::parse_str(trimmed) {
        Ok(parsed) => Ok(parsed.hyphenated().to_string()),
        Err(_) if trimmed.is_empty() => {
            Err(BrokerError::invalid(field, format!("is empty; it {help}")))
        }
        Err(_) => Err(BrokerError::invalid(field, format!("`{trimmed}` {help}"))),
    }
}

fn non_empty_url(field: &'static str, value: &str, default: &str) -> Result<String, BrokerError> {
    let chosen = if value.trim().is_empty() {
        default
    } else {
        value.trim()
    };
    match url::Url::parse(chosen) {
        Ok(url) if url.scheme() == "https" || url.scheme() == "http" => {
            Ok(chosen.trim_end_matches('/').to_owned())
        }
        _ => Err(BrokerError::invalid(
            field,
            format!("`{chosen}` is not an http(s) URL"),
        )),
    }
}

pub fn millis_to_time(millis: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(millis)
        .single()
        .unwrap_or_default()
}
