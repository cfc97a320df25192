//! Uploading a rotated certificate to the app registration, when the
//! administrator allowed it for the tenant (`--upload-rotated-certificates`).
//!
//! The broker acts as the app itself: an app-only token of the app (signed
//! with the active certificate) and Graph's `addKey`, whose proof of
//! possession is signed by the active certificate; no Graph permission is
//! needed to roll an app's own keys
//! (https://learn.microsoft.com/graph/api/application-addkey). Once Entra
//! accepts the new certificate (the usual activation on the next token
//! request), the retired one is removed with `removeKey`, proven with the
//! new certificate (https://learn.microsoft.com/graph/api/application-removekey).
//!
//! A failed upload changes nothing: the new certificate stays
//! pending-registration and the active one keeps signing. Only thumbprints
//! and key ids are logged or audited, never key material or tokens.

use galsync_graph::identity::{AssertionAlgorithm, CertificateCredential, PrivateKey};
use galsync_platform::CallerIdentity;
use secrecy::ExposeSecret;
use serde_json::{json, Value};

use crate::broker::Broker;
use crate::error::BrokerError;
use crate::store::{AppRow, CertificateRow, TenantRow};
use crate::tokens::{certificate_context, STATE_ACTIVE, STATE_RETIRED};

/// What became of a new certificate's upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadOutcome {
    /// The tenant does not allow uploads: an administrator uploads the `.cer`.
    NotAllowed,
    /// On the app registration; `key_id` is Graph's id of the key.
    Uploaded { key_id: String },
    /// Not uploaded; the reason names the fix.
    Failed { reason: String },
}

impl UploadOutcome {
    /// One line for people: what happened and what to do.
    pub fn describe(&self, app: &str, thumbprint: &str) -> String {
        match self {
            UploadOutcome::NotAllowed => format!(
                "upload galsync-{thumbprint}.cer to the app registration {app} (Certificates & secrets), \
                 or let galsync do it: galsync tenant update --upload-rotated-certificates on"
            ),
            UploadOutcome::Uploaded { key_id } => {
                format!("uploaded to app {app} (keyId {key_id}); it signs once Entra accepts it")
            }
            UploadOutcome::Failed { reason } => format!(
                "not uploaded to app {app}: {reason}; upload galsync-{thumbprint}.cer to the app \
                 registration by hand (Certificates & secrets) — the current certificate keeps signing"
            ),
        }
    }
}

/// A Graph URL under `/v1.0` for the tenant's Graph host.
fn graph_url(tenant: &TenantRow, path: &str) -> String {
    let host = tenant
        .graph_base_url
        .trim_end_matches('/')
        .trim_end_matches("/v1.0");
    format!("{host}/v1.0{path}")
}

/// Graph's error in one line: `code: message`.
fn graph_error_text(status: u16, body: &Value) -> String {
    let code = body["error"]["code"].as_str().unwrap_or("unknown");
    let message = body["error"]["message"].as_str().unwrap_or("");
    format!("graph answered {status} {code}: {message}")
}

impl Broker {
    /// The certificate with its private key, for signing a proof.
    fn signing_credential(
        &self,
        certificate: &CertificateRow,
    ) -> Result<CertificateCredential, BrokerError> {
        let key_der = self.master_key.open(
            &certificate_context(&certificate.certificate_id),
            &certificate.sealed_private_key,
        )?;
        let private_key = PrivateKey::from_pkcs8_der(&key_der)
            .map_err(|error| BrokerError::Internal(error.to_string()))?;
        CertificateCredential::new(
            certificate.der.clone(),
            private_key,
            AssertionAlgorithm::Rs256,
        )
        .map_err(|error| BrokerError::Internal(error.to_string()))
    }

    /// Uploads the public part of `new_certificate` (pending) with `addKey`
    /// when the tenant allows it. Never fails the rotation: a refusal is an
    /// outcome with the fix, audited.
    pub(crate) async fn upload_rotated_certificate(
        &self,
        caller: &CallerIdentity,
        tenant: &TenantRow,
        app: &AppRow,
        new_certificate: &CertificateRow,
    ) -> Result<UploadOutcome, BrokerError> {
        if !self
            .store
            .upload_rotated_certificates(&tenant.tenant_id)
            .await?
        {
            return Ok(UploadOutcome::NotAllowed);
        }
        let outcome = match self.add_key(tenant, app, new_certificate).await {
            Ok(key_id) => {
                self.store
                    .set_certificate_app_key_id(&new_certificate.certificate_id, Some(&key_id))
                    .await?;
                // The next token request tries the new certificate at once.
                self.store
                    .clear_certificate_probe(&new_certificate.certificate_id)
                    .await?;
                self.tokens
                    .invalidate(&tenant.tenant_id, &app.client_id)
                    .await;
                UploadOutcome::Uploaded { key_id }
            }
            Err(reason) => UploadOutcome::Failed { reason },
        };
        let (kind, detail) = match &outcome {
            UploadOutcome::Uploaded { key_id } => (
                "certificate.uploaded",
                format!(
                    "thumbprint {} added to app {} with addKey (keyId {key_id})",
                    new_certificate.thumbprint_sha1, app.client_id
                ),
            ),
            UploadOutcome::Failed { reason } => {
                tracing::warn!(
                    tenant = %tenant.tenant_id,
                    client_id = %app.client_id,
                    thumbprint = %new_certificate.thumbprint_sha1,
                    reason = %reason,
                    "the rotated certificate was not uploaded; it stays pending registration"
                );
                (
                    "certificate.upload_failed",
                    format!(
                        "thumbprint {} for app {}: {reason}",
                        new_certificate.thumbprint_sha1, app.client_id
                    ),
                )
            }
            UploadOutcome::NotAllowed => return Ok(outcome),
        };
        self.audit
            .record(kind, caller, &tenant.tenant_id, None, &detail, None)
            .await?;
        Ok(outcome)
    }

    /// `addKey` as the app; the key id, or why not (with the fix).
    async fn add_key(
        &self,
        tenant: &TenantRow,
        app: &AppRow,
        new_certificate: &CertificateRow,
    ) -> Result<String, String> {
        let Some(object_id) = self
            .store
            .app_object_id(&tenant.tenant_id, &app.client_id)
            .await
            .map_err(|error| error.to_string())?
        else {
            return Err(format!(
                "galsync does not know the object id of app {} (it learns it from \
                 `galsync tenant provision` or `galsync tenant adopt`)",
                app.client_id
            ));
        };
        let now = self.clock.now_millis();
        let certificates = self
            .store
            .list_certificates(&tenant.tenant_id, Some(&app.client_id))
            .await
            .map_err(|error| error.to_string())?;
        let Some(active) = certificates
            .iter()
            .find(|row| row.state == STATE_ACTIVE && row.not_after > now)
        else {
            return Err(
                "no active certificate to prove possession with (addKey needs one Entra accepts)"
                    .to_owned(),
            );
        };
        let (token, proof) = self
            .app_token_and_proof(tenant, app, active, &object_id)
            .await?;
        let body = json!({
            "keyCredential": {
                "type": "AsymmetricX509Cert",
                "usage": "Verify",
                "key": base64::Engine::encode(
                    &base64::engine::general_purpose::STANDARD,
                    &new_certificate.der,
                ),
                "displayName": new_certificate.subject,
            },
            "passwordCredential": null,
            "proof": proof.expose_secret(),
        });
        let url = graph_url(tenant, &format!("/applications/{object_id}/addKey"));
        let (status, answer) = self.post_as_app(&url, &token, &body).await?;
        if status != 200 {
            return Err(graph_error_text(status, &answer));
        }
        answer["keyId"]
            .as_str()
            .map(str::to_owned)
            .ok_or_else(|| "graph answered addKey without a keyId".to_owned())
    }

    /// An app-only token of the app signed with `signer`, and a proof of
    /// possession of `signer`'s key for the application `object_id`.
    async fn app_token_and_proof(
        &self,
        tenant: &TenantRow,
        app: &AppRow,
        signer: &CertificateRow,
        object_id: &str,
    ) -> Result<(secrecy::SecretString, secrecy::SecretString), String> {
        let identity = self
            .tokens
            .identity_client(tenant)
            .map_err(|error| error.to_string())?;
        let token = self
            .tokens
            .request_with_certificate(&identity, app, signer)
            .await
            .map_err(|error| format!("no app-only token for app {}: {error}", app.client_id))?;
        let proof = self
            .signing_credential(signer)
            .and_then(|credential| {
                credential
                    .proof_of_possession(object_id)
                    .map_err(|error| BrokerError::Internal(error.to_string()))
            })
            .map_err(|error| format!("failed to sign the proof of possession: {error}"))?;
        Ok((token.value.clone(), proof))
    }

    async fn post_as_app(
        &self,
        url: &str,
        token: &secrecy::SecretString,
        body: &Value,
    ) -> Result<(u16, Value), String> {
        let response = self
            .http
            .post(url)
            .bearer_auth(token.expose_secret())
            .json(body)
            .send()
            .await
            .map_err(|error| format!("graph could not be reached: {error}"))?;
        let status = response.status().as_u16();
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        Ok((status, answer))
    }

    /// After Entra accepted `promoted_certificate_id`: removes from the app
    /// registration each retired certificate of the app whose key id the
    /// broker knows, proven with the new certificate. Failures are logged and
    /// audited with the fix; they never fail the token request.
    pub(crate) async fn remove_retired_keys(
        &self,
        caller: &CallerIdentity,
        tenant_id: &str,
        promoted_certificate_id: &str,
    ) -> Result<(), BrokerError> {
        if !self.store.upload_rotated_certificates(tenant_id).await? {
            return Ok(());
        }
        let promoted = self.certificate(promoted_certificate_id).await?;
        let tenant = self.tenant(tenant_id).await?;
        let app = self.app(tenant_id, &promoted.client_id).await?;
        let Some(object_id) = self.store.app_object_id(tenant_id, &app.client_id).await? else {
            return Ok(());
        };
        let retired: Vec<CertificateRow> = self
            .store
            .list_certificates(tenant_id, Some(&app.client_id))
            .await?
            .into_iter()
            .filter(|row| row.state == STATE_RETIRED)
            .collect();
        for old in retired {
            let Some(key_id) = self
                .store
                .certificate_app_key_id(&old.certificate_id)
                .await?
            else {
                continue;
            };
            let removed = self
                .remove_key(&tenant, &app, &promoted, &object_id, &key_id)
                .await;
            let (kind, detail) = match removed {
                Ok(()) => {
                    self.store
                        .set_certificate_app_key_id(&old.certificate_id, None)
                        .await?;
                    (
                        "certificate.removed_from_app",
                        format!(
                            "thumbprint {} (keyId {key_id}) removed from app {} with removeKey",
                            old.thumbprint_sha1, app.client_id
                        ),
                    )
                }
                Err(reason) => {
                    tracing::warn!(
                        tenant = %tenant_id,
                        client_id = %app.client_id,
                        thumbprint = %old.thumbprint_sha1,
                        reason = %reason,
                        "the retired certificate is still on the app registration; delete it there"
                    );
                    (
                        "certificate.removal_failed",
                        format!(
                            "thumbprint {} (keyId {key_id}) stays on app {}: {reason}; delete it \
                             under Certificates & secrets",
                            old.thumbprint_sha1, app.client_id
                        ),
                    )
                }
            };
            self.audit
                .record(kind, caller, tenant_id, None, &detail, None)
                .await?;
        }
        Ok(())
    }

    async fn remove_key(
        &self,
        tenant: &TenantRow,
        app: &AppRow,
        signer: &CertificateRow,
        object_id: &str,
        key_id: &str,
    ) -> Result<(), String> {
        let (token, proof) = self
            .app_token_and_proof(tenant, app, signer, object_id)
            .await?;
        let body = json!({"keyId": key_id, "proof": proof.expose_secret()});
        let url = graph_url(tenant, &format!("/applications/{object_id}/removeKey"));
        let (status, answer) = self.post_as_app(&url, &token, &body).await?;
        if status == 204 || status == 200 {
            Ok(())
        } else {
            Err(graph_error_text(status, &answer))
        }
    }
}
