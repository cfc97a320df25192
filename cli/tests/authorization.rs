//! Who may call what, over real sockets with real certificates: the four
//! services of `galsync up` (mTLS from its internal PKI) called by every
//! galsync identity, by a `monitoring` certificate of the same CA and by a
//! `scheduler` certificate of another CA, each RPC of each family. Only the
//! scheduler drives writers and the reader, writers read snapshots, the
//! broker's purposes and admins hold, and nobody else gets in.

mod common;

use galsync::cluster::{Cluster, ClusterSpec};
use galsync_platform::TlsMaterial;
use galsync_proto::v1;
use galsync_proto::v1::auth_broker_client::AuthBrokerClient;
use galsync_proto::v1::contact_writer_client::ContactWriterClient;
use galsync_proto::v1::directory_reader_client::DirectoryReaderClient;
use galsync_proto::v1::scheduler_client::SchedulerClient;
use galsync_proto::v1::work_queue_client::WorkQueueClient;
use tonic::transport::Channel;
use tonic::{Code, Status};

/// A syntactically valid id nothing has: an allowed caller gets NOT_FOUND.
const UNKNOWN_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";
const UNKNOWN_TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";

/// Identities of the cluster's own CA, plus `monitoring` issued by it.
const SAME_CA_IDENTITIES: &[&str] = &[
    "scheduler",
    "directory-reader",
    "contact-writer",
    "auth-broker",
    "cli",
    // Bound to admin on the public API, but refused there without a
    // signed-in person (x-galsync-on-behalf-of): alone it may call nothing.
    "console",
    "monitoring",
];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Family {
    ReaderDirectory,
    ReaderSnapshots,
    WriterMailboxes,
    BrokerDirectoryTokens,
    BrokerContactsTokens,
    BrokerAdministration,
    SchedulerPublicApi,
    SchedulerWorkQueue,
}

/// Each family with the identities allowed it; everyone else is refused.
const MATRIX: &[(Family, &[&str])] = &[
    (Family::ReaderDirectory, &["scheduler"]),
    (Family::ReaderSnapshots, &["scheduler", "contact-writer"]),
    (Family::WriterMailboxes, &["scheduler"]),
    (Family::BrokerDirectoryTokens, &["directory-reader"]),
    (Family::BrokerContactsTokens, &["contact-writer"]),
    (Family::BrokerAdministration, &["scheduler", "cli"]),
    (Family::SchedulerPublicApi, &["cli"]),
    (Family::SchedulerWorkQueue, &["contact-writer"]),
];

/// Calls every RPC of `family` with a request that has no effect when
/// allowed (invalid or unknown ids); returns each RPC's name and answer.
async fn call_family(family: Family, channel: Channel) -> Vec<(&'static str, Result<(), Status>)> {
    match family {
        Family::ReaderDirectory => {
            let mut reader = DirectoryReaderClient::new(channel);
            vec![
                (
                    "galsync.v1.DirectoryReader/TakeSnapshot",
                    done(
                        reader
                            .take_snapshot(v1::TakeSnapshotRequest::default())
                            .await,
                    ),
                ),
                (
                    "galsync.v1.DirectoryReader/ResolveTargets",
                    done(
                        reader
                            .resolve_targets(v1::ResolveTargetsRequest::default())
                            .await,
                    ),
                ),
                (
                    "galsync.v1.DirectoryReader/ExplainFilter",
                    done(
                        reader
                            .explain_filter(v1::ExplainFilterRequest::default())
                            .await,
                    ),
                ),
            ]
        }
        Family::ReaderSnapshots => {
            let mut reader = DirectoryReaderClient::new(channel);
            let snapshot_id = UNKNOWN_HASH.to_owned();
            vec![
                (
                    "galsync.v1.DirectoryReader/GetSnapshot",
                    done(
                        reader
                            .get_snapshot(v1::GetSnapshotRequest {
                                snapshot_id: snapshot_id.clone(),
                            })
                            .await,
                    ),
                ),
                (
                    "galsync.v1.DirectoryReader/StreamSnapshot",
                    done(
                        reader
                            .stream_snapshot(v1::StreamSnapshotRequest {
                                snapshot_id: snapshot_id.clone(),
                                chunk_size: 0,
                            })
                            .await,
                    ),
                ),
                (
                    "galsync.v1.DirectoryReader/DiffSnapshots",
                    done(
                        reader
                            .diff_snapshots(v1::DiffSnapshotsRequest {
                                from_snapshot_id: snapshot_id.clone(),
                                to_snapshot_id: snapshot_id.clone(),
                            })
                            .await,
                    ),
                ),
                (
                    "galsync.v1.DirectoryReader/GetPhoto",
                    done(
                        reader
                            .get_photo(v1::GetPhotoRequest {
                                photo_hash: snapshot_id,
                            })
                            .await,
                    ),
                ),
            ]
        }
        Family::WriterMailboxes => {
            let mut writer = ContactWriterClient::new(channel);
            vec![
                (
                    "galsync.v1.ContactWriter/SyncMailbox",
                    done(writer.sync_mailbox(v1::SyncMailboxRequest::default()).await),
                ),
                (
                    "galsync.v1.ContactWriter/PlanMailbox",
                    done(writer.plan_mailbox(v1::SyncMailboxRequest::default()).await),
                ),
                (
                    "galsync.v1.ContactWriter/PurgeMailbox",
                    done(
                        writer
                            .purge_mailbox(v1::PurgeMailboxRequest::default())
                            .await,
                    ),
                ),
            ]
        }
        Family::BrokerDirectoryTokens | Family::BrokerContactsTokens => {
            let purpose = if family == Family::BrokerDirectoryTokens {
                v1::TokenPurpose::Directory
            } else {
                v1::TokenPurpose::Contacts
            };
            let mut broker = AuthBrokerClient::new(channel);
            vec![(
                "galsync.v1.AuthBroker/GetGraphToken",
                done(
                    broker
                        .get_graph_token(v1::GetGraphTokenRequest {
                            tenant_id: UNKNOWN_TENANT.to_owned(),
                            purpose: purpose as i32,
                        })
                        .await,
                ),
            )]
        }
        Family::BrokerAdministration => {
            let mut broker = AuthBrokerClient::new(channel);
            vec![
                (
                    "galsync.v1.AuthBroker/ListTenants",
                    done(broker.list_tenants(v1::ListTenantsRequest::default()).await),
                ),
                (
                    "galsync.v1.AuthBroker/ListTenantHealth",
                    done(
                        broker
                            .list_tenant_health(v1::ListTenantHealthRequest::default())
                            .await,
                    ),
                ),
                (
                    "galsync.v1.AuthBroker/UpdateTenant",
                    done(
                        broker
                            .update_tenant(v1::UpdateTenantRequest {
                                tenant_id: UNKNOWN_TENANT.to_owned(),
                                display_name: Some("Nobody".to_owned()),
                                ..Default::default()
                            })
                            .await,
                    ),
                ),
                (
                    "galsync.v1.AuthBroker/RemoveTenant",
                    done(
                        broker
                            .remove_tenant(v1::RemoveTenantRequest {
                                tenant_id: UNKNOWN_TENANT.to_owned(),
                            })
                            .await,
                    ),
                ),
            ]
        }
        Family::SchedulerPublicApi => {
            let mut scheduler = SchedulerClient::new(channel);
            vec![(
                "galsync.v1.Scheduler/ListProfiles",
                done(
                    scheduler
                        .list_profiles(v1::ListProfilesRequest::default())
                        .await,
                ),
            )]
        }
        Family::SchedulerWorkQueue => {
            let mut queue = WorkQueueClient::new(channel);
            vec![(
                "galsync.v1.WorkQueue/Heartbeat",
                done(
                    queue
                        .heartbeat(v1::HeartbeatRequest {
                            lease_token: "no-such-lease".to_owned(),
                            ..Default::default()
                        })
                        .await,
                ),
            )]
        }
    }
}

/// An answer without its message: only whether and why it failed matters.
fn done<T>(result: Result<tonic::Response<T>, Status>) -> Result<(), Status> {
    result.map(|_| ())
}

fn address_of(cluster: &Cluster, family: Family) -> std::net::SocketAddr {
    match family {
        Family::ReaderDirectory | Family::ReaderSnapshots => cluster.addresses.directory_reader,
        Family::WriterMailboxes => cluster.addresses.contact_writer,
        Family::BrokerDirectoryTokens
        | Family::BrokerContactsTokens
        | Family::BrokerAdministration => cluster.addresses.auth_broker,
        Family::SchedulerPublicApi | Family::SchedulerWorkQueue => cluster.addresses.scheduler,
    }
}

fn channel_to(addr: std::net::SocketAddr, material: &TlsMaterial) -> Channel {
    galsync_platform::tls::channel(&format!("https://{addr}"), Some(material), "localhost")
        .expect("a channel to the cluster")
}

/// Whether the services let a caller in: `Err` describes a cell of the
/// matrix that went the wrong way.
fn check_cell(
    family: Family,
    identity: &str,
    rpc: &str,
    should_be_allowed: bool,
    answer: &Result<(), Status>,
) -> Result<(), String> {
    let refused = matches!(answer, Err(status) if status.code() == Code::PermissionDenied || status.code() == Code::Unauthenticated);
    if should_be_allowed {
        if refused {
            return Err(format!(
                "{identity} was refused {rpc} ({family:?}): {answer:?}"
            ));
        }
        return Ok(());
    }
    let Err(status) = answer else {
        return Err(format!("{identity} was allowed {rpc} ({family:?})"));
    };
    if status.code() != Code::PermissionDenied {
        return Err(format!(
            "{identity} calling {rpc} ({family:?}) got {:?} instead of PERMISSION_DENIED: {}",
            status.code(),
            status.message()
        ));
    }
    if !status.message().contains(identity) {
        return Err(format!(
            "the refusal of {rpc} does not name {identity}: {}",
            status.message()
        ));
    }
    if !status.message().contains(rpc) {
        return Err(format!(
            "the refusal does not name {rpc}: {}",
            status.message()
        ));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_service_lets_only_its_callers_call_each_rpc() {
    let data_dir = tempfile::tempdir().unwrap();
    let cluster = Cluster::start(ClusterSpec {
        data_dir: data_dir.path().to_owned(),
        port_base: None,
        tls: true,
        writer_workers: Some(1),
        writer_max_workers: Some(1),
    })
    .await
    .unwrap();
    galsync_platform::pki::issue_identity(&cluster.pki_dir, "monitoring", &[]).unwrap();
    let other_ca_dir = tempfile::tempdir().unwrap();
    galsync_platform::pki::init_dir(other_ca_dir.path(), &[]).unwrap();
    let other_ca_scheduler = TlsMaterial::from_pki_dir(other_ca_dir.path(), "scheduler").unwrap();

    let mut wrong_cells = Vec::new();
    let mut cells_checked = 0;
    for (family, allowed_identities) in MATRIX {
        let addr = address_of(&cluster, *family);
        for identity in SAME_CA_IDENTITIES {
            let material = TlsMaterial::from_pki_dir(&cluster.pki_dir, identity).unwrap();
            let should_be_allowed = allowed_identities.contains(identity);
            for (rpc, answer) in call_family(*family, channel_to(addr, &material)).await {
                cells_checked += 1;
                if let Err(wrong) = check_cell(*family, identity, rpc, should_be_allowed, &answer) {
                    wrong_cells.push(wrong);
                }
            }
        }
        // A certificate of another CA does not get past the TLS handshake.
        for (rpc, answer) in call_family(*family, channel_to(addr, &other_ca_scheduler)).await {
            cells_checked += 1;
            match answer {
                Err(status) if status.code() == Code::Unavailable => {}
                other => wrong_cells.push(format!(
                    "a scheduler certificate of another CA calling {rpc} got {other:?}"
                )),
            }
        }
    }
    assert_eq!(cells_checked, 18 * (SAME_CA_IDENTITIES.len() + 1));

    // The broker audits the refusals of its administration RPCs.
    let cli = TlsMaterial::from_pki_dir(&cluster.pki_dir, "cli").unwrap();
    let mut broker = AuthBrokerClient::new(channel_to(cluster.addresses.auth_broker, &cli));
    let denied = broker
        .list_audit_events(v1::ListAuditEventsRequest {
            kind: "access.denied".to_owned(),
            limit: 100,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .events;
    assert!(
        denied
            .iter()
            .any(|event| event.caller == "urn:galsync:service:monitoring"
                && event.detail == "galsync.v1.AuthBroker/ListTenants"),
        "no audited refusal of monitoring's ListTenants: {denied:?}"
    );
    assert!(
        wrong_cells.is_empty(),
        "{} cells of the matrix are wrong:\n{}",
        wrong_cells.len(),
        wrong_cells.join("\n")
    );
    cluster.stop().await.unwrap();
}

/// `galsync up --plaintext` keeps working: without certificates the services
/// trust their plaintext loopback callers (`--trust-plaintext-loopback`), so
/// the scheduler still takes snapshots and the writers still fetch them and
/// fill every mailbox.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plaintext_cluster_still_syncs_every_mailbox() {
    use galsync::demo::{self, verify};
    use galsync_graph_emulator::{Emulator, EmulatorConfig};

    let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let common::OnboardedCluster {
        cluster,
        tenant,
        mut scheduler,
        profile_id,
        data_dir: _data_dir,
    } = common::onboarded_cluster(&emulator, 60, 3, 3, false).await;
    let outcome = demo::sync(&mut scheduler, &profile_id).await.unwrap();
    assert_eq!(
        outcome.run.state,
        v1::RunState::Succeeded as i32,
        "{:?}",
        outcome.run
    );
    let verification = verify::verify(&emulator, &tenant);
    assert!(verification.passed(), "{:?}", verification.problems);
    assert_eq!(verification.mailboxes_checked, 3);
    cluster.stop().await.unwrap();
}
