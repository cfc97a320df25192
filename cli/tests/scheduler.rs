//! Scheduler commands of the real `galsync` binary against a small fake
//! `Scheduler` served over mTLS on port 0 with canned answers: the spec the CLI
//! sends, the tables it renders, `--follow` over a real `WatchRun` stream, and
//! exit codes.

mod common;
mod fake_scheduler;

use common::TestBroker;
use fake_scheduler::{FakeServer, TENANT};
use galsync_proto::v1;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_create_sends_the_spec_the_flags_describe() {
    let server = FakeServer::start().await;
    let outcome = server
        .galsync(&[
            "profile",
            "create",
            "--name",
            "Phones",
            "--tenant-id",
            TENANT,
            "--folder",
            "Contoso",
            "--target-group",
            "g-sales",
            "--target-group",
            "g-support",
            "--exclude-group",
            "g-temps",
            "--exclude-department",
            "Interns",
            "--cron",
            "0 6 * * *",
            "--time-zone",
            "Europe/Berlin",
            "--deletion-mode",
            "mirror",
            "--hide-field",
            "mobilePhone",
        ])
        .await;
    assert_eq!(outcome.code, Some(0), "{outcome:?}");
    assert!(
        outcome.stdout.contains("created profile prof-1"),
        "{}",
        outcome.stdout
    );
    assert!(
        outcome.stdout.contains("cron 0 6 * * * (Europe/Berlin)"),
        "{}",
        outcome.stdout
    );
    assert!(
        outcome.stdout.contains("galsync run start prof-1 --follow"),
        "{}",
        outcome.stdout
    );
    assert!(
        !outcome.stdout.contains("gsk_live_s3cret") && !outcome.stderr.contains("gsk_live_s3cret")
    );

    let recorded = server.recorded.lock().unwrap();
    assert_eq!(recorded.authorization, ["Bearer gsk_live_s3cret"]);
    let spec = &recorded.created[0];
    assert_eq!(spec.name, "Phones");
    assert_eq!(spec.tenant_id, TENANT);
    assert!(spec.enabled);
    let targets = spec.targets.as_ref().unwrap();
    assert_eq!(targets.group_ids, ["g-sales", "g-support"]);
    assert!(!targets.all_mailboxes);
    let source = spec.source.as_ref().unwrap();
    assert_eq!(source.exclude_group_ids, ["g-temps"]);
    assert_eq!(source.rules.len(), 1);
    assert_eq!(source.rules[0].attribute, "department");
    assert_eq!(source.rules[0].values, ["Interns"]);
    assert!(source.rules[0].exclude);
    let write = spec.write.as_ref().unwrap();
    assert_eq!(write.folder_name, "Contoso");
    assert_eq!(write.deletion_mode, v1::DeletionMode::Mirror as i32);
    assert_eq!(
        write.field_rules.get("mobilePhone"),
        Some(&(v1::FieldRule::Never as i32))
    );
    let schedule = spec.schedule.as_ref().unwrap();
    assert_eq!(
        schedule.kind,
        Some(v1::schedule::Kind::Cron("0 6 * * *".to_owned()))
    );
    assert_eq!(schedule.time_zone, "Europe/Berlin");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_create_reads_a_toml_file_and_flags_override_it() {
    let server = FakeServer::start().await;
    let file = server.dir.path().join("profile.toml");
    std::fs::write(
        &file,
        format!(
            "name = \"From file\"\ntenant_id = \"{TENANT}\"\n[targets]\nall_mailboxes = true\n[schedule]\ninterval = \"1h\"\n"
        ),
    )
    .unwrap();
    let file_arg = file.display().to_string();
    let outcome = server
        .galsync(&[
            "--output",
            "json",
            "profile",
            "create",
            "--file",
            &file_arg,
            "--name",
            "Overridden",
        ])
        .await;
    assert_eq!(outcome.code, Some(0), "{outcome:?}");
    let shown = outcome.json();
    assert_eq!(shown["profile_id"], "prof-1");
    assert_eq!(shown["spec"]["name"], "Overridden");
    assert_eq!(shown["spec"]["schedule"]["interval"], "1h");
    let recorded = server.recorded.lock().unwrap();
    let spec = &recorded.created[0];
    assert!(spec.targets.as_ref().unwrap().all_mailboxes);
    assert_eq!(
        spec.schedule.as_ref().unwrap().kind,
        Some(v1::schedule::Kind::IntervalSeconds(3600))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_create_without_targets_is_a_usage_error_and_sends_nothing() {
    let server = FakeServer::start().await;
    let outcome = server
        .galsync(&[
            "profile",
            "create",
            "--name",
            "Phones",
            "--tenant-id",
            TENANT,
            "--interval",
            "1h",
        ])
        .await;
    assert_eq!(outcome.code, Some(2), "{outcome:?}");
    assert!(
        outcome
            .stderr
            .contains("--targets-all, --target-group GROUP_ID or --target-user UPN"),
        "{}",
        outcome.stderr
    );
    let bad_interval = server
        .galsync(&[
            "profile",
            "create",
            "--name",
            "P",
            "--tenant-id",
            TENANT,
            "--targets-all",
            "--interval",
            "hourly",
        ])
        .await;
    assert_eq!(bad_interval.code, Some(2), "{bad_interval:?}");
    assert!(
        bad_interval.stderr.contains("invalid --interval `hourly`"),
        "{}",
        bad_interval.stderr
    );
    assert!(server.recorded.lock().unwrap().created.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn runs_list_renders_a_table_and_json() {
    let server = FakeServer::start().await;
    let table = server.galsync(&["runs", "list"]).await;
    assert_eq!(table.code, Some(0), "{table:?}");
    let header = table.stdout.lines().next().unwrap_or_default();
    assert!(
        header.starts_with("RUN ID") && header.contains("MAILBOXES"),
        "{header}"
    );
    let partial = table
        .stdout
        .lines()
        .find(|line| line.starts_with("run-6"))
        .unwrap_or_default();
    assert!(
        partial.contains("partially-failed") && partial.contains("12/12"),
        "{}",
        table.stdout
    );
    assert!(partial.contains("1m 5s"), "{partial}");

    let json = server
        .galsync(&["--output", "json", "runs", "list"])
        .await
        .json();
    assert_eq!(json["runs"][0]["run_id"], "run-7");
    assert_eq!(json["runs"][0]["state"], "succeeded");
    assert_eq!(json["runs"][0]["counts"]["created"], 150);
    assert_eq!(json["runs"][1]["state"], "partially-failed");
    assert_eq!(json["runs"][0]["started_at"], "2023-11-14T22:13:20Z");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_start_follow_streams_progress_and_ends_with_a_summary() {
    let server = FakeServer::start().await;
    let outcome = server
        .galsync(&["run", "start", "prof-1", "--follow"])
        .await;
    assert_eq!(outcome.code, Some(0), "{outcome:?}");
    let stdout = &outcome.stdout;
    assert!(
        stdout.contains("started run run-7 of profile prof-1"),
        "{stdout}"
    );
    assert!(stdout.contains("state: writing"), "{stdout}");
    assert!(
        stdout.contains("mailbox alice@contoso.example: succeeded (created 75"),
        "{stdout}"
    );
    assert!(
        stdout.contains("2/2 mailboxes · 150 contacts written"),
        "{stdout}"
    );
    assert!(stdout.contains("run run-7 succeeded in 1m 5s"), "{stdout}");
    assert!(
        stdout.contains("created 150, updated 3, deleted 1"),
        "{stdout}"
    );

    let missing = server.galsync(&["run", "start", "missing"]).await;
    assert_eq!(missing.code, Some(5), "{missing:?}");
    let unknown_run = server.galsync(&["runs", "show", "run-404"]).await;
    assert_eq!(unknown_run.code, Some(5), "{unknown_run:?}");
    assert!(
        unknown_run.stderr.contains("run run-404 does not exist"),
        "{}",
        unknown_run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_the_fake_does_not_offer_exit_1_and_say_so() {
    let server = FakeServer::start().await;
    let outcome = server.galsync(&["profile", "list"]).await;
    assert_eq!(outcome.code, Some(1), "{outcome:?}");
    assert!(
        outcome.stderr.contains("does not offer this call yet"),
        "{}",
        outcome.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_edit_changes_only_the_flags_given_at_the_version_read() {
    let server = FakeServer::start().await;
    let outcome = server
        .galsync(&[
            "profile",
            "edit",
            "prof-1",
            "--interval",
            "2h",
            "--disable",
            "--hide-field",
            "mobilePhone",
        ])
        .await;
    assert_eq!(outcome.code, Some(0), "{outcome:?}");
    assert!(
        outcome
            .stdout
            .contains("updated profile prof-1 (version 5)"),
        "{}",
        outcome.stdout
    );
    let recorded = server.recorded.lock().unwrap();
    let update = &recorded.updated[0];
    assert_eq!(update.expected_version, 4);
    let spec = update.spec.as_ref().unwrap();
    assert_eq!(spec.name, "Phones");
    assert!(!spec.enabled);
    assert_eq!(
        spec.targets.as_ref().unwrap().users,
        ["adele@contoso.example"]
    );
    assert_eq!(
        spec.schedule.as_ref().unwrap().kind,
        Some(v1::schedule::Kind::IntervalSeconds(7200))
    );
    assert_eq!(
        spec.write.as_ref().unwrap().field_rules.get("mobilePhone"),
        Some(&(v1::FieldRule::Never as i32))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_run_exits_1_with_the_reason_and_json_has_the_state() {
    let server = FakeServer::start().await;
    let outcome = server
        .galsync(&["run", "start", "prof-fails", "--follow"])
        .await;
    assert_eq!(outcome.code, Some(1), "{outcome:?}");
    assert!(
        outcome.stdout.contains("run run-8 failed in 1m 5s"),
        "{}",
        outcome.stdout
    );
    assert!(
        outcome
            .stderr
            .contains("run run-8 failed: the directory-reader could not get a token"),
        "{}",
        outcome.stderr
    );
    let json = server
        .galsync(&["--output", "json", "run", "start", "prof-fails", "--follow"])
        .await;
    assert_eq!(json.code, Some(1), "{json:?}");
    let document = json.json();
    assert_eq!(document["state"], "failed");
    assert_eq!(
        document["error"],
        "the directory-reader could not get a token"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profile_create_for_a_tenant_the_broker_does_not_know_exits_5() {
    let broker = TestBroker::start().await;
    let server = FakeServer::start_beside(&broker).await;
    let create = [
        "profile",
        "create",
        "--name",
        "Phones",
        "--tenant-id",
        TENANT,
        "--targets-all",
    ];
    let unknown = server.galsync(&create).await;
    assert_eq!(unknown.code, Some(5), "{unknown:?}");
    assert!(
        unknown.stderr.contains(&format!(
            "tenant {TENANT} is not registered with the auth-broker: run `galsync tenant add --tenant-id {TENANT}"
        )),
        "{}",
        unknown.stderr
    );
    assert!(server.recorded.lock().unwrap().created.is_empty());

    let added = server
        .galsync(&[
            "tenant",
            "add",
            "--tenant-id",
            TENANT,
            "--name",
            "Contoso",
            "--client-id",
            "aaaaaaaa-0000-0000-0000-000000000001",
        ])
        .await;
    assert_eq!(added.code, Some(0), "{added:?}");
    let created = server.galsync(&create).await;
    assert_eq!(created.code, Some(0), "{created:?}");
    assert_eq!(server.recorded.lock().unwrap().created.len(), 1);
}

/// Every profile option has a flag, and `profile create` shows it back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_profile_option_is_settable_by_flag_and_shown() {
    let server = FakeServer::start().await;
    let outcome = server
        .galsync(&[
            "profile",
            "create",
            "--name",
            "Phones",
            "--tenant-id",
            TENANT,
            "--targets-all",
            "--include-where",
            "department=Sales,Support",
            "--exclude-where",
            "officeLocation^=Remote",
            "--field-rule",
            "jobTitle=only-if-empty",
            "--field-rule",
            "mobilePhone=never",
            "--deletion-guard-percent",
            "25",
            "--deletion-guard-minimum",
            "5",
            "--adopt-existing",
            "--repair",
            "--include-disabled",
            "--include-guests",
            "--odata-prefilter",
            "companyName eq 'Contoso'",
            "--photos",
        ])
        .await;
    assert_eq!(outcome.code, Some(0), "{outcome:?}");
    for shown in [
        "keep department in Sales|Support",
        "drop officeLocation starts-with Remote",
        "with disabled accounts",
        "with guests",
        "graph filter companyName eq 'Contoso'",
        "jobTitle only-if-empty, mobilePhone never",
        "above 25% of a mailbox's contacts and at least 5",
        "adopt existing",
        "every run",
    ] {
        assert!(
            outcome.stdout.contains(shown),
            "{shown}: {}",
            outcome.stdout
        );
    }
    let spec = server.recorded.lock().unwrap().created[0].clone();
    let source = spec.source.as_ref().unwrap();
    assert_eq!(source.rules.len(), 2);
    assert_eq!(source.rules[0].attribute, "department");
    assert_eq!(source.rules[0].values, ["Sales", "Support"]);
    assert!(!source.rules[0].exclude);
    assert_eq!(
        source.rules[1].operator,
        v1::attribute_rule::Operator::StartsWith as i32
    );
    assert!(source.rules[1].exclude);
    assert!(source.include_disabled && source.include_guests);
    assert!(!source.include_without_mail);
    assert_eq!(source.odata_prefilter, "companyName eq 'Contoso'");
    let write = spec.write.as_ref().unwrap();
    assert_eq!(
        write.field_rules.get("jobTitle"),
        Some(&(v1::FieldRule::OnlyIfEmpty as i32))
    );
    assert_eq!(write.deletion_guard_percent, 25.0);
    assert_eq!(write.deletion_guard_minimum, 5);
    assert!(write.adopt_existing && write.repair && write.write_photos);

    // A bad value names its flag and sends nothing.
    let bad = server
        .galsync(&[
            "profile",
            "create",
            "--name",
            "Bad",
            "--tenant-id",
            TENANT,
            "--targets-all",
            "--field-rule",
            "jobTitle=sometimes",
        ])
        .await;
    assert_eq!(bad.code, Some(2), "{bad:?}");
    assert!(bad.stderr.contains("--field-rule"), "{}", bad.stderr);
    assert_eq!(server.recorded.lock().unwrap().created.len(), 1);
}
