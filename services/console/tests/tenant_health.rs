//! Every tenant's health on the overview and on Tenants comes from one
//! auth-broker call per page view (`ListTenantHealth`), however many tenants
//! and apps there are, and reads as it did when the console asked per tenant
//! and per app: certificate made but not accepted, none, client-secret mode;
//! consent granted, refused with Entra's error, not yet, per app of a
//! two-app tenant; each app's client secret: none, expiring inside the
//! broker's renewal window (whatever `--cert-renewal-days` says), later,
//! expired. The calls are counted by the broker's own metric
//! (`galsync_broker_calls_total`), as an operator scraping it would.

mod common;

use common::spawn_tenant_console;
use galsync_proto::v1;
use galsync_testkit::scheduler::MtlsScheduler;
use galsync_testkit::TestBroker;
use uuid::Uuid;

const HEALTH_RPC: &str = "galsync.v1.AuthBroker/ListTenantHealth";

#[tokio::test]
async fn every_tenants_health_shows_from_one_broker_call_per_page_view() {
    let scheduler = MtlsScheduler::start(1, &[]).await;
    let broker = TestBroker::start_sharing_pki(&scheduler.pki_dir).await;
    let console = spawn_tenant_console(&scheduler, &broker).await;
    let viewer = console.sign_in(&console.viewer_link).await;
    let mut cli = broker.admin_client().await;

    // Fabrikam: a certificate made but not yet accepted, consent granted.
    let fabrikam = Uuid::new_v4().to_string();
    let fabrikam_app = Uuid::new_v4().to_string();
    register(&mut cli, &fabrikam, "Fabrikam", &[&fabrikam_app], true).await;
    cli.generate_certificate(v1::GenerateCertificateRequest {
        tenant_id: fabrikam.clone(),
        client_id: fabrikam_app.clone(),
        key_bits: 0,
        validity_days: 0,
    })
    .await
    .unwrap();
    entra_returns_consent(&broker, &fabrikam, &fabrikam_app, "admin_consent=True").await;

    let one_tenant = [
        (
            fabrikam.as_str(),
            "<strong class=\"attention\">made, not yet accepted by Entra (upload the .cer)</strong>",
        ),
        (fabrikam.as_str(), "<td>granted 20"),
    ];
    for path in ["/", "/tenants"] {
        let page = page_counting_calls(&console, &broker, path, &viewer).await;
        assert_rows(&page, &one_tenant);
    }

    // Northwind: nothing yet. Tailspin: two apps with client secrets, one
    // refused consent, the other not asked yet.
    let northwind = Uuid::new_v4().to_string();
    register(
        &mut cli,
        &northwind,
        "Northwind",
        &[&Uuid::new_v4().to_string()],
        true,
    )
    .await;
    let tailspin = Uuid::new_v4().to_string();
    let (read_app, write_app) = (Uuid::new_v4().to_string(), Uuid::new_v4().to_string());
    register(
        &mut cli,
        &tailspin,
        "Tailspin",
        &[&read_app, &write_app],
        false,
    )
    .await;
    entra_returns_consent(
        &broker,
        &tailspin,
        &read_app,
        "error=access_denied&error_description=The+admin+canceled+the+request",
    )
    .await;

    // Tailspin's read app's secret expires in 10 days (inside the warning
    // window), its write app's in 200. Litware signs in with a secret that
    // expired yesterday; Adatum with none stored.
    set_secret(&mut cli, &tailspin, &read_app, 10).await;
    set_secret(&mut cli, &tailspin, &write_app, 200).await;
    let litware = Uuid::new_v4().to_string();
    let litware_app = Uuid::new_v4().to_string();
    register(&mut cli, &litware, "Litware", &[&litware_app], false).await;
    set_secret(&mut cli, &litware, &litware_app, -1).await;
    let adatum = Uuid::new_v4().to_string();
    register(
        &mut cli,
        &adatum,
        "Adatum",
        &[&Uuid::new_v4().to_string()],
        false,
    )
    .await;

    let refused = format!("{read_app}: refused: access_denied The admin canceled the request");
    // The cell lists the apps in the broker's order, marked as a whole.
    let (soon, later) = (
        format!("{read_app}: expires in 9 days"),
        format!("{write_app}: expires in 199 days"),
    );
    let secrets = if read_app < write_app {
        format!("<td><strong class=\"attention\">{soon}; {later}</strong></td>")
    } else {
        format!("<td><strong class=\"attention\">{later}; {soon}</strong></td>")
    };
    let not_asked = format!("{write_app}: not granted yet");
    let every_tenant = [
        one_tenant[0],
        one_tenant[1],
        (
            northwind.as_str(),
            "<strong class=\"attention\">none: generate one</strong>",
        ),
        (
            northwind.as_str(),
            "<strong class=\"attention\">not granted yet</strong>",
        ),
        (tailspin.as_str(), "<td>client secret mode</td>"),
        (tailspin.as_str(), refused.as_str()),
        (tailspin.as_str(), not_asked.as_str()),
        (fabrikam.as_str(), "<td>none</td>"),
        (northwind.as_str(), "<td>none</td>"),
        (tailspin.as_str(), secrets.as_str()),
        (
            litware.as_str(),
            "<td><strong class=\"attention\">expired 20",
        ),
        (
            adatum.as_str(),
            "<td><strong class=\"attention\">none</strong></td>",
        ),
    ];
    for path in ["/", "/tenants"] {
        let page = page_counting_calls(&console, &broker, path, &viewer).await;
        assert_rows(&page, &every_tenant);
    }
    // The tenant's own page says what to do, to a viewer too.
    let litware_page = console.page(&format!("/tenants/{litware}"), &viewer).await;
    assert!(
        litware_page.contains("<strong class=\"attention\">Needs you: expired 20"),
        "{litware_page}"
    );
    assert!(
        litware_page.contains("and store it (an admin can).</strong>"),
        "{litware_page}"
    );
}

/// `path` as `cookie`'s person sees it, checking the console asked the
/// broker exactly once for it: `ListTenantHealth`.
async fn page_counting_calls(
    console: &common::TestConsole,
    broker: &TestBroker,
    path: &str,
    cookie: &str,
) -> String {
    let before = broker_calls(broker);
    let page = console.page(path, cookie).await;
    let after = broker_calls(broker);
    let calls: i64 = after.iter().map(|(_, count)| count).sum::<i64>()
        - before.iter().map(|(_, count)| count).sum::<i64>();
    assert_eq!(
        calls, 1,
        "broker calls for GET {path}: {before:?} then {after:?}"
    );
    let health_calls = |counts: &[(String, i64)]| {
        counts
            .iter()
            .find(|(rpc, _)| rpc == HEALTH_RPC)
            .map_or(0, |(_, count)| *count)
    };
    assert_eq!(
        health_calls(&after) - health_calls(&before),
        1,
        "GET {path}"
    );
    page
}

/// The broker's `galsync_broker_calls_total` series as its metrics
/// endpoint renders them: (rpc, count).
fn broker_calls(broker: &TestBroker) -> Vec<(String, i64)> {
    let prefix = "galsync_broker_calls_total{rpc=\"";
    let mut counts = Vec::new();
    for line in broker.broker().metrics().render().lines() {
        let Some(rest) = line.strip_prefix(prefix) else {
            continue;
        };
        let (rpc, count) = rest.split_once("\"} ").expect("a sample line");
        counts.push((rpc.to_owned(), count.trim().parse().expect("a count")));
    }
    counts
}

/// The console warns about a client secret inside the broker's renewal
/// window (`--cert-renewal-days`), not a window of its own: with 60 days a
/// secret expiring in 45 days is marked and one in 75 is not; with 7 days
/// one in 10 days is not marked. The overview, Tenants and the tenant's
/// page agree.
#[tokio::test]
async fn a_client_secret_is_marked_inside_the_brokers_renewal_window() {
    for (renewal_days, marked_in, plain_in) in [(60, 45, 75), (7, 3, 10)] {
        let scheduler = MtlsScheduler::start(1, &[]).await;
        let broker = TestBroker::start_sharing_pki_with(&scheduler.pki_dir, |config| {
            config.cert_renewal_days = renewal_days;
        })
        .await;
        let console = spawn_tenant_console(&scheduler, &broker).await;
        let viewer = console.sign_in(&console.viewer_link).await;
        let mut cli = broker.admin_client().await;
        let (marked, marked_app) = (Uuid::new_v4().to_string(), Uuid::new_v4().to_string());
        register(&mut cli, &marked, "Tailspin", &[&marked_app], false).await;
        set_secret(&mut cli, &marked, &marked_app, marked_in).await;
        let (plain, plain_app) = (Uuid::new_v4().to_string(), Uuid::new_v4().to_string());
        register(&mut cli, &plain, "Litware", &[&plain_app], false).await;
        set_secret(&mut cli, &plain, &plain_app, plain_in).await;

        let marked_text = format!("expires in {} days", marked_in - 1);
        let plain_text = format!("expires in {} days", plain_in - 1);
        let marked_cell = format!("<td><strong class=\"attention\">{marked_text}</strong></td>");
        let plain_cell = format!("<td>{plain_text}</td>");
        for path in ["/", "/tenants"] {
            let page = console.page(path, &viewer).await;
            assert_rows(&page, &[(&marked, &marked_cell), (&plain, &plain_cell)]);
        }
        let marked_page = console.page(&format!("/tenants/{marked}"), &viewer).await;
        assert!(
            marked_page.contains(&format!("Needs you: {marked_text}")),
            "window {renewal_days}: {marked_page}"
        );
        let plain_page = console.page(&format!("/tenants/{plain}"), &viewer).await;
        assert!(
            !plain_page.contains("Needs you"),
            "window {renewal_days}: {plain_page}"
        );
    }
}

/// Each (tenant, text): the tenant's row of the table shows the text.
fn assert_rows(page: &str, expected: &[(&str, &str)]) {
    for (tenant_id, text) in expected {
        let link = format!("<a href=\"/tenants/{tenant_id}\">");
        let start = page
            .find(&link)
            .unwrap_or_else(|| panic!("no row for {tenant_id}: {page}"));
        let row = &page[start..];
        let row = &row[..row.find("</tr>").expect("the row's end")];
        assert!(
            row.contains(text),
            "{tenant_id}'s row lacks {text:?}: {row}"
        );
    }
}

async fn register(
    cli: &mut v1::auth_broker_client::AuthBrokerClient<tonic::transport::Channel>,
    tenant_id: &str,
    name: &str,
    client_ids: &[&str],
    certificate_mode: bool,
) {
    let auth_mode = if certificate_mode {
        v1::AuthMode::Certificate
    } else {
        v1::AuthMode::ClientSecret
    };
    let apps = client_ids
        .iter()
        .enumerate()
        .map(|(index, client_id)| v1::AppRegistration {
            client_id: (*client_id).to_owned(),
            auth_mode: auth_mode as i32,
            purposes: match (client_ids.len(), index) {
                (1, _) => vec![
                    v1::TokenPurpose::Directory as i32,
                    v1::TokenPurpose::Contacts as i32,
                ],
                (_, 0) => vec![v1::TokenPurpose::Directory as i32],
                _ => vec![v1::TokenPurpose::Contacts as i32],
            },
            ..Default::default()
        })
        .collect();
    cli.register_tenant(v1::RegisterTenantRequest {
        tenant_id: tenant_id.to_owned(),
        display_name: name.to_owned(),
        login_base_url: String::new(),
        graph_base_url: String::new(),
        apps,
    })
    .await
    .unwrap();
}

/// Stores a client secret for the app that Entra expires in `days` days
/// (and a minute, so the whole days left are `days - 1`).
async fn set_secret(
    cli: &mut v1::auth_broker_client::AuthBrokerClient<tonic::transport::Channel>,
    tenant_id: &str,
    client_id: &str,
    days: i64,
) {
    let expires_at =
        chrono::Utc::now() + chrono::Duration::days(days) - chrono::Duration::minutes(1);
    cli.set_client_secret(v1::SetClientSecretRequest {
        tenant_id: tenant_id.to_owned(),
        client_id: client_id.to_owned(),
        secret: "a-test-secret-value".to_owned(),
        expires_at: Some(prost_types::Timestamp {
            seconds: expires_at.timestamp(),
            nanos: 0,
        }),
    })
    .await
    .unwrap();
}

/// Entra's redirect back to the broker's consent callback after an
/// administrator answered the consent link, with `outcome`'s parameters.
async fn entra_returns_consent(
    broker: &TestBroker,
    tenant_id: &str,
    client_id: &str,
    outcome: &str,
) {
    let link = broker
        .admin_client()
        .await
        .get_admin_consent_url(v1::GetAdminConsentUrlRequest {
            tenant_id: tenant_id.to_owned(),
            client_id: client_id.to_owned(),
            redirect_uri: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let callback = format!(
        "http://{}/consent/callback?tenant={tenant_id}&state={}&{outcome}",
        broker.consent_addr(),
        link.state
    );
    let answer = reqwest::get(&callback).await.unwrap();
    assert_eq!(answer.status(), 200, "{}", answer.text().await.unwrap());
}
