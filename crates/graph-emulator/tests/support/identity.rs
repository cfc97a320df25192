//! Shared helpers of the identity tests: RSA keys with self-signed
//! certificates (made once per test binary), a started emulator with one
//! tenant and one app, client assertions, and token requests over HTTP.

use std::sync::OnceLock;

use base64::Engine;
use galsync_graph_emulator::{Emulator, EmulatorConfig};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::pkcs8::EncodePrivateKey;
use serde_json::{json, Value};
use sha1::Digest;
use uuid::Uuid;

pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
pub const GRAPH_DEFAULT: &str = "https://graph.microsoft.com/.default";
pub const DOMAIN: &str = "contoso.example";
pub const REDIRECT_URI: &str = "http://127.0.0.1:50061/consent/callback";

/// An RSA key with a self-signed certificate, as galsync's auth-broker makes.
pub struct TestKey {
    pub private_pkcs1_der: Vec<u8>,
    pub private_pkcs8_pem: String,
    pub certificate_pem: String,
    pub certificate_der: Vec<u8>,
    pub sha1_thumbprint: [u8; 20],
    pub sha256_thumbprint: [u8; 32],
}

impl TestKey {
    fn generate(common_name: &str) -> TestKey {
        let mut rng = rand::thread_rng();
        let private_key = rsa::RsaPrivateKey::new(&mut rng, 2048).expect("rsa key generation");
        let pkcs8 = private_key.to_pkcs8_der().expect("pkcs8 encoding");
        let key_pair = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(
            &pkcs8.as_bytes().into(),
            &rcgen::PKCS_RSA_SHA256,
        )
        .expect("rcgen key pair");
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, common_name);
        let certificate = params
            .self_signed(&key_pair)
            .expect("self-signed certificate");
        let certificate_der = certificate.der().to_vec();
        TestKey {
            private_pkcs1_der: private_key
                .to_pkcs1_der()
                .expect("pkcs1")
                .as_bytes()
                .to_vec(),
            private_pkcs8_pem: private_key
                .to_pkcs8_pem(rsa::pkcs8::LineEnding::LF)
                .expect("pkcs8 pem")
                .to_string(),
            certificate_pem: certificate.pem(),
            sha1_thumbprint: sha1::Sha1::digest(&certificate_der).into(),
            sha256_thumbprint: sha2::Sha256::digest(&certificate_der).into(),
            certificate_der,
        }
    }

    pub fn sha1_hex(&self) -> String {
        hex::encode_upper(self.sha1_thumbprint)
    }
}

/// The certificate galsync registers on its app.
pub fn app_key() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| TestKey::generate("galsync app"))
}

/// A key whose certificate is never registered.
pub fn stranger_key() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| TestKey::generate("someone else"))
}

/// The certificate of an app created through Graph (provisioning tests).
pub fn provisioned_key() -> &'static TestKey {
    static KEY: OnceLock<TestKey> = OnceLock::new();
    KEY.get_or_init(|| TestKey::generate("galsync provisioned"))
}

/// A running emulator with tenant `contoso.example` and one registered app
/// (certificate of [`app_key`] uploaded, nothing consented yet).
pub struct TestTenant {
    pub emulator: Emulator,
    pub base: String,
    pub tenant_id: Uuid,
    pub client_id: String,
    pub http: reqwest::Client,
}

pub async fn start() -> TestTenant {
    let emulator = Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator starts");
    let base = emulator.base_url();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("http client");
    let tenant: Value = admin_post(
        &http,
        &format!("{base}/_admin/tenants"),
        json!({"domains": [DOMAIN]}),
    )
    .await;
    let tenant_id: Uuid = tenant["tenant_id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("tenant id");
    let app = admin_post(
        &http,
        &format!("{base}/_admin/tenants/{DOMAIN}/apps"),
        json!({
            "display_name": "galsync",
            "requested_roles": ["User.Read.All", "Group.Read.All", "Contacts.ReadWrite"],
            "requested_scopes": ["Application.ReadWrite.All"],
            "redirect_uris": [REDIRECT_URI],
        }),
    )
    .await;
    let client_id = app["client_id"].as_str().expect("client id").to_owned();
    let uploaded = http
        .post(format!(
            "{base}/_admin/tenants/{tenant_id}/apps/{client_id}/certificates"
        ))
        .json(&json!({"certificate": app_key().certificate_pem}))
        .send()
        .await
        .expect("upload certificate");
    assert_eq!(uploaded.status(), 201, "certificate upload");
    TestTenant {
        emulator,
        base,
        tenant_id,
        client_id,
        http,
    }
}

pub async fn admin_post(http: &reqwest::Client, url: &str, body: Value) -> Value {
    let response = http.post(url).json(&body).send().await.expect("admin call");
    let status = response.status();
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    assert!(
        status.is_success(),
        "admin call {url} failed: {status} {answer}"
    );
    answer
}

impl TestTenant {
    pub fn token_url(&self) -> String {
        format!("{}/{}/oauth2/v2.0/token", self.base, self.tenant_id)
    }

    pub fn app_admin_url(&self, suffix: &str) -> String {
        format!(
            "{}/_admin/tenants/{}/apps/{}{suffix}",
            self.base, self.tenant_id, self.client_id
        )
    }

    pub async fn consent_all(&self) {
        admin_post(&self.http, &self.app_admin_url("/consent"), json!({})).await;
    }

    /// A client secret for this tenant's app; the secret's text.
    pub async fn add_secret(&self) -> String {
        self.add_client_secret(&self.tenant_id.to_string(), &self.client_id)
            .await
    }

    /// A client secret for the app `client_id` of `tenant` (its id or one
    /// of its domains), through the admin API; the secret's text.
    pub async fn add_client_secret(&self, tenant: &str, client_id: &str) -> String {
        let secret = admin_post(
            &self.http,
            &format!(
                "{}/_admin/tenants/{tenant}/apps/{client_id}/secrets",
                self.base
            ),
            json!({}),
        )
        .await;
        secret["secret_text"].as_str().expect("secret").to_owned()
    }

    /// Another tenant (a customer's) with `domain`, through the admin API;
    /// its id.
    pub async fn add_customer_tenant(&self, domain: &str) -> String {
        let customer = admin_post(
            &self.http,
            &format!("{}/_admin/tenants", self.base),
            json!({"domains": [domain]}),
        )
        .await;
        customer["tenant_id"]
            .as_str()
            .expect("tenant id")
            .to_owned()
    }

    /// The signing keys the emulator publishes at `path` (e.g.
    /// `/{tenant}/discovery/v2.0/keys`).
    pub async fn jwks(&self, path: &str) -> Value {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("jwks")
            .json()
            .await
            .expect("jwks json")
    }

    /// Claims of a client assertion for this app, valid for ten minutes.
    pub fn assertion_claims(&self) -> Value {
        let now = self.emulator.state.clock.unix_now();
        json!({
            "aud": format!("https://login.microsoftonline.com/{}/oauth2/v2.0/token", self.tenant_id),
            "iss": self.client_id,
            "sub": self.client_id,
            "jti": Uuid::new_v4().to_string(),
            "nbf": now,
            "iat": now,
            "exp": now + 600,
        })
    }

    /// POSTs a token request; returns the status and JSON body.
    pub async fn token_request(&self, tenant: &str, form: &[(&str, &str)]) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}/{tenant}/oauth2/v2.0/token", self.base))
            .form(form)
            .send()
            .await
            .expect("token request");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// A client-credentials request with `assertion`.
    pub async fn client_credentials(&self, assertion: &str) -> (u16, Value) {
        let tenant = self.tenant_id.to_string();
        self.token_request(
            &tenant,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &self.client_id),
                ("scope", GRAPH_DEFAULT),
                ("client_assertion_type", JWT_BEARER),
                ("client_assertion", assertion),
            ],
        )
        .await
    }
}

impl TestTenant {
    /// Signs `upn` in with the device-code flow through this tenant's app
    /// (authenticated with a new client secret) asking for `scope`; returns
    /// the delegated access token.
    pub async fn delegated_token(&self, upn: &str, scope: &str) -> String {
        let secret = self.add_secret().await;
        let flow: Value = self
            .http
            .post(format!(
                "{}/{}/oauth2/v2.0/devicecode",
                self.base, self.tenant_id
            ))
            .form(&[("client_id", self.client_id.as_str()), ("scope", scope)])
            .send()
            .await
            .expect("devicecode")
            .json()
            .await
            .expect("devicecode json");
        let user_code = flow["user_code"].as_str().expect("user_code");
        admin_post(
            &self.http,
            &format!("{}/_admin/devicecodes/{user_code}/approve", self.base),
            json!({"upn": upn}),
        )
        .await;
        let tenant = self.tenant_id.to_string();
        let (status, body) = self
            .token_request(
                &tenant,
                &[
                    ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
                    ("client_id", &self.client_id),
                    ("client_secret", &secret),
                    (
                        "device_code",
                        flow["device_code"].as_str().expect("device_code"),
                    ),
                ],
            )
            .await;
        assert_eq!(status, 200, "device code redeemed: {body}");
        body["access_token"]
            .as_str()
            .expect("access token")
            .to_owned()
    }

    /// Gives `upn` these Entra directory roles (display names).
    pub async fn set_directory_roles(&self, upn: &str, roles: &[&str]) {
        let response = self
            .http
            .put(format!(
                "{}/_admin/tenants/{}/users/{upn}/directory-roles",
                self.base, self.tenant_id
            ))
            .json(&json!({"roles": roles}))
            .send()
            .await
            .expect("set directory roles");
        assert_eq!(response.status(), 200, "directory roles set");
    }

    /// A Graph call with `token`; returns the status and the JSON body (Null when empty).
    pub async fn graph(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let mut request = self
            .http
            .request(method, format!("{}/v1.0{path}", self.base))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("graph call");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

/// How the assertion names its certificate.
pub enum Thumbprint {
    /// `x5t`: SHA-1, base64url without padding (what MSAL sends).
    Sha1UrlSafe,
    /// `x5t`: SHA-1, standard base64 with padding.
    Sha1Standard,
    /// `x5t#S256`: SHA-256, base64url.
    Sha256,
}

/// Signs `claims` with `key`, naming the certificate of `named` in the header.
pub fn sign_assertion(
    key: &TestKey,
    named: &TestKey,
    algorithm: Algorithm,
    thumbprint: Thumbprint,
    claims: &Value,
) -> String {
    let mut header = Header::new(algorithm);
    match thumbprint {
        Thumbprint::Sha1UrlSafe => {
            header.x5t =
                Some(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(named.sha1_thumbprint))
        }
        Thumbprint::Sha1Standard => {
            header.x5t =
                Some(base64::engine::general_purpose::STANDARD.encode(named.sha1_thumbprint))
        }
        Thumbprint::Sha256 => {
            header.x5t_s256 = Some(
                base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(named.sha256_thumbprint),
            )
        }
    }
    let encoding_key = EncodingKey::from_rsa_der(&key.private_pkcs1_der);
    jsonwebtoken::encode(&header, claims, &encoding_key).expect("sign assertion")
}

/// The usual assertion: RS256, the app's key, `x5t` base64url.
pub fn rs256(claims: &Value) -> String {
    sign_assertion(
        app_key(),
        app_key(),
        Algorithm::RS256,
        Thumbprint::Sha1UrlSafe,
        claims,
    )
}

/// Claims of a JWT, without verifying it.
pub fn jwt_claims(token: &str) -> Value {
    let payload = token.split('.').nth(1).expect("jwt payload");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url payload");
    serde_json::from_slice(&bytes).expect("json claims")
}

/// Asserts an Entra error: status, OAuth error and AADSTS code.
pub fn assert_entra_error(answer: &(u16, Value), status: u16, error: &str, code: u64) {
    let (actual_status, body) = answer;
    assert_eq!(*actual_status, status, "status of {body}");
    assert_eq!(body["error"], error, "error of {body}");
    assert_eq!(body["error_codes"], json!([code]), "error_codes of {body}");
    let description = body["error_description"].as_str().unwrap_or_default();
    assert!(
        description.starts_with(&format!("AADSTS{code}: ")),
        "description of {body}"
    );
    for field in ["trace_id", "correlation_id", "timestamp"] {
        assert!(body[field].is_string(), "{field} missing in {body}");
    }
}

/// A PKCE pair: (code_verifier, S256 code_challenge).
pub fn pkce_pair() -> (String, String) {
    use rand::RngCore;
    let mut random = [0_u8; 32];
    rand::thread_rng().fill_bytes(&mut random);
    let verifier = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random);
    let challenge = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(verifier.as_bytes()));
    (verifier, challenge)
}

impl TestTenant {
    /// Adds a licensed user and a security group holding them (made through
    /// the Rust API); returns (user object id, group id).
    pub fn user_in_new_group(&self, display_name: &str, upn: &str, group: &str) -> (String, Uuid) {
        let directory = &self.emulator.state.directory;
        let user_id = directory.add_mailbox_user(self.tenant_id, display_name, upn, true);
        let mut new_group = galsync_graph_emulator::seeding::Group::new_security(group);
        new_group
            .members
            .push(galsync_graph_emulator::seeding::MemberRef::User(
                user_id.parse().expect("user id"),
            ));
        let group_id = directory
            .create_group(self.tenant_id, new_group)
            .expect("create group");
        (user_id, group_id)
    }

    /// The emulated browser of this tenant is signed in as `upn`.
    pub async fn browser_sign_in(&self, upn: &str) {
        admin_post(
            &self.http,
            &format!(
                "{}/_admin/tenants/{}/browser-sign-in",
                self.base, self.tenant_id
            ),
            json!({"upn": upn}),
        )
        .await;
    }

    /// `GET /authorize` with `parameters`; returns the status and the
    /// Location header (the redirect back to the app), if any.
    pub async fn authorize(&self, parameters: &[(&str, &str)]) -> (u16, Option<url::Url>) {
        let response = self
            .http
            .get(format!(
                "{}/{}/oauth2/v2.0/authorize",
                self.base, self.tenant_id
            ))
            .query(parameters)
            .send()
            .await
            .expect("authorize");
        let location = response
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| url::Url::parse(value).ok());
        (response.status().as_u16(), location)
    }

    /// A well-formed authorize request: (code, verifier) after the redirect.
    pub async fn authorization_code(&self, nonce: &str) -> (String, String) {
        self.authorization_code_for(nonce, "openid profile").await
    }

    /// [`TestTenant::authorization_code`] asking for `scope`.
    pub async fn authorization_code_for(&self, nonce: &str, scope: &str) -> (String, String) {
        let (verifier, challenge) = pkce_pair();
        let (status, location) = self
            .authorize(&[
                ("client_id", self.client_id.as_str()),
                ("response_type", "code"),
                ("redirect_uri", REDIRECT_URI),
                ("scope", scope),
                ("state", "s1"),
                ("nonce", nonce),
                ("code_challenge", challenge.as_str()),
                ("code_challenge_method", "S256"),
            ])
            .await;
        assert_eq!(status, 302, "authorize redirects back");
        let location = location.expect("location");
        let code = query_value(&location, "code").expect("code in redirect");
        assert_eq!(query_value(&location, "state").as_deref(), Some("s1"));
        (code, verifier)
    }
}

/// One query parameter of a URL.
pub fn query_value(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}
