//! The admin console in front of the real services: `galsync-console` as its
//! own process beside the cluster, its pages showing what the scheduler,
//! the directory-reader and the emulated tenant say.

use std::time::{Duration, Instant};

use galsync_console::html::escape;
use galsync_e2e::{binaries, spawn_cluster, Cluster, ClusterSpec, Process};
use galsync_proto::v1;
use galsync_proto::v1::scheduler_client::SchedulerClient;
use v1::attribute_rule::Operator;

/// The console started on a free port with the cluster's PKI, and a client
/// signed in as the administrator through the link it printed.
struct SignedInConsole {
    process: Process,
    http: reqwest::Client,
    base: String,
    cookie: String,
}

impl SignedInConsole {
    async fn start(cluster: &Cluster) -> SignedInConsole {
        let pki_dir = cluster.pki_dir.display().to_string();
        let process = Process::start(
            "console",
            binaries::path("galsync-console"),
            vec![
                "--listen".to_owned(),
                "127.0.0.1:0".to_owned(),
                "--pki-dir".to_owned(),
                pki_dir,
                "--scheduler-url".to_owned(),
                cluster.scheduler.url(),
            ],
            cluster.dir(),
        );
        let marker = "one-time administrator sign-in link";
        let deadline = Instant::now() + Duration::from_secs(30);
        let link = loop {
            let line = process.log_lines_with(marker, 1);
            if let Some(link) = line.split_whitespace().last().filter(|_| !line.is_empty()) {
                break link.to_owned();
            }
            assert!(
                Instant::now() < deadline,
                "the console printed no link in 30 s:\n{}",
                process.log_tail(20)
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let base = link
            .split("/sign-in/")
            .next()
            .expect("a link under the console's URL")
            .to_owned();
        let ca = std::fs::read(cluster.pki_dir.join("ca.pem")).expect("the PKI's ca.pem");
        let http = reqwest::Client::builder()
            .tls_built_in_root_certs(false)
            .add_root_certificate(reqwest::Certificate::from_pem(&ca).expect("a PEM CA"))
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(30))
            .build()
            .expect("an HTTPS client");
        let signed_in = http.get(&link).send().await.expect("the console answers");
        assert_eq!(signed_in.status(), reqwest::StatusCode::OK);
        let cookie = signed_in.headers()["set-cookie"]
            .to_str()
            .expect("an ASCII cookie")
            .split(';')
            .next()
            .unwrap_or_default()
            .to_owned();
        SignedInConsole {
            process,
            http,
            base,
            cookie,
        }
    }

    async fn page(&self, path: &str) -> String {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", &self.cookie)
            .send()
            .await
            .expect("the console answers");
        assert_eq!(response.status(), reqwest::StatusCode::OK, "GET {path}");
        response.text().await.expect("a page")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explain_shows_the_target_mailboxes_the_readers_rules_drop_with_the_rule() {
    let cluster = spawn_cluster(ClusterSpec::default()).await;
    let tenant = cluster.onboard(30, 4, 47).await;

    // The targets' rule drops every target of the first target's department.
    let users = cluster.emulator.users(&tenant.tenant_id).await;
    let department_of = |object_id: &str| -> String {
        let user = users
            .iter()
            .find(|user| user["id"].as_str() == Some(object_id))
            .expect("the target is a directory user");
        user["department"].as_str().unwrap_or_default().to_owned()
    };
    let first_target = tenant.targets.keys().next().expect("a target");
    let department = department_of(first_target);
    assert!(
        !department.is_empty(),
        "the seed gives targets a department"
    );
    let mut dropped_upns = Vec::new();
    for (object_id, upn) in &tenant.targets {
        if department_of(object_id) == department {
            dropped_upns.push(upn.clone());
        }
    }
    let kept = tenant.targets.len() - dropped_upns.len();

    let spec = v1::ProfileSpec {
        name: "Phones but one department".to_owned(),
        tenant_id: tenant.tenant_id.clone(),
        targets: Some(v1::TargetSelector {
            users: tenant.targets.values().cloned().collect(),
            rules: vec![v1::AttributeRule {
                attribute: "department".to_owned(),
                operator: Operator::Equals as i32,
                values: vec![department.clone()],
                exclude: true,
            }],
            ..Default::default()
        }),
        enabled: true,
        ..Default::default()
    };
    let mut scheduler =
        SchedulerClient::new(cluster.channel_as(&cluster.scheduler, &cluster.pki_dir, "cli"));
    let profile = scheduler
        .create_profile(v1::CreateProfileRequest { spec: Some(spec) })
        .await
        .expect("CreateProfile")
        .into_inner();

    let console = SignedInConsole::start(&cluster).await;
    let explain = console
        .page(&format!("/profiles/{}/explain", profile.profile_id))
        .await;
    let rule = format!("exclude department eq '{department}'");
    assert!(
        explain.contains(&format!("<strong>{kept}</strong> target mailboxes resolve")),
        "{explain}"
    );
    assert!(
        explain.contains(&format!(
            "<tr><td>{}</td><td>{}</td></tr>",
            escape(&rule),
            dropped_upns.len()
        )),
        "the targets' rule with the mailboxes it dropped: {explain}"
    );
    for upn in &dropped_upns {
        let reason = format!("user {upn}: dropped by the targets' rule {rule}");
        assert!(
            explain.contains(&format!("<li>{}</li>", escape(&reason))),
            "{reason} in {explain}"
        );
    }
    drop(console.process);
}
