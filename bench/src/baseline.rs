//! The naive client the PowerShell peers are: it signs in with a client
//! secret, then writes one contact per request, one mailbox after another,
//! waiting for each answer before the next. Measured on one mailbox for a
//! hundred contacts and extrapolated to the scenario, against the same
//! emulator in the same run.

use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{json, Value};

use crate::measure::Setup;

/// The time the naive client takes per contact.
pub async fn per_contact(setup: &Setup, count: u64) -> anyhow::Result<Duration> {
    let emulator = &setup.cluster.emulator;
    let tenant = &setup.tenant;
    let base = emulator.base_url.as_str();
    let secret = "naive-baseline-secret-0123456789";
    emulator
        .post(
            &format!(
                "/_admin/tenants/{}/apps/{}/secrets",
                tenant.tenant_id, tenant.client_id
            ),
            json!({"value": secret}),
        )
        .await;
    let http = reqwest::Client::new();
    let token: Value = http
        .post(format!("{base}/{}/oauth2/v2.0/token", tenant.tenant_id))
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", tenant.client_id.as_str()),
            ("client_secret", secret),
            ("scope", "https://graph.microsoft.com/.default"),
        ])
        .send()
        .await?
        .error_for_status()
        .context("the naive client's token request")?
        .json()
        .await?;
    let token = token["access_token"]
        .as_str()
        .context("no access_token in the token response")?
        .to_owned();
    let mailbox = tenant.targets.keys().next().context("no target mailbox")?;
    let folders = format!("{base}/v1.0/users/{mailbox}/contactFolders");
    let folder: Value = http
        .post(&folders)
        .bearer_auth(&token)
        .json(&json!({"displayName": "Naive baseline"}))
        .send()
        .await?
        .error_for_status()
        .context("the naive client's folder")?
        .json()
        .await?;
    let folder_id = folder["id"].as_str().context("folder id")?.to_owned();
    let started = Instant::now();
    for index in 0..count {
        http.post(format!("{folders}/{folder_id}/contacts"))
            .bearer_auth(&token)
            .json(&json!({"displayName": format!("Baseline {index}")}))
            .send()
            .await?
            .error_for_status()
            .context("the naive client's contact")?;
    }
    let per_contact = started.elapsed() / count.max(1) as u32;
    http.delete(format!("{folders}/{folder_id}"))
        .bearer_auth(&token)
        .send()
        .await?
        .error_for_status()?;
    println!(
        "      {:.1} ms per contact ({count} measured)",
        per_contact.as_secs_f64() * 1000.0
    );
    Ok(per_contact)
}
