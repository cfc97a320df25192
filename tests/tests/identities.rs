//! Scenario 10 of the process-level suite: every service checks who calls
//! it. A caller with another CA's certificate never gets past the
//! handshake, nor does one with no certificate — except at the scheduler,
//! whose public API takes API keys over TLS (tests/tests/api_keys.rs) and
//! which refuses such a caller every RPC without a key; a valid certificate
//! of the wrong service is refused
//! the call; the auth-broker issues tokens only to the reader and the writer,
//! each for its own purpose.

use galsync_e2e::cluster::{cli_output, Service};
use galsync_e2e::{spawn_cluster, Cluster, ClusterSpec};
use galsync_proto::v1;
use tonic::Code;

async fn health(channel: tonic::transport::Channel) -> Result<(), tonic::Status> {
    galsync_testkit::harness::health_status(channel, "")
        .await
        .map(|_| ())
}

fn services(cluster: &Cluster) -> Vec<&Service> {
    vec![
        &cluster.broker,
        &cluster.reader,
        &cluster.scheduler,
        &cluster.writers[0],
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn strangers_and_wrong_services_are_refused_by_every_service() {
    let cluster = spawn_cluster(ClusterSpec::default()).await;
    let tenant = cluster.onboard(20, 1, 5).await;

    // Another CA's PKI, and a client with no certificate at all.
    let other_pki = cluster.dir().join("other-pki");
    let made = cli_output(&[
        "pki".to_owned(),
        "init".to_owned(),
        "--dir".to_owned(),
        other_pki.display().to_string(),
    ])
    .await;
    assert_eq!(made.code, Some(0), "{}", made.stderr);
    let ca = std::fs::read(cluster.pki_dir.join("ca.pem")).expect("ca.pem");
    for service in services(&cluster) {
        let name = service.process.name();
        health(cluster.channel_as(service, &cluster.pki_dir, "cli"))
            .await
            .unwrap_or_else(|status| panic!("{name} refused the CLI's own certificate: {status}"));
        let stranger = health(cluster.channel_as(service, &other_pki, "cli")).await;
        assert!(stranger.is_err(), "{name} let another CA's certificate in");
        let anonymous = tonic::transport::Endpoint::from_shared(service.url())
            .expect("an endpoint")
            .tls_config(
                tonic::transport::ClientTlsConfig::new()
                    .ca_certificate(tonic::transport::Certificate::from_pem(&ca))
                    .domain_name("localhost"),
            )
            .expect("a TLS config")
            .connect_lazy();
        if std::ptr::eq(service, &cluster.scheduler) {
            // The public API takes API keys from callers without a
            // certificate, so the scheduler completes their handshake; every
            // RPC of theirs then needs a key (tests/tests/api_keys.rs).
            assert!(
                health(anonymous).await.is_ok(),
                "the scheduler refused TLS without a client certificate"
            );
        } else {
            assert!(
                health(anonymous).await.is_err(),
                "{name} let a caller without a certificate in"
            );
        }
    }
    let outcome = cluster
        .galsync_as("cli", &other_pki, &["tenant", "list"])
        .await;
    assert_eq!(
        outcome.code,
        Some(3),
        "another CA's CLI: {}",
        outcome.stderr
    );

    // Valid certificates of the wrong service.
    let token = |identity: &str, purpose: v1::TokenPurpose| {
        let channel = cluster.channel_as(&cluster.broker, &cluster.pki_dir, identity);
        let request = v1::GetGraphTokenRequest {
            tenant_id: tenant.tenant_id.clone(),
            purpose: purpose as i32,
        };
        async move {
            v1::auth_broker_client::AuthBrokerClient::new(channel)
                .get_graph_token(request)
                .await
        }
    };
    for (identity, purpose) in [
        ("scheduler", v1::TokenPurpose::Directory),
        ("cli", v1::TokenPurpose::Contacts),
        ("contact-writer", v1::TokenPurpose::Directory),
        ("directory-reader", v1::TokenPurpose::Contacts),
    ] {
        let refused = token(identity, purpose)
            .await
            .expect_err(&format!("{identity} got a {purpose:?} token"));
        assert_eq!(
            refused.code(),
            Code::PermissionDenied,
            "{identity}: {refused}"
        );
    }
    let issued = token("directory-reader", v1::TokenPurpose::Directory)
        .await
        .expect("the reader gets its directory token");
    assert!(!issued.get_ref().access_token.is_empty());

    let outcome = cluster
        .galsync_as("contact-writer", &cluster.pki_dir, &["tenant", "list"])
        .await;
    assert_eq!(
        outcome.code,
        Some(4),
        "the writer as an admin: {}",
        outcome.stderr
    );
    let outcome = cluster
        .galsync_as("directory-reader", &cluster.pki_dir, &["profile", "list"])
        .await;
    assert_eq!(
        outcome.code,
        Some(4),
        "the reader as an admin: {}",
        outcome.stderr
    );

    let snapshot = v1::directory_reader_client::DirectoryReaderClient::new(cluster.channel_as(
        &cluster.reader,
        &cluster.pki_dir,
        "cli",
    ))
    .take_snapshot(v1::TakeSnapshotRequest {
        tenant_id: tenant.tenant_id.clone(),
        ..Default::default()
    })
    .await
    .expect_err("the CLI took a directory snapshot");
    assert_eq!(snapshot.code(), Code::PermissionDenied, "{snapshot}");

    let mailbox = tenant.targets.keys().next().cloned().unwrap_or_default();
    let purge = v1::contact_writer_client::ContactWriterClient::new(cluster.channel_as(
        &cluster.writers[0],
        &cluster.pki_dir,
        "directory-reader",
    ))
    .purge_mailbox(v1::PurgeMailboxRequest {
        tenant_id: tenant.tenant_id.clone(),
        mailbox_id: mailbox,
        ..Default::default()
    })
    .await
    .expect_err("the reader purged a mailbox");
    assert_eq!(purge.code(), Code::PermissionDenied, "{purge}");

    let lease = v1::work_queue_client::WorkQueueClient::new(cluster.channel_as(
        &cluster.scheduler,
        &cluster.pki_dir,
        "cli",
    ))
    .lease(v1::LeaseRequest::default())
    .await
    .expect_err("the CLI leased work");
    assert_eq!(lease.code(), Code::PermissionDenied, "{lease}");

    // Every issuance and refusal is in the audit log, naming the caller.
    let audit = cluster
        .galsync(&["audit", "--tenant-id", &tenant.tenant_id, "--limit", "500"])
        .await
        .ok("audit");
    let events = audit["events"].as_array().cloned().unwrap_or_default();
    let callers_of = |kind: &str| -> Vec<String> {
        let mut callers: Vec<String> = events
            .iter()
            .filter(|event| event["kind"] == kind)
            .filter_map(|event| event["caller"].as_str().map(str::to_owned))
            .collect();
        callers.sort();
        callers
    };
    let denied = callers_of("token.denied");
    for identity in ["scheduler", "cli", "contact-writer", "directory-reader"] {
        assert!(
            denied.iter().any(|caller| caller.contains(identity)),
            "no token.denied for {identity}: {denied:?}"
        );
    }
    assert!(
        callers_of("token.issued")
            .iter()
            .any(|caller| caller.contains("directory-reader")),
        "the reader's token is not audited: {audit:#}"
    );
}
