//! A consent callback is outside input: its `error_description` is shown by
//! `galsync consent status` with escape sequences escaped, never executed by
//! the terminal, and a refusal arriving after a grant does not undo it.

mod common;

use common::TestBroker;

const TENANT_ID: &str = "72f988bf-86f1-41af-91ab-2d7cd011db47";
const CLIENT_ID: &str = "11111111-2222-3333-4444-555555555555";

/// Makes a consent link with the CLI and returns its `state`.
async fn consent_state(broker: &TestBroker) -> String {
    let made = broker
        .galsync(&[
            "--output",
            "json",
            "consent",
            "url",
            "--tenant-id",
            TENANT_ID,
        ])
        .await;
    assert_eq!(made.code, Some(0), "{made:?}");
    let link = url::Url::parse(made.json()["url"].as_str().unwrap()).unwrap();
    let state = link.query_pairs().find(|(name, _)| name == "state");
    state
        .expect("the consent link carries a state")
        .1
        .into_owned()
}

/// What Entra's redirect would deliver to the broker's callback.
async fn callback(broker: &TestBroker, query: &[(&str, &str)]) {
    let response = reqwest::Client::new()
        .get(format!("http://{}/consent/callback", broker.consent_addr()))
        .query(query)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hostile_refusal_is_shown_escaped_and_never_undoes_a_grant() {
    let broker = TestBroker::start().await;
    let added = broker
        .galsync(&[
            "tenant",
            "add",
            "--tenant-id",
            TENANT_ID,
            "--name",
            "Contoso",
            "--client-id",
            CLIENT_ID,
        ])
        .await;
    assert_eq!(added.code, Some(0), "{added:?}");
    let hostile = "AADSTS65004: declined\u{1b}]8;;https://evil.example/\u{7}click here\u{1b}]8;;\u{7}\u{1b}[2J";

    let state = consent_state(&broker).await;
    let refused = [
        ("error", "access_denied"),
        ("error_description", hostile),
        ("state", state.as_str()),
        ("tenant", TENANT_ID),
    ];
    callback(&broker, &refused).await;
    let status = broker
        .galsync(&["consent", "status", "--tenant-id", TENANT_ID])
        .await;
    assert!(!status.stdout.contains('\u{1b}'), "{status:?}");
    assert!(!status.stdout.contains('\u{7}'), "{status:?}");
    assert!(
        status.stdout.contains(
            "refused: access_denied AADSTS65004: declined\\x1b]8;;https://evil.example/\\x07click here\\x1b]8;;\\x07\\x1b[2J"
        ),
        "{status:?}"
    );

    let state = consent_state(&broker).await;
    callback(
        &broker,
        &[
            ("admin_consent", "True"),
            ("state", state.as_str()),
            ("tenant", TENANT_ID),
        ],
    )
    .await;
    let state = consent_state(&broker).await;
    let refused_again = [
        ("error", "access_denied"),
        ("error_description", hostile),
        ("state", state.as_str()),
        ("tenant", TENANT_ID),
    ];
    callback(&broker, &refused_again).await;
    let status = broker
        .galsync(&["consent", "status", "--tenant-id", TENANT_ID])
        .await;
    assert!(status.stdout.starts_with("granted"), "{status:?}");
}
