//! `galsync up` as a newcomer runs it: every service and the admin console in
//! one process on the embedded defaults (SQLite stores, the internal PKI and
//! the master key in its data directory), with an emulator process standing
//! in for Microsoft: the organisation's Entra ID, where the console's people
//! sign in, and its tenant's Graph, which galsync syncs.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::json;

use crate::binaries;
use crate::emulator::{Emulator, DOMAIN};
use crate::process::Process;
use crate::Tenant;

/// Every port `galsync up --port-base` takes: base to base+11.
const UP_PORTS: u16 = 12;

/// A running `galsync up` and the emulated organisation around it.
pub struct Up {
    pub emulator: Emulator,
    pub process: Process,
    /// The organisation's tenant: its directory seeded and galsync's app
    /// registered in it by the administrator (nothing generated, uploaded
    /// or consented yet: that is the newcomer's onboarding).
    pub tenant: Tenant,
    /// The person in the group mapped to the console's admin role (a UPN).
    pub console_admin: String,
    /// `--data-dir`: the stores, the PKI (`pki/`) and the master key.
    pub data_dir: PathBuf,
    /// The console as browsers reach it (`https://127.0.0.1:<port>`).
    pub console_url: String,
    /// The one-time administrator sign-in link `up` printed.
    pub admin_link: String,
    /// The auth-broker's admin-consent callback, `up`'s base port + 11.
    pub consent_callback: String,
    /// Holds the data directory, the logs and the console's client secret.
    _dir: tempfile::TempDir,
}

impl Up {
    /// Seeds an organisation of `users` people (`mailboxes` of them the
    /// targets) in a new emulator; registers galsync's app and the console's
    /// app in it, with a group mapped to the console's admin role and one
    /// person in it; then starts `galsync up` with the console's Entra
    /// sign-in pointed at the emulator, and waits for its printed link.
    pub async fn start(users: usize, mailboxes: usize, seed: u64) -> Up {
        let dir = tempfile::tempdir().expect("a directory for galsync up");
        let emulator = Emulator::start(&[], dir.path()).await;
        let (tenant_id, targets) = emulator.seeded_tenant(users, mailboxes, seed).await;
        let port_base = galsync_platform::net::free_ports(UP_PORTS);
        let consent_callback = format!(
            "http://127.0.0.1:{}/consent/callback",
            port_base + UP_PORTS - 1
        );
        let client_id = emulator
            .register_galsync_app(&tenant_id, &consent_callback)
            .await;
        let tenant = Tenant {
            tenant_id,
            client_id,
            targets,
        };

        let console_port = galsync_platform::net::free_port();
        let console_url = format!("https://127.0.0.1:{console_port}");
        let console_admin = console_admin_of(&emulator, &tenant).await;
        let admins = emulator
            .post(
                &format!("/_admin/tenants/{}/directory/groups", tenant.tenant_id),
                json!({
                    "displayName": "galsync console admins",
                    "members": [{"type": "user", "id": console_admin.0}],
                }),
            )
            .await;
        let admin_group = admins["id"].as_str().expect("the group's id").to_owned();
        let (console_client_id, secret) = register_console_app(&emulator, &console_url).await;
        let secret_file = dir.path().join("console-entra-secret");
        galsync_platform::private_files::create_private_file(&secret_file)
            .and_then(|()| std::fs::write(&secret_file, format!("{secret}\n")))
            .expect("write the console's client secret");

        let data_dir = dir.path().join("galsync-data");
        let base_url = emulator.base_url.clone();
        let args = [
            "up",
            "--data-dir",
            &data_dir.display().to_string(),
            "--port-base",
            &port_base.to_string(),
            "--console-listen",
            &format!("127.0.0.1:{console_port}"),
            "--entra-tenant-id",
            &tenant.tenant_id,
            "--entra-client-id",
            &console_client_id,
            "--entra-client-secret-file",
            &secret_file.display().to_string(),
            "--entra-authority",
            &base_url,
            "--entra-graph-url",
            &base_url,
            "--role-group",
            &format!("admin={admin_group}"),
        ]
        .map(str::to_owned)
        .to_vec();
        let process = Process::start("galsync-up", binaries::path("galsync"), args, dir.path());
        // 60 s at most: the first start makes the PKI and the stores.
        let admin_link = process.printed_value(
            "one-time administrator sign-in link",
            Duration::from_secs(60),
        );
        Up {
            emulator,
            process,
            tenant,
            console_admin: console_admin.1,
            data_dir,
            console_url,
            admin_link,
            consent_callback,
            _dir: dir,
        }
    }

    /// [`Emulator::verify`] over every target; panics with the problems and
    /// the end of `up`'s log.
    pub async fn assert_mailboxes_match(&self) {
        self.emulator
            .assert_mailboxes_match(&self.tenant, |_| self.process.log_tail(40))
            .await;
    }
}

/// An enabled member who is not a target: the administrator who signs in
/// to the console (object id, UPN).
async fn console_admin_of(emulator: &Emulator, tenant: &Tenant) -> (String, String) {
    let users = emulator.users(&tenant.tenant_id).await;
    users
        .iter()
        .filter(|user| {
            user["accountEnabled"].as_bool() == Some(true)
                && user["userType"].as_str() == Some("Member")
        })
        .filter_map(|user| {
            let id = user["id"].as_str()?;
            let upn = user["userPrincipalName"].as_str()?;
            (!tenant.targets.contains_key(id) && upn.ends_with(DOMAIN))
                .then(|| (id.to_owned(), upn.to_owned()))
        })
        .next()
        .expect("an enabled member who is not a target")
}

/// The console's own app registration, as an administrator makes it for
/// the console's sign-in: User.Read, consented, the console's callback as
/// its redirect URI, and a client secret. Gives the client id and secret.
async fn register_console_app(emulator: &Emulator, console_url: &str) -> (String, String) {
    let app = emulator
        .post(
            &format!("/_admin/tenants/{DOMAIN}/apps"),
            json!({
                "display_name": "galsync console",
                "requested_roles": [],
                "requested_scopes": ["User.Read"],
                "redirect_uris": [format!("{console_url}/auth/entra/callback")],
            }),
        )
        .await;
    let client_id = app["client_id"].as_str().expect("a client id").to_owned();
    let app_path = format!("/_admin/tenants/{DOMAIN}/apps/{client_id}");
    emulator
        .post(&format!("{app_path}/consent"), json!({}))
        .await;
    let secret = emulator
        .post(&format!("{app_path}/secrets"), json!({}))
        .await;
    let secret = secret["secret_text"].as_str().expect("a secret").to_owned();
    (client_id, secret)
}
