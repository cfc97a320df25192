//! Separate hosts for real: each service in a network namespace of its own,
//! with its own address, configured only through its flags — a service that
//! quietly assumed its peer on localhost, or a certificate that named only
//! localhost, fails here. The emulator and the CLI sit on the bridge's
//! gateway, as Microsoft Graph and an administrator's machine would.
//!
//! Needs root and iproute2 (CI has both); elsewhere it prints why and skips.

use galsync_e2e::{spawn_cluster, ClusterSpec};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_service_on_its_own_host_syncs_exactly() {
    if let Some(reason) = galsync_e2e::hosts::unavailable() {
        println!("skipping every_service_on_its_own_host_syncs_exactly: {reason}");
        return;
    }
    let cluster = spawn_cluster(ClusterSpec {
        writers: 2,
        separate_hosts: true,
        // Graph's latency, so a mailbox lasts long enough for both writers
        // to be leasing when the run queues its work.
        emulator_args: vec!["--latency".to_owned(), "graph".to_owned()],
        ..ClusterSpec::default()
    })
    .await;
    for service in [&cluster.broker, &cluster.reader, &cluster.scheduler] {
        assert!(
            !service.addr.ip().is_loopback(),
            "{} listens on {}",
            service.process.name(),
            service.addr
        );
    }
    let tenant = cluster.onboard(40, 4, 31).await;
    let profile_id = cluster.create_profile(&tenant, &[]).await;
    let run = cluster.run_to_success(&profile_id).await;
    assert_eq!(
        run["mailboxes_succeeded"].as_u64(),
        Some(tenant.targets.len() as u64),
        "{run:#}"
    );
    cluster.assert_mailboxes_match(&tenant).await;
    // Both writers, each on its own host, took part.
    for writer in &cluster.writers {
        assert!(
            writer.process.log_tail(10_000).contains("leased work"),
            "{} never leased work:\n{}",
            writer.process.name(),
            writer.process.log_tail(30)
        );
    }
}
