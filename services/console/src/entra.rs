//! The console as an OpenID Connect client of Microsoft Entra ID: the
//! authorize URL it sends people to, the code exchange at the token
//! endpoint, and the authority's key set (fetched from the discovery
//! document, cached, fetched again once when a token names a key it does
//! not hold, as after Entra rolls its keys).
//!
//! Followed: <https://learn.microsoft.com/entra/identity-platform/v2-oauth2-auth-code-flow>,
//! <https://learn.microsoft.com/entra/identity-platform/signing-key-rollover>.

use std::time::Duration;

use galsync_graph::identity::ClientCredential;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::config::EntraFlags;
use crate::oidc::{
    validate_id_token, IdTokenRefusal, IdentityClaims, PendingFlow, PendingFlows, RoleGroups,
};

/// How long a sign-in may take between the start and the callback.
pub const FLOW_LIFETIME: Duration = Duration::from_secs(600);

/// A client assertion signed with the certificate's key.
const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// Each call to the authority.
const HTTP_TIMEOUT: Duration = Duration::from_secs(15);

/// The endpoints of the authority's discovery document the console uses.
#[derive(Debug, Clone, Deserialize)]
struct Discovery {
    issuer: String,
    token_endpoint: String,
    jwks_uri: String,
    /// Where a browser signs out of Entra (OpenID Connect RP-initiated
    /// logout); absent from some authorities.
    #[serde(default)]
    end_session_endpoint: String,
}

#[derive(Deserialize)]
struct TokenAnswer {
    id_token: Option<String>,
    /// A delegated Microsoft Graph token (`User.Read`), used only to ask
    /// for the person's role groups on the groups overage, then dropped.
    access_token: Option<String>,
}

/// The scopes the console asks for: the ID token (`openid profile`) and a
/// Graph token for `POST /me/checkMemberGroups` on the groups overage
/// (`User.Read`, which a new app registration has already).
/// <https://learn.microsoft.com/graph/api/user-checkmembergroups>
pub const SCOPE: &str = "openid profile User.Read";

/// A person Microsoft signed in: the ID token's claims, and the delegated
/// Graph token that came with it.
pub struct SignedIn {
    pub claims: IdentityClaims,
    pub graph_token: Option<SecretString>,
}

#[derive(Deserialize)]
struct TokenError {
    #[serde(default)]
    error: String,
    #[serde(default)]
    error_description: String,
}

/// Why a callback did not sign anybody in.
#[derive(Debug, thiserror::Error)]
pub enum SignInFailure {
    #[error("cannot reach Microsoft Entra ID at {url}: {problem}")]
    Unreachable { url: String, problem: String },
    #[error("Microsoft Entra ID refused the sign-in: {error}: {description}")]
    Refused { error: String, description: String },
    #[error(transparent)]
    IdToken(#[from] IdTokenRefusal),
    #[error("the console cannot sign its client assertion: {0}")]
    Credential(String),
    #[error("{0}")]
    Groups(String),
}

/// Entra sign-in as configured.
pub struct Entra {
    authority: String,
    tenant_id: String,
    client_id: String,
    credential: ClientCredential,
    pub role_groups: RoleGroups,
    /// Microsoft Graph, without a trailing slash.
    pub(crate) graph_url: String,
    redirect_uri: String,
    /// Where Entra sends the browser back after signing out: the sign-in
    /// page, registered as a redirect URI of the console's app.
    post_logout_redirect_uri: String,
    pub flows: PendingFlows,
    pub(crate) http: reqwest::Client,
    discovery: tokio::sync::Mutex<Option<Discovery>>,
    jwks: tokio::sync::Mutex<Option<serde_json::Value>>,
}

impl std::fmt::Debug for Entra {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Entra")
            .field("authority", &self.authority)
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

impl Entra {
    pub fn new(
        flags: EntraFlags,
        credential: ClientCredential,
        public_url: &str,
    ) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder()
            .timeout(HTTP_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()?;
        Ok(Self {
            authority: flags.authority,
            tenant_id: flags.tenant_id,
            client_id: flags.client_id,
            credential,
            role_groups: flags.role_groups,
            graph_url: flags.graph_url,
            redirect_uri: format!("{public_url}/auth/entra/callback"),
            post_logout_redirect_uri: format!("{public_url}/sign-in"),
            flows: PendingFlows::new(FLOW_LIFETIME),
            http,
            discovery: tokio::sync::Mutex::new(None),
            jwks: tokio::sync::Mutex::new(None),
        })
    }

    /// Where the browser goes to sign out of Microsoft too: the discovery
    /// document's `end_session_endpoint` (the v2.0 logout endpoint when the
    /// document cannot be read), back to the console's sign-in page.
    pub async fn logout_url(&self) -> String {
        let endpoint = match self.discovery().await {
            Ok(discovery) if !discovery.end_session_endpoint.is_empty() => {
                discovery.end_session_endpoint
            }
            _ => format!("{}/{}/oauth2/v2.0/logout", self.authority, self.tenant_id),
        };
        let parameters = [(
            "post_logout_redirect_uri",
            self.post_logout_redirect_uri.as_str(),
        )];
        match url::Url::parse_with_params(&endpoint, parameters) {
            Ok(url) => url.into(),
            Err(_) => endpoint,
        }
    }

    /// Where the browser goes to sign in for `flow`.
    pub fn authorize_url(&self, flow: &PendingFlow) -> String {
        let endpoint = format!(
            "{}/{}/oauth2/v2.0/authorize",
            self.authority, self.tenant_id
        );
        let challenge = flow.code_challenge();
        let parameters = [
            ("client_id", self.client_id.as_str()),
            ("response_type", "code"),
            ("redirect_uri", self.redirect_uri.as_str()),
            ("response_mode", "query"),
            ("scope", SCOPE),
            ("state", flow.state.as_str()),
            ("nonce", flow.nonce.as_str()),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        match url::Url::parse_with_params(&endpoint, parameters) {
            Ok(url) => url.into(),
            // The authority was checked to be a URL at start.
            Err(_) => endpoint,
        }
    }

    /// Exchanges `code` with the flow's verifier and validates the ID token.
    pub async fn finish(&self, flow: &PendingFlow, code: &str) -> Result<SignedIn, SignInFailure> {
        let discovery = self.discovery().await?;
        let proof: SecretString = match &self.credential {
            ClientCredential::Secret(secret) => secret.clone(),
            ClientCredential::Certificate(certificate) => certificate
                .client_assertion(&self.client_id, &discovery.token_endpoint)
                .map_err(|error| SignInFailure::Credential(error.to_string()))?,
        };
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("client_id", self.client_id.as_str()),
            ("code", code),
            ("redirect_uri", self.redirect_uri.as_str()),
            ("code_verifier", flow.code_verifier.as_str()),
            ("scope", SCOPE),
        ];
        match &self.credential {
            ClientCredential::Secret(_) => form.push(("client_secret", proof.expose_secret())),
            ClientCredential::Certificate(_) => {
                form.push(("client_assertion_type", CLIENT_ASSERTION_TYPE));
                form.push(("client_assertion", proof.expose_secret()));
            }
        }
        let unreachable = |error: reqwest::Error| SignInFailure::Unreachable {
            url: discovery.token_endpoint.clone(),
            problem: error.to_string(),
        };
        let response = self
            .http
            .post(&discovery.token_endpoint)
            .form(&form)
            .send()
            .await
            .map_err(unreachable)?;
        if !response.status().is_success() {
            let status = response.status();
            let refusal: TokenError = response.json().await.unwrap_or(TokenError {
                error: format!("http {status}"),
                error_description: String::new(),
            });
            return Err(SignInFailure::Refused {
                error: refusal.error,
                description: refusal.error_description,
            });
        }
        let answer: TokenAnswer = response.json().await.map_err(unreachable)?;
        let graph_token = answer.access_token.map(SecretString::from);
        let Some(id_token) = answer.id_token else {
            return Err(SignInFailure::Refused {
                error: "no_id_token".to_owned(),
                description: "the token endpoint answered without an ID token".to_owned(),
            });
        };
        let jwks = self.jwks(&discovery, false).await?;
        let validate = |jwks: &serde_json::Value| {
            validate_id_token(
                &id_token,
                jwks,
                &discovery.issuer,
                &self.client_id,
                &self.tenant_id,
                &flow.nonce,
            )
        };
        let claims = match validate(&jwks) {
            Err(IdTokenRefusal::UnknownKey(kid)) => {
                // Entra may have rolled its keys since the set was cached.
                tracing::info!(
                    ?kid,
                    "an id token names a key not in the cached key set; fetching the set again"
                );
                let fresh = self.jwks(&discovery, true).await?;
                validate(&fresh)?
            }
            other => other?,
        };
        Ok(SignedIn {
            claims,
            graph_token,
        })
    }

    async fn discovery(&self) -> Result<Discovery, SignInFailure> {
        let mut cached = self.discovery.lock().await;
        if let Some(discovery) = cached.as_ref() {
            return Ok(discovery.clone());
        }
        let url = format!(
            "{}/{}/v2.0/.well-known/openid-configuration",
            self.authority, self.tenant_id
        );
        let mut discovery: Discovery = self.get_json(&url).await?;
        // A multi-tenant document names the issuer with a placeholder.
        discovery.issuer = discovery.issuer.replace("{tenantid}", &self.tenant_id);
        *cached = Some(discovery.clone());
        Ok(discovery)
    }

    async fn jwks(
        &self,
        discovery: &Discovery,
        refresh: bool,
    ) -> Result<serde_json::Value, SignInFailure> {
        let mut cached = self.jwks.lock().await;
        if !refresh {
            if let Some(jwks) = cached.as_ref() {
                return Ok(jwks.clone());
            }
        }
        let jwks: serde_json::Value = self.get_json(&discovery.jwks_uri).await?;
        *cached = Some(jwks.clone());
        Ok(jwks)
    }

    async fn get_json<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
    ) -> Result<T, SignInFailure> {
        let unreachable = |problem: String| SignInFailure::Unreachable {
            url: url.to_owned(),
            problem,
        };
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|error| unreachable(error.to_string()))?;
        if !response.status().is_success() {
            return Err(unreachable(format!("http {}", response.status())));
        }
        response
            .json()
            .await
            .map_err(|error| unreachable(error.to_string()))
    }
}
