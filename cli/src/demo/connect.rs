//! Connecting the demo tenant as an administrator would: register it with
//! the auth-broker, make and upload its certificate, grant admin consent,
//! test the connection.

use anyhow::Context;
use galsync_graph_emulator::Emulator;
use galsync_proto::v1;
use galsync_proto::v1::auth_broker_client::AuthBrokerClient;
use tonic::transport::Channel;

use super::{detail, tenant, Step};

pub async fn certificate_journey(
    broker: &mut AuthBrokerClient<Channel>,
    emulator: &Emulator,
    tenant: &tenant::DemoTenant,
    step: &mut Step,
) -> anyhow::Result<String> {
    broker
        .register_tenant(v1::RegisterTenantRequest {
            tenant_id: tenant.tenant_id.to_string(),
            display_name: "Contoso (emulated)".to_owned(),
            login_base_url: emulator.base_url(),
            graph_base_url: emulator.base_url(),
            apps: vec![v1::AppRegistration {
                client_id: tenant.client_id.clone(),
                auth_mode: v1::AuthMode::Certificate as i32,
                purposes: vec![
                    v1::TokenPurpose::Directory as i32,
                    v1::TokenPurpose::Contacts as i32,
                ],
                ..Default::default()
            }],
        })
        .await
        .context("registering the tenant with the auth-broker failed")?;
    let certificate = broker
        .generate_certificate(v1::GenerateCertificateRequest {
            tenant_id: tenant.tenant_id.to_string(),
            client_id: tenant.client_id.clone(),
            key_bits: 2048,
            validity_days: 730,
        })
        .await
        .context("generating the certificate failed")?
        .into_inner();
    step.say(format!(
        "Generated certificate {} (RSA 2048, SHA-256, 2 years) — its private key never leaves the auth-broker",
        certificate.subject
    ));
    detail(format!("SHA-1 thumbprint {}", certificate.thumbprint_sha1));
    let exported = broker
        .export_certificate(v1::ExportCertificateRequest {
            certificate_id: certificate.certificate_id.clone(),
        })
        .await
        .context("exporting the certificate failed")?
        .into_inner();
    let uploaded = emulator
        .state
        .identity
        .upload_certificate(&tenant.client_id, &exported.cer_der)
        .map_err(|error| {
            anyhow::anyhow!("uploading the .cer to the emulated app failed: {error}")
        })?;
    step.say("Uploaded galsync.cer to the app registration (Entra admin center > App registrations > galsync > Certificates & secrets)");
    detail(format!(
        "Entra shows thumbprint {}",
        uploaded.thumbprint_sha1
    ));
    Ok(certificate.certificate_id)
}

pub async fn consent_journey(
    broker: &mut AuthBrokerClient<Channel>,
    emulator: &Emulator,
    tenant: &tenant::DemoTenant,
    step: &mut Step,
) -> anyhow::Result<()> {
    let link = broker
        .get_admin_consent_url(v1::GetAdminConsentUrlRequest {
            tenant_id: tenant.tenant_id.to_string(),
            client_id: tenant.client_id.clone(),
            redirect_uri: String::new(),
        })
        .await
        .context("making the admin-consent link failed")?
        .into_inner();
    // The administrator opens the link and clicks Accept.
    emulator
        .state
        .identity
        .set_consent_decision(
            tenant.tenant_id,
            &tenant.client_id,
            galsync_graph_emulator::registration::ConsentDecision::Approve,
        )
        .map_err(|error| anyhow::anyhow!("the emulated consent screen failed: {error}"))?;
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::limited(3))
        .build()?;
    let landing = browser
        .get(&link.url)
        .send()
        .await
        .context("opening the consent link failed")?;
    if !landing.status().is_success() {
        anyhow::bail!("the consent callback answered {}", landing.status());
    }
    let status = broker
        .get_consent_status(v1::GetConsentStatusRequest {
            tenant_id: tenant.tenant_id.to_string(),
            client_id: tenant.client_id.clone(),
        })
        .await?
        .into_inner();
    if !status.granted {
        anyhow::bail!(
            "admin consent was not recorded: {} {}",
            status.error,
            status.error_description
        );
    }
    step.say("Admin consent granted: the administrator opened galsync's consent link and accepted");
    detail(link.url.split('?').next().unwrap_or_default());
    Ok(())
}

pub async fn test_connection(
    broker: &mut AuthBrokerClient<Channel>,
    tenant: &tenant::DemoTenant,
    step: &mut Step,
) -> anyhow::Result<()> {
    let probe = tenant
        .targets
        .first()
        .map(|id| id.to_string())
        .unwrap_or_default();
    let report = broker
        .test_connection(v1::TestConnectionRequest {
            tenant_id: tenant.tenant_id.to_string(),
            probe_mailbox: probe,
        })
        .await
        .context("the connection test failed to run")?
        .into_inner();
    step.say("Test connection");
    for check in &report.checks {
        let mark = if check.ok { "✓" } else { "✗" };
        detail(format!("{mark} {:<26} {}", check.name, check.detail));
        if !check.ok {
            detail(format!("  fix: {}", check.fix));
        }
    }
    if !report.ok {
        anyhow::bail!("the connection test failed; see the fixes above");
    }
    Ok(())
}
