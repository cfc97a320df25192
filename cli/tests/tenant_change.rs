//! `galsync tenant update` and the refusals of `galsync tenant remove` against
//! a real auth-broker (in-process, mTLS), as an administrator sees them. The
//! removal itself, with a real scheduler and its profiles, is a scenario of
//! the e2e suite (tests/tests/tenants.rs).

mod common;

use common::TestBroker;

const TENANT: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const READ_APP: &str = "aaaaaaaa-0000-0000-0000-000000000001";
const WRITE_APP: &str = "aaaaaaaa-0000-0000-0000-000000000002";
const NEW_WRITE_APP: &str = "bbbbbbbb-0000-0000-0000-000000000003";

async fn add_tenant(broker: &TestBroker, extra: &[&str]) {
    let mut args = vec![
        "tenant",
        "add",
        "--tenant-id",
        TENANT,
        "--name",
        "Contoso",
        "--client-id",
        READ_APP,
        "--login-url",
        "http://127.0.0.1:9/login",
        "--graph-url",
        "http://127.0.0.1:9/graph",
    ];
    args.extend(extra);
    let added = broker.galsync(&args).await;
    assert_eq!(added.code, Some(0), "{added:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_update_changes_what_tenant_show_prints_and_nothing_else() {
    let broker = TestBroker::start().await;
    add_tenant(&broker, &["--write-client-id", WRITE_APP]).await;

    let updated = broker
        .galsync(&[
            "tenant",
            "update",
            "--tenant-id",
            TENANT,
            "--name",
            "Fabrikam",
            "--write-client-id",
            NEW_WRITE_APP,
        ])
        .await;
    assert_eq!(updated.code, Some(0), "{updated:?}");
    assert!(
        updated.stdout.contains(&format!(
            "updated tenant Fabrikam ({TENANT}): display_name, apps.client_id"
        )),
        "{}",
        updated.stdout
    );
    assert!(
        updated.stdout.contains(&format!(
            "galsync cert export --tenant-id {TENANT} --client-id {NEW_WRITE_APP}"
        )),
        "the new app is named in the next steps: {}",
        updated.stdout
    );

    let shown = broker
        .galsync(&["tenant", "show", "--tenant-id", TENANT])
        .await;
    assert_eq!(shown.code, Some(0), "{shown:?}");
    for expected in [
        "Fabrikam",
        READ_APP,
        NEW_WRITE_APP,
        "graph host:  http://127.0.0.1:9/graph",
    ] {
        assert!(
            shown.stdout.contains(expected),
            "{expected}:\n{}",
            shown.stdout
        );
    }
    assert!(!shown.stdout.contains(WRITE_APP), "{}", shown.stdout);

    let public_cloud = broker
        .galsync(&[
            "--output",
            "json",
            "tenant",
            "update",
            "--tenant-id",
            TENANT,
            "--graph-url",
            "",
        ])
        .await
        .json();
    assert_eq!(
        public_cloud["changed_fields"],
        serde_json::json!(["graph_base_url"])
    );
    assert_eq!(
        public_cloud["graph_base_url"],
        "https://graph.microsoft.com"
    );
    assert_eq!(public_cloud["login_base_url"], "http://127.0.0.1:9/login");
    assert_eq!(public_cloud["display_name"], "Fabrikam");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_update_with_a_bad_value_exits_2_naming_the_flag_and_changes_nothing() {
    let broker = TestBroker::start().await;
    add_tenant(&broker, &[]).await;
    let before = broker
        .galsync(&["--output", "json", "tenant", "show", "--tenant-id", TENANT])
        .await
        .json();

    let cases: [(&[&str], &str); 5] = [
        (
            &["--client-id", "contoso.onmicrosoft.com"],
            "invalid --client-id: `contoso.onmicrosoft.com` is a domain name, not a GUID",
        ),
        (&["--write-client-id", "not-a-guid"], "invalid --write-client-id:"),
        (&["--login-url", "login.microsoftonline.us"], "invalid --login-url:"),
        (
            &["--write-client-id", NEW_WRITE_APP],
            "invalid --write-client-id: tenant 72f988bf-86f1-41af-91ab-2d7cd011db47 has one app for both purposes",
        ),
        (&[], "nothing to change: give --name, --client-id"),
    ];
    for (flags, expected) in cases {
        let mut args = vec!["tenant", "update", "--tenant-id", TENANT];
        args.extend(flags);
        let outcome = broker.galsync(&args).await;
        assert_eq!(outcome.code, Some(2), "{flags:?}: {outcome:?}");
        assert!(
            outcome.stderr.contains(expected),
            "{flags:?}: {}",
            outcome.stderr
        );
    }
    let bad_tenant = broker
        .galsync(&["tenant", "update", "--tenant-id", "contoso", "--name", "X"])
        .await;
    assert_eq!(bad_tenant.code, Some(2), "{bad_tenant:?}");
    assert!(bad_tenant.stderr.contains("invalid --tenant-id:"));

    let after = broker
        .galsync(&["--output", "json", "tenant", "show", "--tenant-id", TENANT])
        .await
        .json();
    assert_eq!(before, after);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tenant_remove_removes_nothing_while_the_scheduler_cannot_say_which_profiles_use_it() {
    let broker = TestBroker::start().await;
    add_tenant(&broker, &[]).await;
    let nobody = format!(
        "https://127.0.0.1:{}",
        galsync_testkit::harness::free_port()
    );

    let refused = broker
        .galsync(&[
            "--scheduler-url",
            &nobody,
            "tenant",
            "remove",
            "--tenant-id",
            TENANT,
        ])
        .await;
    assert_eq!(refused.code, Some(3), "{refused:?}");
    for expected in [
        "nothing was removed",
        "cannot reach the scheduler",
        &format!("run `galsync tenant remove --tenant-id {TENANT}` again"),
    ] {
        assert!(
            refused.stderr.contains(expected),
            "{expected}: {}",
            refused.stderr
        );
    }
    let shown = broker
        .galsync(&["tenant", "show", "--tenant-id", TENANT])
        .await;
    assert_eq!(shown.code, Some(0), "the tenant stays: {shown:?}");
}
