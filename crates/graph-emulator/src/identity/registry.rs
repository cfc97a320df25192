//! Admin operations on the identity store: what an administrator does in the
//! Entra portal (register apps, upload certificates, add secrets, grant and
//! revoke consent), as plain Rust methods. Restricting Exchange access is
//! [`super::exchange_access`].

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use rand::RngCore;
use sha2::Digest;
use uuid::Uuid;

use super::certificates::parse_certificate;
use super::exchange_access::EXCHANGE_APPLICATION_ROLE_PREFIX;
use super::model::{
    AppRegistration, AppRegistrationRequest, AppView, CertificateView, ConsentDecision,
    GraphApplicationFields, IdentityAdminError, NewClientSecret, RoleGrant, SecretCredential,
    SecretView, ServicePrincipal,
};
use super::permissions::{required_resource_access_for, sign_in_audience};
use super::{client_key, read, write, IdentityStore};

impl IdentityStore {
    /// Registers an app in its home tenant and creates its service principal
    /// there (as the portal does). Nothing is granted until consent.
    pub fn register_app(
        &self,
        home_tenant: Uuid,
        request: AppRegistrationRequest,
    ) -> Result<AppView, IdentityAdminError> {
        if !self.tenant_exists(home_tenant) {
            return Err(IdentityAdminError::UnknownTenant(home_tenant.to_string()));
        }
        let client_id = match &request.client_id {
            Some(given) => given
                .trim()
                .parse::<Uuid>()
                .map_err(|_| IdentityAdminError::InvalidClientId(given.clone()))?,
            None => Uuid::new_v4(),
        };
        let key = client_key(&client_id.to_string());
        let requested_roles: BTreeSet<String> = request.requested_roles.into_iter().collect();
        let requested_scopes: BTreeSet<String> = request.requested_scopes.into_iter().collect();
        {
            let mut apps = write(&self.apps);
            if apps.contains_key(&key) {
                return Err(IdentityAdminError::AppExists(key));
            }
            apps.insert(
                key.clone(),
                AppRegistration {
                    client_id: key.clone(),
                    home_tenant,
                    display_name: request.display_name,
                    requested_roles: requested_roles.clone(),
                    requested_scopes: requested_scopes.clone(),
                    redirect_uris: request.redirect_uris,
                    multi_tenant: request.multi_tenant,
                    public_client: request.public_client,
                    certificates: Vec::new(),
                    secrets: Vec::new(),
                    graph: GraphApplicationFields {
                        object_id: Uuid::new_v4(),
                        sign_in_audience: sign_in_audience(request.multi_tenant).to_owned(),
                        required_resource_access: required_resource_access_for(
                            &requested_roles,
                            &requested_scopes,
                        ),
                        created_at: Utc::now(),
                        ..GraphApplicationFields::default()
                    },
                    known_from_ms: 0,
                },
            );
        }
        write(&self.service_principals)
            .insert((home_tenant, key.clone()), ServicePrincipal::default());
        self.show_app(home_tenant, &key)
    }

    /// Adds a redirect URI for the admin-consent callback.
    pub fn add_redirect_uri(
        &self,
        client_id: &str,
        redirect_uri: &str,
    ) -> Result<(), IdentityAdminError> {
        let mut apps = write(&self.apps);
        let app = apps
            .get_mut(&client_key(client_id))
            .ok_or_else(|| IdentityAdminError::UnknownApp(client_id.to_owned()))?;
        if !app.redirect_uris.iter().any(|known| known == redirect_uri) {
            app.redirect_uris.push(redirect_uri.to_owned());
        }
        Ok(())
    }

    /// Uploads a certificate (PEM, DER, or base64 DER) to the app registration.
    pub fn upload_certificate(
        &self,
        client_id: &str,
        certificate: &[u8],
    ) -> Result<CertificateView, IdentityAdminError> {
        let credential = parse_certificate(certificate)?;
        let view = credential.view();
        let mut apps = write(&self.apps);
        let app = apps
            .get_mut(&client_key(client_id))
            .ok_or_else(|| IdentityAdminError::UnknownApp(client_id.to_owned()))?;
        let already_registered = app
            .certificates
            .iter()
            .any(|known| known.sha256_thumbprint == credential.sha256_thumbprint);
        if already_registered {
            return Err(IdentityAdminError::InvalidCertificate(
                "this certificate is already registered on the app".to_owned(),
            ));
        }
        app.certificates.push(credential);
        Ok(view)
    }

    /// Every app registration whose home is `tenant_id`, by client id (what
    /// the Entra admin center lists under App registrations).
    pub fn apps_in_tenant(&self, tenant_id: Uuid) -> Vec<AppView> {
        let mut keys: Vec<String> = read(&self.apps)
            .iter()
            .filter(|(_, app)| app.home_tenant == tenant_id)
            .map(|(key, _)| key.clone())
            .collect();
        keys.sort();
        keys.iter()
            .filter_map(|key| self.show_app(tenant_id, key).ok())
            .collect()
    }

    /// Removes a certificate by SHA-1 or SHA-256 thumbprint (hex or base64).
    /// Returns whether one was removed.
    pub fn remove_certificate(
        &self,
        client_id: &str,
        thumbprint: &str,
    ) -> Result<bool, IdentityAdminError> {
        let mut apps = write(&self.apps);
        let app = apps
            .get_mut(&client_key(client_id))
            .ok_or_else(|| IdentityAdminError::UnknownApp(client_id.to_owned()))?;
        let before = app.certificates.len();
        app.certificates
            .retain(|certificate| !certificate.matches_thumbprint(thumbprint));
        Ok(app.certificates.len() != before)
    }

    /// Adds a client secret. With `value` None a random one is generated (as
    /// Entra does); the value is returned once and only its hash is kept.
    pub fn add_client_secret(
        &self,
        client_id: &str,
        value: Option<String>,
        expires_at: DateTime<Utc>,
    ) -> Result<NewClientSecret, IdentityAdminError> {
        let secret_text = value.unwrap_or_else(generate_secret_text);
        let hint: String = secret_text.chars().take(3).collect();
        let credential = SecretCredential {
            key_id: Uuid::new_v4(),
            value_sha256: sha2::Sha256::digest(secret_text.as_bytes()).into(),
            hint: hint.clone(),
            expires_at,
        };
        let key_id = credential.key_id;
        let mut apps = write(&self.apps);
        let app = apps
            .get_mut(&client_key(client_id))
            .ok_or_else(|| IdentityAdminError::UnknownApp(client_id.to_owned()))?;
        app.secrets.push(credential);
        Ok(NewClientSecret {
            key_id,
            secret_text,
            hint,
            expires_at,
        })
    }

    /// Admin consent in `tenant_id`: grants `roles` (None = every requested
    /// role), creating the service principal there if needed (multi-tenant apps).
    pub fn grant_consent(
        &self,
        tenant_id: Uuid,
        client_id: &str,
        roles: Option<Vec<String>>,
    ) -> Result<AppView, IdentityAdminError> {
        if !self.tenant_exists(tenant_id) {
            return Err(IdentityAdminError::UnknownTenant(tenant_id.to_string()));
        }
        let key = client_key(client_id);
        let requested_roles = {
            let apps = read(&self.apps);
            let app = apps
                .get(&key)
                .ok_or_else(|| IdentityAdminError::UnknownApp(client_id.to_owned()))?;
            if app.home_tenant != tenant_id && !app.multi_tenant {
                return Err(IdentityAdminError::SingleTenantApp {
                    tenant_id,
                    client_id: key.clone(),
                });
            }
            app.requested_roles.clone()
        };
        let roles_to_grant: BTreeSet<String> = match roles {
            None => requested_roles,
            Some(listed) => {
                for role in &listed {
                    if !requested_roles.contains(role) {
                        return Err(IdentityAdminError::UnknownRole(role.clone()));
                    }
                }
                listed.into_iter().collect()
            }
        };
        {
            let mut service_principals = write(&self.service_principals);
            let service_principal = service_principals
                .entry((tenant_id, key.clone()))
                .or_default();
            // Admin-API consent stands in for the portal's and takes effect at once.
            for role in roles_to_grant {
                service_principal
                    .granted_roles
                    .entry(role)
                    .or_insert_with(|| RoleGrant::new(Utc::now(), 0));
            }
            service_principal.admin_consented = true;
        }
        self.show_app(tenant_id, &key)
    }

    /// Removes one granted app role (e.g. `Contacts.ReadWrite`); tokens issued
    /// afterwards no longer carry it.
    pub fn revoke_role(
        &self,
        tenant_id: Uuid,
        client_id: &str,
        role: &str,
    ) -> Result<AppView, IdentityAdminError> {
        self.with_service_principal(tenant_id, client_id, |service_principal| {
            service_principal.granted_roles.remove(role);
        })?;
        self.show_app(tenant_id, client_id)
    }

    /// Revokes every grant of the app in the tenant.
    pub fn revoke_consent(
        &self,
        tenant_id: Uuid,
        client_id: &str,
    ) -> Result<AppView, IdentityAdminError> {
        self.with_service_principal(tenant_id, client_id, |service_principal| {
            service_principal.granted_roles.clear();
            service_principal.admin_consented = false;
        })?;
        self.show_app(tenant_id, client_id)
    }

    /// Decides what the admin answers on the next `/adminconsent` visit for
    /// this app in this tenant (standing in for the admin's click).
    pub fn set_consent_decision(
        &self,
        tenant_id: Uuid,
        client_id: &str,
        decision: ConsentDecision,
    ) -> Result<(), IdentityAdminError> {
        if !self.tenant_exists(tenant_id) {
            return Err(IdentityAdminError::UnknownTenant(tenant_id.to_string()));
        }
        let key = client_key(client_id);
        if !read(&self.apps).contains_key(&key) {
            return Err(IdentityAdminError::UnknownApp(client_id.to_owned()));
        }
        write(&self.consent_decisions).insert((tenant_id, key), decision);
        Ok(())
    }

    /// Creates the app's service principal in `tenant_id` when missing (an
    /// admin of that tenant signed in to a multi-tenant app and consented).
    pub(super) fn ensure_service_principal(&self, tenant_id: Uuid, client_id: &str) {
        write(&self.service_principals)
            .entry((tenant_id, client_key(client_id)))
            .or_default();
    }

    /// The tenant in which an admin decision for `client_id` is pending, when
    /// exactly one is (admin consent on `/organizations`).
    pub(super) fn tenant_with_pending_decision(&self, client_id: &str) -> Option<Uuid> {
        let key = client_key(client_id);
        let decisions = read(&self.consent_decisions);
        let mut pending = decisions
            .keys()
            .filter(|(_, app)| *app == key)
            .map(|(tenant_id, _)| *tenant_id);
        let first = pending.next()?;
        match pending.next() {
            Some(_) => None,
            None => Some(first),
        }
    }

    /// Takes the pending consent decision, if any.
    pub(super) fn take_consent_decision(
        &self,
        tenant_id: Uuid,
        client_id: &str,
    ) -> Option<ConsentDecision> {
        write(&self.consent_decisions).remove(&(tenant_id, client_key(client_id)))
    }

    /// The app as seen from `tenant_id`: credentials (thumbprints, secret
    /// hints), requested and granted roles, consent state.
    pub fn show_app(
        &self,
        tenant_id: Uuid,
        client_id: &str,
    ) -> Result<AppView, IdentityAdminError> {
        let key = client_key(client_id);
        let apps = read(&self.apps);
        let app = apps
            .get(&key)
            .ok_or_else(|| IdentityAdminError::UnknownApp(client_id.to_owned()))?;
        let service_principals = read(&self.service_principals);
        let service_principal = service_principals.get(&(tenant_id, key));
        Ok(AppView {
            client_id: app.client_id.clone(),
            home_tenant: app.home_tenant,
            display_name: app.display_name.clone(),
            requested_roles: app.requested_roles.iter().cloned().collect(),
            requested_scopes: app.requested_scopes.iter().cloned().collect(),
            redirect_uris: app.redirect_uris.clone(),
            multi_tenant: app.multi_tenant,
            public_client: app.public_client,
            certificates: app
                .certificates
                .iter()
                .map(|certificate| certificate.view())
                .collect(),
            secrets: app
                .secrets
                .iter()
                .map(|secret| SecretView {
                    key_id: secret.key_id,
                    hint: secret.hint.clone(),
                    expires_at: secret.expires_at,
                })
                .collect(),
            tenant_id,
            service_principal_id: service_principal.map(|principal| principal.object_id),
            admin_consented: service_principal.is_some_and(|principal| principal.admin_consented),
            granted_roles: service_principal
                .map(|principal| principal.granted_roles.keys().cloned().collect())
                .unwrap_or_default(),
            exchange_scope: service_principal.and_then(|principal| {
                principal.exchange_scope.as_ref().map(|scope| {
                    let mut ids: Vec<String> = scope.iter().cloned().collect();
                    ids.sort();
                    ids
                })
            }),
            exchange_role_assignments: service_principal
                .map(|principal| {
                    principal
                        .exchange_role_assignments
                        .iter()
                        .map(|(permission, scope)| {
                            let scope = scope.as_ref().map(|ids| {
                                let mut ids: Vec<String> = ids.iter().cloned().collect();
                                ids.sort();
                                ids
                            });
                            (
                                format!("{EXCHANGE_APPLICATION_ROLE_PREFIX}{permission}"),
                                scope,
                            )
                        })
                        .collect()
                })
                .unwrap_or_default(),
            pending_consent_decision: read(&self.consent_decisions)
                .get(&(tenant_id, client_key(client_id)))
                .cloned(),
        })
    }

    pub(super) fn with_service_principal(
        &self,
        tenant_id: Uuid,
        client_id: &str,
        change: impl FnOnce(&mut ServicePrincipal),
    ) -> Result<(), IdentityAdminError> {
        let key = client_key(client_id);
        if !read(&self.apps).contains_key(&key) {
            return Err(IdentityAdminError::UnknownApp(client_id.to_owned()));
        }
        let mut service_principals = write(&self.service_principals);
        let service_principal = service_principals
            .get_mut(&(tenant_id, key.clone()))
            .ok_or(IdentityAdminError::NoServicePrincipal {
                tenant_id,
                client_id: key,
            })?;
        change(service_principal);
        Ok(())
    }
}

/// A secret value shaped like Entra's: 40 characters with a `~`.
fn generate_secret_text() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    let mut random = [0_u8; 40];
    rand::thread_rng().fill_bytes(&mut random);
    let mut text: String = random
        .iter()
        .map(|byte| ALPHABET[usize::from(*byte) % ALPHABET.len()] as char)
        .collect();
    text.replace_range(3..4, "~");
    text
}
