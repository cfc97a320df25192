//! Only the scheduler may make the writer write: a certificate of the same
//! internal CA for any other identity (`monitoring`, the `cli` admin) gets
//! PERMISSION_DENIED from PurgeMailbox and the mailbox keeps every contact.
//! The writer serves over mTLS through the platform's server bootstrap, as in
//! production.

mod common;

use std::net::SocketAddr;
use std::sync::Arc;

use common::{directory, no_limits, settings, Harness, FOLDER};
use galsync_contact_writer::engine::Engine;
use galsync_contact_writer::grpc::ContactWriterService;
use galsync_platform::grpc::ServeOptions;
use galsync_platform::{AllowedCallers, TlsMaterial};
use galsync_proto::v1;
use galsync_proto::v1::contact_writer_client::ContactWriterClient;
use galsync_proto::v1::contact_writer_server::ContactWriterServer;
use galsync_testkit::harness::{serve_galsync, RunningServer};
use tonic::transport::Channel;

const MAILBOX_CONTACTS: usize = 365;

/// Serves the writer with the `contact-writer` certificate of `pki_dir`,
/// admitting only the `scheduler` identity (the default `--scheduler-identity`).
async fn serve_with_mtls(engine: Arc<Engine>, pki_dir: &std::path::Path) -> RunningServer {
    let tls = TlsMaterial::from_pki_dir(pki_dir, "contact-writer").unwrap();
    let options =
        ServeOptions::local("contact-writer", vec!["galsync.v1.ContactWriter"]).with_tls(Some(tls));
    let mut routes = tonic::service::RoutesBuilder::default();
    routes.add_service(ContactWriterServer::new(ContactWriterService::new(
        engine,
        AllowedCallers::new(["scheduler"], false),
    )));
    serve_galsync(options, routes).await
}

fn client_as(
    addr: SocketAddr,
    pki_dir: &std::path::Path,
    identity: &str,
) -> ContactWriterClient<Channel> {
    let material = TlsMaterial::from_pki_dir(pki_dir, identity).unwrap();
    let channel =
        galsync_platform::tls::channel(&format!("https://{addr}"), Some(&material), "localhost")
            .unwrap();
    ContactWriterClient::new(channel)
}

fn purge_request(harness: &Harness, mailbox_id: &str) -> v1::PurgeMailboxRequest {
    v1::PurgeMailboxRequest {
        tenant_id: harness.tenant_id.to_string(),
        mailbox_id: mailbox_id.to_owned(),
        folder_name: FOLDER.to_owned(),
        profile_id: "profile-1".to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_of_another_identity_cannot_purge_a_mailbox() {
    let harness = Harness::start(no_limits(), settings()).await;
    let mailbox = harness.add_mailboxes(1).remove(0);
    harness
        .sync(
            &mailbox,
            &directory(MAILBOX_CONTACTS),
            v1::WritePolicy::default(),
        )
        .await;
    assert_eq!(harness.owned_by_source(&mailbox).len(), MAILBOX_CONTACTS);
    let pki_dir = harness.broker.pki_dir().to_owned();
    galsync_platform::pki::issue_identity(&pki_dir, "monitoring", &[]).unwrap();
    let writer = serve_with_mtls(Arc::clone(&harness.engine), &pki_dir).await;
    let addr = writer.addr;
    let deletes_before = harness.contact_writes("DELETE");

    for identity in ["monitoring", "cli", "directory-reader"] {
        let refused = client_as(addr, &pki_dir, identity)
            .purge_mailbox(purge_request(&harness, &mailbox))
            .await
            .unwrap_err();
        assert_eq!(
            refused.code(),
            tonic::Code::PermissionDenied,
            "{identity}: {refused:?}"
        );
        assert_eq!(
            refused.message(),
            format!(
                "urn:galsync:service:{identity} may not call galsync.v1.ContactWriter/PurgeMailbox; only scheduler may"
            )
        );
    }
    assert_eq!(
        harness.contact_writes("DELETE"),
        deletes_before,
        "no contact was deleted"
    );
    assert_eq!(harness.owned_by_source(&mailbox).len(), MAILBOX_CONTACTS);

    let purged = client_as(addr, &pki_dir, "scheduler")
        .purge_mailbox(purge_request(&harness, &mailbox))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(purged.counts.unwrap().deleted, MAILBOX_CONTACTS as u64);
    assert!(
        harness.folder_ids(&mailbox).is_empty(),
        "the galsync folder is gone"
    );
}
