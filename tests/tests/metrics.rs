//! Prometheus metrics through the real processes: one sync with two writers,
//! then every service's `/metrics` says what an operator would look for.

use std::time::{Duration, Instant};

use galsync_e2e::metrics::Scrape;
use galsync_e2e::{spawn_cluster, Cluster, ClusterSpec};

/// Scrapes `service` until `done` holds (counters are bumped just after the
/// state the CLI saw is stored), five seconds at most; gives the last scrape.
async fn scrape_until(
    cluster: &Cluster,
    service: &galsync_e2e::cluster::Service,
    done: impl Fn(&Scrape) -> bool,
) -> Scrape {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let scrape = cluster.scrape(service).await;
        if done(&scrape) || Instant::now() >= deadline {
            return scrape;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_sync_shows_in_every_services_metrics() {
    let cluster = spawn_cluster(ClusterSpec {
        writers: 2,
        ..ClusterSpec::default()
    })
    .await;

    // Before any work every endpoint answers, with valid text.
    for service in [&cluster.broker, &cluster.reader, &cluster.scheduler]
        .into_iter()
        .chain(&cluster.writers)
    {
        let scrape = cluster.scrape(service).await;
        assert_eq!(
            scrape.get("galsync_store_errors_total"),
            0.0,
            "{}",
            scrape.text
        );
    }

    let tenant = cluster.onboard(40, 4, 11).await;
    let profile_id = cluster.create_profile(&tenant, &[]).await;
    let run = cluster.run_to_success(&profile_id).await;
    cluster.assert_mailboxes_match(&tenant).await;
    let users = cluster.emulator.users(&tenant.tenant_id).await;
    let expected =
        (galsync::demo::verify::expected_contacts(&users).len() * tenant.targets.len()) as f64;
    assert!(expected > 0.0);
    assert_eq!(run["counts"]["created"].as_f64(), Some(expected), "{run:#}");

    // The scheduler: one run started and succeeded, every mailbox and
    // every contact the writers reported.
    let succeeded = r#"galsync_scheduler_runs_total{state="succeeded"}"#;
    let scheduler = scrape_until(&cluster, &cluster.scheduler, |scrape| {
        scrape.value(succeeded) == Some(1.0)
    })
    .await;
    assert_eq!(scheduler.get(succeeded), 1.0, "{}", scheduler.text);
    assert_eq!(
        scheduler.get(r#"galsync_scheduler_runs_total{state="started"}"#),
        1.0
    );
    assert_eq!(
        scheduler.get(r#"galsync_scheduler_runs_total{state="failed"}"#),
        0.0
    );
    assert_eq!(
        scheduler.get(r#"galsync_scheduler_mailboxes_total{outcome="succeeded"}"#),
        tenant.targets.len() as f64
    );
    assert_eq!(
        scheduler.get(r#"galsync_scheduler_contacts_total{change="created"}"#),
        expected,
        "{}",
        scheduler.text
    );
    assert_eq!(
        scheduler.kind("galsync_scheduler_work_items"),
        Some("gauge")
    );
    assert_eq!(scheduler.get("galsync_scheduler_lease_expiries_total"), 0.0);

    // The writers: together they created exactly the run's contacts, with
    // $batch calls Graph answered 2xx.
    let mut created = 0.0;
    let mut batches_ok = 0.0;
    for writer in &cluster.writers {
        let scrape = cluster.scrape(writer).await;
        created += scrape.get(r#"galsync_writer_contacts_total{change="created"}"#);
        batches_ok += scrape
            .value(r#"galsync_graph_requests_total{endpoint="batch",status="2xx"}"#)
            .unwrap_or(0.0);
        assert_eq!(scrape.kind("galsync_graph_requests_total"), Some("counter"));
        assert_eq!(scrape.get("galsync_store_errors_total"), 0.0);
    }
    assert_eq!(created, expected, "contacts created across the writers");
    assert!(batches_ok > 0.0, "no $batch call counted 2xx by any writer");

    // The reader: one full snapshot, its Graph reads answered 2xx.
    let reader = cluster.scrape(&cluster.reader).await;
    assert_eq!(
        reader.get(r#"galsync_reader_snapshots_total{mode="full"}"#),
        1.0,
        "{}",
        reader.text
    );
    let reader_ok: f64 = reader
        .family("galsync_graph_requests_total")
        .iter()
        .filter(|(series, _)| series.contains(r#"status="2xx""#))
        .map(|(_, value)| value)
        .sum();
    assert!(reader_ok > 0.0, "{}", reader.text);

    // The broker issued the reader's and the writers' tokens.
    let broker = cluster.scrape(&cluster.broker).await;
    assert!(
        broker.get("galsync_broker_tokens_issued_total") > 0.0,
        "{}",
        broker.text
    );
    assert_eq!(broker.get("galsync_broker_tokens_denied_total"), 0.0);
    // Credential health is counted at start and every ten minutes, so
    // the certificate made after start is not in it yet.
    assert_eq!(
        broker.kind("galsync_broker_certificate_days_to_expiry_min"),
        Some("gauge")
    );
}
