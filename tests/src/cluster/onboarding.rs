//! Onboarding an emulated tenant: seeded in the emulator, then added the way
//! an administrator does it (`tenant add` and a certificate, or `tenant
//! provision` with a device-code sign-in).

use std::collections::BTreeMap;
use std::time::Duration;

use serde_json::{json, Value};

use super::{Cluster, Outcome};

/// The administrator [`Cluster::provisioned`] gives the Global
/// Administrator role and signs in as.
const TENANT_ADMIN: &str = "admin@contoso.onmicrosoft.com";

/// An emulated Microsoft 365 tenant onboarded through the CLI.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub tenant_id: String,
    pub client_id: String,
    /// Target mailboxes: object id → UPN.
    pub targets: BTreeMap<String, String>,
}

impl Cluster {
    /// Runs `galsync` with `args` (a command that signs an administrator in
    /// with a device code: `tenant provision`, `tenant adopt`) and approves
    /// the code it starts as [`TENANT_ADMIN`], as the administrator would in
    /// a browser.
    async fn galsync_with_admin_sign_in(&self, args: &[&str]) -> Outcome {
        let emulator = &self.emulator;
        let approve = async {
            for _ in 0..600 {
                let pending = emulator.get("/_admin/devicecodes").await;
                if let Some(code) = pending.as_array().and_then(|codes| codes.first()) {
                    let user_code = code["user_code"].as_str().expect("a user code");
                    emulator
                        .post(
                            &format!("/_admin/devicecodes/{user_code}/approve"),
                            json!({"upn": TENANT_ADMIN}),
                        )
                        .await;
                    return;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            panic!("galsync {args:?} never started a device code sign-in");
        };
        let (outcome, ()) = tokio::join!(self.galsync(args), approve);
        outcome
    }

    /// Onboards a tenant the way `galsync tenant provision` does it, from a
    /// tenant with no app: an administrator with `roles` (directory role
    /// names) approves the device code the CLI started, and galsync creates
    /// the app(s) (`extra`, e.g. `--two-apps`). Gives the tenant and the
    /// command's JSON result.
    pub async fn provisioned(
        &self,
        users: usize,
        mailboxes: usize,
        seed: u64,
        extra: &[&str],
    ) -> (Tenant, Value) {
        let (tenant_id, targets) = self.emulator.seeded_tenant(users, mailboxes, seed).await;
        let emulator = &self.emulator;
        emulator
            .admin(
                reqwest::Method::PUT,
                &format!("/_admin/tenants/{tenant_id}/users/{TENANT_ADMIN}/directory-roles"),
                Some(json!({"roles": ["Global Administrator"]})),
            )
            .await;
        let base = emulator.base_url.as_str();
        let mut args = vec![
            "tenant",
            "provision",
            "--tenant-id",
            &tenant_id,
            "--name",
            "Contoso",
            "--login-url",
            base,
            "--graph-url",
            base,
        ];
        args.extend(extra);
        let outcome = self.galsync_with_admin_sign_in(&args).await;
        let result = outcome.ok("tenant provision");
        let client_id = result["apps"][0]["client_id"]
            .as_str()
            .unwrap_or_else(|| panic!("the provisioned app's client id: {result:#}"))
            .to_owned();
        (
            Tenant {
                tenant_id,
                client_id,
                targets,
            },
            result,
        )
    }

    /// Makes a tenant in the emulator with `users` seeded users and an app
    /// registration, then onboards it the way an administrator does: `tenant
    /// add`, `cert generate`, `cert export` and the upload, the consent link
    /// opened and accepted, `test-connection` green. `mailboxes` licensed
    /// members become the targets.
    pub async fn onboard(&self, users: usize, mailboxes: usize, seed: u64) -> Tenant {
        let (tenant_id, targets) = self.emulator.seeded_tenant(users, mailboxes, seed).await;
        let emulator = &self.emulator;
        let client_id = emulator
            .register_galsync_app(&tenant_id, &self.consent_callback)
            .await;

        let base = emulator.base_url.as_str();
        self.galsync(&[
            "tenant",
            "add",
            "--tenant-id",
            &tenant_id,
            "--name",
            "Contoso",
            "--client-id",
            &client_id,
            "--login-url",
            base,
            "--graph-url",
            base,
        ])
        .await
        .ok("tenant add");
        self.galsync(&["cert", "generate", "--tenant-id", &tenant_id])
            .await
            .ok("cert generate");
        let cer = self.dir().join(format!("{tenant_id}.cer"));
        let cer_arg = cer.display().to_string();
        self.galsync(&[
            "cert",
            "export",
            "--tenant-id",
            &tenant_id,
            "--out",
            &cer_arg,
        ])
        .await
        .ok("cert export");
        emulator
            .upload_certificate(
                &tenant_id,
                &client_id,
                std::fs::read(&cer).expect("the .cer"),
            )
            .await;
        let link = self
            .galsync(&["consent", "url", "--tenant-id", &tenant_id])
            .await
            .ok("consent url");
        emulator.approve_next_consent(&tenant_id, &client_id).await;
        let landing = reqwest::get(link["url"].as_str().expect("a consent URL"))
            .await
            .expect("open the consent link");
        assert!(
            landing.status().is_success(),
            "the consent callback answered {}",
            landing.status()
        );
        let probe = targets.values().next().cloned().unwrap_or_default();
        self.galsync(&[
            "test-connection",
            "--tenant-id",
            &tenant_id,
            "--mailbox",
            &probe,
        ])
        .await
        .ok("test-connection");
        Tenant {
            tenant_id,
            client_id,
            targets,
        }
    }
}
