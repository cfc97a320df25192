//! The broker's domain: its parts, tenants and apps; the use cases are
//! beside it (`credentials`: certificates and secrets, `issuance`: Graph
//! tokens under the purpose policy, `provision`, `connection`, `consent`),
//! every step audited.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use galsync_graph::AccessToken;
use galsync_platform::on_behalf::Role;
use galsync_platform::CallerIdentity;

use crate::audit::Auditor;
use crate::auth_mode::{AuthMode, CONSENT_TOKEN_MODE_REMOVED};
use crate::clock::Clock;
use crate::error::BrokerError;
use crate::policy::{Policy, Purpose};
use crate::seal::MasterKey;
use crate::store::{AppRow, BrokerStore, TenantRow};
use crate::tokens::TokenService;

/// Settings the domain needs from the configuration.
#[derive(Debug, Clone)]
pub struct BrokerSettings {
    pub default_login_base_url: String,
    pub default_graph_base_url: String,
    pub consent_redirect_uri: String,
    pub cert_renewal_days: u32,
    /// The public client of the administrator's provisioning sign-in.
    pub admin_signin_client_id: String,
}

/// An app registration as a caller describes it.
#[derive(Debug, Clone)]
pub struct AppSpec {
    pub client_id: String,
    /// [`AuthMode::ConsentToken`] is refused: it was removed.
    pub auth_mode: AuthMode,
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
        self.require(caller, Role::Admin)
    }

    /// Refuses `caller` unless it may do what needs `least` (see
    /// [`crate::policy::Policy::may`]).
    pub(crate) fn require(&self, caller: &CallerIdentity, least: Role) -> Result<(), BrokerError> {
        if self.policy.may(caller, least) {
            return Ok(());
        }
        Err(BrokerError::PermissionDenied(match caller {
            CallerIdentity::Person(person) => {
                format!("{caller} has role {}; this needs {least}", person.role)
            }
            _ => format!(
                "{caller} may not manage tenants or credentials; use an admin identity (--admin-identity)"
            ),
        }))
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
            if app.auth_mode == AuthMode::ConsentToken {
                return Err(BrokerError::invalid(
                    "apps.auth_mode",
                    CONSENT_TOKEN_MODE_REMOVED,
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
                auth_mode: app.auth_mode,
                purposes: purposes.join(","),
                sealed_client_secret: None,
                client_secret_expires_at: None,
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
        self.store
            .get_tenant(&tenant_id)
            .await?
            .ok_or_else(|| not_registered(&tenant_id))
    }

    /// Every registered tenant, by display name.
    pub async fn tenants(&self) -> Result<Vec<TenantRow>, BrokerError> {
        Ok(self.store.list_tenants().await?)
    }

    pub async fn apps(&self, tenant_id: &str) -> Result<Vec<AppRow>, BrokerError> {
        Ok(self.store.list_apps(tenant_id).await?)
    }

    /// Whether the administrator allowed uploading the tenant's rotated
    /// certificates to its app registrations.
    pub async fn uploads_rotated_certificates(&self, tenant_id: &str) -> Result<bool, BrokerError> {
        Ok(self.store.upload_rotated_certificates(tenant_id).await?)
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
}

/// The answer for a tenant the broker does not hold: never registered, or removed.
pub(crate) fn not_registered(tenant_id: &str) -> BrokerError {
    BrokerError::NotFound(format!(
        "tenant {tenant_id} is not registered: register it first"
    ))
}

pub(crate) const TENANT_ID_HELP: &str = "must be the Directory (tenant) ID, a GUID such as 72f988bf-86f1-41af-91ab-2d7cd011db47; \
     find it in the Microsoft Entra admin center under Overview > Tenant ID (a domain name like contoso.onmicrosoft.com is not accepted)";
pub(crate) const CLIENT_ID_HELP: &str =
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

pub(crate) fn non_empty_url(
    field: &'static str,
    value: &str,
    default: &str,
) -> Result<String, BrokerError> {
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
