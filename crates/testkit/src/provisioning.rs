//! An emulated tenant with an administrator in directory roles, and that
//! administrator's answer to the device-code sign-in galsync starts
//! (`tenant provision`, `tenant adopt`), through the emulator's admin API.

use std::time::Duration;

use galsync_graph_emulator::{Emulator, EmulatorConfig};
use serde_json::{json, Value};
use uuid::Uuid;

pub const ADMIN_UPN: &str = "admin@contoso.example";

pub async fn emulated_tenant(roles: &[&str]) -> (Emulator, Uuid) {
    let config = EmulatorConfig {
        replication_delay: Duration::from_secs(2),
        ..EmulatorConfig::default()
    };
    let emulator = Emulator::start(config).await.unwrap();
    let tenant_id = Uuid::new_v4();
    emulator
        .state
        .identity
        .create_tenant(tenant_id, vec!["contoso.example".to_owned()]);
    let response = reqwest::Client::new()
        .put(format!(
            "{}/_admin/tenants/{tenant_id}/users/{ADMIN_UPN}/directory-roles",
            emulator.base_url()
        ))
        .json(&json!({"roles": roles}))
        .send()
        .await
        .unwrap();
    assert!(response.status().is_success(), "{response:?}");
    (emulator, tenant_id)
}

/// What the administrator does with the device code galsync started.
#[derive(Clone, Copy)]
pub enum SignIn {
    /// Signs in as `ADMIN_UPN`.
    Approve,
    /// Refuses on the sign-in page.
    Decline,
    /// Walks away: the emulator's clock passes the code's 15 minutes.
    Expire,
}

/// Signs in as `ADMIN_UPN` with the device code `user_code` shows.
pub async fn approve_device_code(http: &reqwest::Client, base: &str, user_code: &str) {
    let approved = http
        .post(format!("{base}/_admin/devicecodes/{user_code}/approve"))
        .json(&json!({"upn": ADMIN_UPN}))
        .send()
        .await
        .unwrap();
    assert!(approved.status().is_success(), "{approved:?}");
}

/// Waits for the one pending device code and approves it as `ADMIN_UPN`;
/// returns the code as the emulator listed it.
pub async fn approve_the_sign_in(base: String) -> Value {
    answer_the_sign_in(base, SignIn::Approve).await
}

pub async fn answer_the_sign_in(base: String, answer: SignIn) -> Value {
    let http = reqwest::Client::new();
    for _ in 0..200 {
        let pending: Vec<Value> = http
            .get(format!("{base}/_admin/devicecodes"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if let Some(code) = pending.first() {
            let user_code = code["user_code"].as_str().unwrap();
            if let SignIn::Approve = answer {
                approve_device_code(&http, &base, user_code).await;
                return code.clone();
            }
            let answered = match answer {
                SignIn::Approve => unreachable!("approved above"),
                SignIn::Decline => {
                    http.post(format!("{base}/_admin/devicecodes/{user_code}/decline"))
                }
                SignIn::Expire => http
                    .post(format!("{base}/_admin/clock/advance"))
                    .json(&json!({"seconds": 16 * 60})),
            }
            .send()
            .await
            .unwrap();
            assert!(answered.status().is_success(), "{answered:?}");
            return code.clone();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("galsync never started a device code sign-in");
}
