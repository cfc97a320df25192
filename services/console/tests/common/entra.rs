//! Microsoft Entra ID as the console meets it in tests: the graph emulator
//! over real HTTP (authorize, token endpoint, discovery, RS256 ID tokens
//! verified with its published key set), a tenant with the console's app
//! registration, people in groups, and the browser's steps through the
//! sign-in done by hand (every redirect followed, every cookie carried).

use galsync_console::{Config, FLOW_COOKIE, SESSION_COOKIE};
use galsync_graph_emulator::seeding::{Group, MemberRef};
use galsync_graph_emulator::{Emulator, EmulatorConfig};
use galsync_testkit::scheduler::MtlsScheduler;
use reqwest::header::{LOCATION, SET_COOKIE};
use reqwest::StatusCode;
use serde_json::{json, Value};
use uuid::Uuid;

pub const DOMAIN: &str = "contoso.example";

pub struct EntraTenant {
    pub emulator: Emulator,
    pub base: String,
    pub tenant_id: Uuid,
    pub client_id: String,
    /// Plain HTTP, no redirect followed: the emulator and its admin API.
    pub http: reqwest::Client,
    pub admin_group: Uuid,
    pub viewer_group: Uuid,
    /// The console proves itself with a certificate (a client assertion)
    /// instead of a client secret.
    pub with_certificate: bool,
    /// More `--role-group` values than the admin and viewer groups.
    pub extra_role_groups: Vec<String>,
    /// `--role-app-role` values.
    pub role_app_roles: Vec<String>,
    secret_dir: Option<tempfile::TempDir>,
}

/// A PEM certificate and its PEM (PKCS#8) RSA key, self-signed.
fn certificate_and_key() -> (String, String) {
    use rsa::pkcs8::{EncodePrivateKey, LineEnding};
    let private_key =
        rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).expect("rsa key generation");
    let pkcs8 = private_key.to_pkcs8_der().expect("pkcs8 encoding");
    let key_pair = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(
        &pkcs8.as_bytes().into(),
        &rcgen::PKCS_RSA_SHA256,
    )
    .expect("rcgen key pair");
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).expect("params");
    params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "galsync console");
    let certificate = params
        .self_signed(&key_pair)
        .expect("self-signed certificate");
    let key_pem = private_key
        .to_pkcs8_pem(LineEnding::LF)
        .expect("pkcs8 pem")
        .to_string();
    (certificate.pem(), key_pem)
}

async fn admin_post(http: &reqwest::Client, url: &str, body: Value) -> Value {
    let response = http.post(url).json(&body).send().await.expect("admin call");
    let status = response.status();
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "admin call {url}: {status} {answer}");
    answer
}

impl EntraTenant {
    /// An emulator with one tenant, and in it the groups mapped to the admin
    /// and viewer roles (nobody in them yet).
    pub async fn start() -> EntraTenant {
        let emulator = Emulator::start(EmulatorConfig::default())
            .await
            .expect("the emulator starts");
        let base = emulator.base_url();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an http client");
        let tenant = admin_post(
            &http,
            &format!("{base}/_admin/tenants"),
            json!({"domains": [DOMAIN]}),
        )
        .await;
        let tenant_id: Uuid = tenant["tenant_id"]
            .as_str()
            .and_then(|id| id.parse().ok())
            .expect("a tenant id");
        let directory = &emulator.state.directory;
        let admin_group = directory
            .create_group(tenant_id, Group::new_security("Console admins"))
            .expect("admin group");
        let viewer_group = directory
            .create_group(tenant_id, Group::new_security("Console viewers"))
            .expect("viewer group");
        EntraTenant {
            emulator,
            base,
            tenant_id,
            client_id: String::new(),
            http,
            admin_group,
            viewer_group,
            with_certificate: false,
            extra_role_groups: Vec::new(),
            role_app_roles: Vec::new(),
            secret_dir: None,
        }
    }

    /// A person with a mailbox in `group` (or in none); returns their UPN.
    pub fn person(&self, display_name: &str, upn: &str, group: Option<Uuid>) -> String {
        let directory = &self.emulator.state.directory;
        let user_id = directory.add_mailbox_user(self.tenant_id, display_name, upn, true);
        if let Some(group_id) = group {
            let member = MemberRef::User(user_id.parse().expect("a user id"));
            directory
                .add_group_member(self.tenant_id, group_id, member)
                .expect("add to the group");
        }
        upn.to_owned()
    }

    /// A person with a mailbox in `group` (or in none) and in `other_groups`
    /// more security groups, made for them; returns their UPN.
    pub fn person_in_many_groups(
        &self,
        display_name: &str,
        upn: &str,
        group: Option<Uuid>,
        other_groups: usize,
    ) -> String {
        let upn = self.person(display_name, upn, group);
        let directory = &self.emulator.state.directory;
        let user = directory
            .find_user(self.tenant_id, &upn)
            .expect("the person");
        for index in 0..other_groups {
            let name = format!("Project {index} ({display_name})");
            let group_id = directory
                .create_group(self.tenant_id, Group::new_security(&name))
                .expect("a group");
            directory
                .add_group_member(self.tenant_id, group_id, MemberRef::User(user.id))
                .expect("add to the group");
        }
        upn
    }

    /// Defines the app role `value` on the console's app registration and
    /// assigns `upn` to it, as in the Entra admin center (App roles, then
    /// Enterprise applications → Users and groups).
    pub async fn assign_app_role(&self, upn: &str, value: &str) {
        self.assign(json!({"upn": upn, "value": value})).await;
    }

    /// As [`EntraTenant::assign_app_role`], assigning the group `group_id`
    /// (Users and groups → Add → a group).
    pub async fn assign_app_role_to_group(&self, group_id: Uuid, value: &str) {
        self.assign(json!({"group": group_id.to_string(), "value": value}))
            .await;
    }

    async fn assign(&self, assignment: Value) {
        let app_url = format!(
            "{}/_admin/tenants/{}/apps/{}",
            self.base, self.tenant_id, self.client_id
        );
        admin_post(
            &self.http,
            &format!("{app_url}/app-roles"),
            json!({"value": assignment["value"]}),
        )
        .await;
        admin_post(
            &self.http,
            &format!("{app_url}/app-role-assignments"),
            assignment,
        )
        .await;
    }

    /// A new security group of the tenant with `members` (groups nested in
    /// it); returns its object id.
    pub fn group(&self, display_name: &str, members: &[Uuid]) -> Uuid {
        let directory = &self.emulator.state.directory;
        let group_id = directory
            .create_group(self.tenant_id, Group::new_security(display_name))
            .expect("a group");
        for member in members {
            directory
                .add_group_member(self.tenant_id, group_id, MemberRef::Group(*member))
                .expect("nest the group");
        }
        group_id
    }

    /// The emulated browser is signed in to Microsoft as `upn`.
    pub async fn browser_signs_in_as(&self, upn: &str) {
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

    /// From now on the emulator signs ID tokens with a key its JWKS does
    /// not publish (`enabled`), or with its published key again.
    pub async fn sign_id_tokens_with_unpublished_key(&self, enabled: bool) {
        admin_post(
            &self.http,
            &format!("{}/_admin/id-tokens/unpublished-key", self.base),
            json!({"enabled": enabled}),
        )
        .await;
    }

    /// How many times the emulator answered a request for its key set.
    pub async fn key_set_fetches(&self) -> u64 {
        self.requests_to("/discovery/v2.0/keys").await
    }

    /// How many requests the emulator answered on endpoints ending in `suffix`.
    pub async fn requests_to(&self, suffix: &str) -> u64 {
        let requests: Value = self
            .http
            .get(format!("{}/_admin/requests", self.base))
            .send()
            .await
            .expect("request counters")
            .json()
            .await
            .expect("request counters as json");
        let mut fetches = 0;
        for counter in requests["counters"].as_array().expect("counters") {
            let endpoint = counter["endpoint"].as_str().unwrap_or_default();
            if endpoint.ends_with(suffix) {
                fetches += counter["count"].as_u64().unwrap_or_default();
            }
        }
        fetches
    }

    /// Registers the console's app (redirect URI under `public_url`, a
    /// client secret in a file) and the console's configuration for it.
    pub async fn console_config(&mut self, scheduler: &MtlsScheduler, public_url: &str) -> Config {
        let app = admin_post(
            &self.http,
            &format!("{}/_admin/tenants/{DOMAIN}/apps", self.base),
            json!({
                "display_name": "galsync console",
                "requested_roles": [],
                "requested_scopes": ["User.Read"],
                "redirect_uris": [
                    format!("{public_url}/auth/entra/callback"),
                    format!("{public_url}/sign-in"),
                ],
            }),
        )
        .await;
        self.client_id = app["client_id"].as_str().expect("a client id").to_owned();
        let app_url = format!(
            "{}/_admin/tenants/{}/apps/{}",
            self.base, self.tenant_id, self.client_id
        );
        admin_post(&self.http, &format!("{app_url}/consent"), json!({})).await;
        let secret_dir = tempfile::tempdir().expect("a temporary directory");
        let mut config = Config::local(scheduler.pki_dir.clone(), scheduler.url());
        if self.with_certificate {
            let (certificate_pem, key_pem) = certificate_and_key();
            admin_post(
                &self.http,
                &format!("{app_url}/certificates"),
                json!({"certificate": certificate_pem}),
            )
            .await;
            let certificate_file = secret_dir.path().join("entra-client.pem");
            let key_file = secret_dir.path().join("entra-client.key");
            std::fs::write(&certificate_file, certificate_pem).expect("write the certificate");
            std::fs::write(&key_file, key_pem).expect("write the key");
            config.entra.client_cert = Some(certificate_file);
            config.entra.client_key = Some(key_file);
        } else {
            let secret = admin_post(&self.http, &format!("{app_url}/secrets"), json!({})).await;
            let secret_text = secret["secret_text"].as_str().expect("a secret");
            let secret_file = secret_dir.path().join("entra-client-secret");
            std::fs::write(&secret_file, format!("{secret_text}\n")).expect("write the secret");
            config.entra.client_secret_file = Some(secret_file);
        }
        self.secret_dir = Some(secret_dir);

        config.public_url = Some(public_url.to_owned());
        config.entra.tenant_id = Some(self.tenant_id.to_string());
        config.entra.client_id = Some(self.client_id.clone());
        config.entra.authority = self.base.clone();
        config.entra.graph_url = self.base.clone();
        config.entra.role_group = vec![
            format!("admin={}", self.admin_group),
            format!("viewer={}", self.viewer_group),
        ];
        config
            .entra
            .role_group
            .extend(self.extra_role_groups.iter().cloned());
        config.entra.role_app_role = self.role_app_roles.clone();
        config
    }
}

/// The `value` of `name=value` in a response's `Set-Cookie` headers, with
/// the whole header.
pub fn set_cookie(response: &reqwest::Response, name: &str) -> Option<(String, String)> {
    for header in response.headers().get_all(SET_COOKIE) {
        let text = header.to_str().expect("an ASCII cookie");
        let pair = text.split(';').next().unwrap_or_default();
        if let Some((found, value)) = pair.split_once('=') {
            if found == name {
                return Some((value.to_owned(), text.to_owned()));
            }
        }
    }
    None
}

pub fn location(response: &reqwest::Response) -> String {
    response.headers()[LOCATION].to_str().unwrap().to_owned()
}

/// A sign-in started at the console and answered by the emulator, not yet
/// brought back to the console's callback.
pub struct Started {
    /// The pre-session cookie's value.
    pub flow_cookie: String,
    /// The authorize URL the console sent the browser to.
    pub authorize_url: url::Url,
}

impl Started {
    pub fn cookie_header(&self) -> String {
        format!("{FLOW_COOKIE}={}", self.flow_cookie)
    }

    pub fn parameter(&self, name: &str) -> String {
        query_value(&self.authorize_url, name).expect("parameter in the authorize url")
    }
}

pub fn query_value(url: &url::Url, name: &str) -> Option<String> {
    url.query_pairs()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value.into_owned())
}

/// `GET /auth/entra/start` as the sign-in page's button does.
pub async fn start_sign_in(console: &super::TestConsole) -> Started {
    let response = console.get("/auth/entra/start", None).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let (flow_cookie, _) = set_cookie(&response, FLOW_COOKIE).expect("a pre-session cookie");
    let authorize_url = url::Url::parse(&location(&response)).expect("an authorize url");
    Started {
        flow_cookie,
        authorize_url,
    }
}

/// The browser at `authorize_url` (the emulator's sign-in): the callback URL
/// it is sent back to.
pub async fn authorize(tenant: &EntraTenant, authorize_url: &url::Url) -> url::Url {
    let response = tenant
        .http
        .get(authorize_url.clone())
        .send()
        .await
        .expect("authorize");
    assert_eq!(
        response.status(),
        StatusCode::FOUND,
        "authorize redirects back"
    );
    url::Url::parse(&location(&response)).expect("a callback url")
}

/// The browser back at the console's callback with `cookie`.
pub async fn callback(
    console: &super::TestConsole,
    callback_url: &url::Url,
    cookie: Option<&str>,
) -> reqwest::Response {
    let mut request = console.http.get(callback_url.clone());
    if let Some(cookie) = cookie {
        request = request.header("cookie", cookie);
    }
    request.send().await.expect("callback")
}

/// The whole sign-in of whoever the emulated browser is signed in as;
/// returns the callback's response.
pub async fn sign_in_with_microsoft(
    console: &super::TestConsole,
    tenant: &EntraTenant,
) -> reqwest::Response {
    let started = start_sign_in(console).await;
    let callback_url = authorize(tenant, &started.authorize_url).await;
    callback(console, &callback_url, Some(&started.cookie_header())).await
}

/// The session cookie (`name=value`) a successful callback set.
pub fn session_cookie_of(response: &reqwest::Response) -> String {
    let (value, _) = set_cookie(response, SESSION_COOKIE).expect("a session cookie");
    format!("{SESSION_COOKIE}={value}")
}
