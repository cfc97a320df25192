//! The Graph emulator as its own process, and its admin API
//! (`/_admin/…`), through which a test plays the Entra administrator and
//! reads what Graph holds.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use galsync::demo::verify::{self, Verification};
use reqwest::Method;
use serde_json::{json, Value};

use crate::binaries;
use crate::process::Process;
use crate::Tenant;

/// The app roles galsync asks for.
const APP_ROLES: [&str; 4] = [
    "User.Read.All",
    "Group.Read.All",
    "MailboxSettings.Read",
    "Contacts.ReadWrite",
];

/// The domain of every tenant the suite makes.
pub const DOMAIN: &str = "contoso.onmicrosoft.com";

pub struct Emulator {
    pub process: Process,
    /// `http://127.0.0.1:<port>`: the login and Graph host of every tenant.
    pub base_url: String,
    http: reqwest::Client,
}

impl Emulator {
    /// Starts `galsync-graph-emulator` on a free loopback port with `args`
    /// (its limits are on unless `args` turn them off) and waits until it
    /// answers.
    pub async fn start(args: &[String], log_dir: &Path) -> Emulator {
        Self::start_on(std::net::Ipv4Addr::LOCALHOST.into(), args, log_dir).await
    }

    /// [`Emulator::start`] listening on `host` (the address every client,
    /// on whichever host, reaches it at).
    pub async fn start_on(host: std::net::IpAddr, args: &[String], log_dir: &Path) -> Emulator {
        let port = galsync_testkit::harness::free_port();
        let mut all = vec!["--listen".to_owned(), format!("{host}:{port}")];
        all.extend(args.iter().cloned());
        let process = Process::start(
            "graph-emulator",
            binaries::path("galsync-graph-emulator"),
            all,
            log_dir,
        );
        let emulator = Emulator {
            process,
            base_url: format!("http://{host}:{port}"),
            http: reqwest::Client::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while emulator
            .http
            .get(format!("{}/_admin/health", emulator.base_url))
            .send()
            .await
            .is_err()
        {
            assert!(
                Instant::now() < deadline,
                "the emulator did not answer in 30 s:\n{}",
                emulator.process.log_tail(20)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        emulator
    }

    /// One admin call; panics with the status and body unless it succeeds.
    pub async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{path}", self.base_url));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .unwrap_or_else(|error| panic!("{method} {path}: {error}"));
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        assert!(
            status.is_success(),
            "{method} {path} answered {status}: {text}"
        );
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    pub async fn get(&self, path: &str) -> Value {
        self.admin(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Value {
        self.admin(Method::POST, path, Some(body)).await
    }

    /// Uploads a `.cer` file (DER) to an app registration, as an
    /// administrator does in the Entra admin center.
    pub async fn upload_certificate(&self, tenant_id: &str, client_id: &str, der: Vec<u8>) {
        let path = format!("/_admin/tenants/{tenant_id}/apps/{client_id}/certificates");
        let response = self
            .http
            .post(format!("{}{path}", self.base_url))
            .header("content-type", "application/pkix-cert")
            .body(der)
            .send()
            .await
            .expect("upload the certificate");
        assert!(
            response.status().is_success(),
            "POST {path} answered {}",
            response.status()
        );
    }

    /// Every user of the directory, as the admin API shows them.
    pub async fn users(&self, tenant_id: &str) -> Vec<Value> {
        let list = self
            .get(&format!("/_admin/tenants/{tenant_id}/directory/users"))
            .await;
        list["users"].as_array().cloned().unwrap_or_default()
    }

    /// A mailbox's folders (id, displayName, contactCount, isDefault).
    pub async fn folders(&self, tenant_id: &str, mailbox: &str) -> Vec<Value> {
        let folders = self
            .get(&format!(
                "/_admin/tenants/{tenant_id}/mailboxes/{mailbox}/folders"
            ))
            .await;
        folders.as_array().cloned().unwrap_or_default()
    }

    /// Every contact of one folder, exactly as stored.
    pub async fn contacts(&self, tenant_id: &str, mailbox: &str, folder_id: &str) -> Vec<Value> {
        let contacts = self
            .get(&format!(
                "/_admin/tenants/{tenant_id}/mailboxes/{mailbox}/folders/{folder_id}/contacts"
            ))
            .await;
        contacts.as_array().cloned().unwrap_or_default()
    }

    /// A tenant with `users` seeded users; gives its id and `mailboxes`
    /// licensed members' mailboxes (object id → UPN), the targets.
    pub async fn seeded_tenant(
        &self,
        users: usize,
        mailboxes: usize,
        seed: u64,
    ) -> (String, BTreeMap<String, String>) {
        let tenant_id = uuid::Uuid::new_v4().to_string();
        self.post(
            "/_admin/tenants",
            json!({"tenant_id": tenant_id, "domains": [DOMAIN]}),
        )
        .await;
        self.post(
            &format!("/_admin/tenants/{tenant_id}/seed"),
            json!({"users": users, "seed": seed, "domain": DOMAIN}),
        )
        .await;
        let targets: BTreeMap<String, String> = self
            .users(&tenant_id)
            .await
            .iter()
            .filter(|user| {
                user["licensed"].as_bool() == Some(true)
                    && user["mailbox"].as_str() == Some("user")
                    && user["accountEnabled"].as_bool() == Some(true)
                    && user["userType"].as_str() == Some("Member")
            })
            .take(mailboxes)
            .map(|user| {
                (
                    user["id"].as_str().unwrap_or_default().to_owned(),
                    user["userPrincipalName"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                )
            })
            .collect();
        assert_eq!(targets.len(), mailboxes, "too few licensed members");
        (tenant_id, targets)
    }

    /// galsync's app registration in the tenant, as an administrator makes
    /// it in the Entra admin center (the app roles galsync asks for,
    /// `consent_callback` its redirect URI); gives its client id.
    pub async fn register_galsync_app(&self, tenant_id: &str, consent_callback: &str) -> String {
        let app = self
            .post(
                &format!("/_admin/tenants/{tenant_id}/apps"),
                json!({
                    "client_id": null,
                    "display_name": "galsync",
                    "requested_roles": APP_ROLES,
                    "requested_scopes": [],
                    "redirect_uris": [consent_callback],
                    "multi_tenant": false,
                    "public_client": false,
                }),
            )
            .await;
        app["client_id"].as_str().expect("a client id").to_owned()
    }

    /// The next admin consent to the app is approved by whoever signs in.
    pub async fn approve_next_consent(&self, tenant_id: &str, client_id: &str) {
        self.post(
            &format!("/_admin/tenants/{tenant_id}/apps/{client_id}/consent-decision"),
            json!({"decision": "approve"}),
        )
        .await;
    }

    /// Compares every mailbox in `mailboxes` with the directory: exactly one
    /// contact per synced user in the galsync folder, with the user's
    /// current fields; foreign contacts left alone.
    pub async fn verify<'a>(
        &self,
        tenant: &Tenant,
        mailboxes: impl IntoIterator<Item = &'a String>,
    ) -> Verification {
        let users = self.users(&tenant.tenant_id).await;
        let expected = verify::expected_contacts(&users);
        let mut report = Verification {
            expected_contacts: expected.len(),
            ..Verification::default()
        };
        for mailbox in mailboxes {
            let folders = self.folders(&tenant.tenant_id, mailbox).await;
            let outcome = match verify::galsync_folder(&folders) {
                Ok(folder_id) => {
                    let contacts = self.contacts(&tenant.tenant_id, mailbox, &folder_id).await;
                    verify::check_folder(&contacts, &expected)
                }
                Err(problem) => Err(problem),
            };
            report.record(mailbox, outcome);
        }
        report
    }

    /// [`Emulator::verify`] over every target; panics with the problems and
    /// `history` of the mailboxes they name.
    pub async fn assert_mailboxes_match(
        &self,
        tenant: &Tenant,
        history: impl FnOnce(&[String]) -> String,
    ) {
        let report = self.verify(tenant, tenant.targets.keys()).await;
        assert!(
            report.passed(),
            "{} of {} mailboxes match the directory: {:#?}\n{}",
            report.mailboxes_correct,
            report.mailboxes_checked,
            report.problems,
            history(&report.problems)
        );
    }
}
