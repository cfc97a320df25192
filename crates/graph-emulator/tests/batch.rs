//! `$batch` over real HTTP: limits, ordering, dependsOn, and per-sub-request
//! permissions and accounting.

mod support;

use galsync_graph_emulator::EmulatorConfig;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use support::mailbox::{create_step, start, Fixture};

fn unlimited() -> EmulatorConfig {
    EmulatorConfig {
        limits_enabled: false,
        ..EmulatorConfig::default()
    }
}

async fn batch(fixture: &Fixture, requests: Vec<Value>) -> (StatusCode, Value) {
    let reply = fixture
        .post("/v1.0/$batch", json!({"requests": requests}))
        .await;
    (reply.status, reply.body)
}

fn answered_ids(body: &Value) -> Vec<String> {
    body["responses"]
        .as_array()
        .expect("responses")
        .iter()
        .map(|response| response["id"].as_str().expect("id").to_owned())
        .collect()
}

#[tokio::test]
async fn every_request_is_answered_once_in_no_fixed_order() {
    let fixture = start(unlimited()).await;
    let user = fixture.alice_id.clone();
    let folder_id = fixture.create_folder(&user, "Company Directory").await;
    let mut saw_reordering = false;
    for round in 0..5 {
        let requests: Vec<Value> = (0..20)
            .map(|index| create_step(&format!("{}", round * 20 + index), &user, &folder_id))
            .collect();
        let expected: Vec<String> = requests
            .iter()
            .map(|request| request["id"].as_str().expect("id").to_owned())
            .collect();
        let (status, body) = batch(&fixture, requests).await;
        assert_eq!(status, StatusCode::OK);
        let answered = answered_ids(&body);
        if answered != expected {
            saw_reordering = true;
        }
        let mut sorted = answered.clone();
        sorted.sort();
        let mut expected_sorted = expected.clone();
        expected_sorted.sort();
        assert_eq!(sorted, expected_sorted, "every id answered exactly once");
        for response in body["responses"].as_array().expect("responses") {
            assert_eq!(response["status"], json!(201), "{response}");
            assert_eq!(response["body"]["parentFolderId"], json!(folder_id));
        }
    }
    assert!(saw_reordering, "responses always came in request order");
    let stored =
        fixture
            .emulator
            .state
            .mailboxes
            .contact_count(fixture.tenant_id, &user, &folder_id);
    assert_eq!(stored, 100);
    let counters = fixture.request_counters().await;
    let batched_creates: u64 = counters["counters"]
        .as_array()
        .expect("counters")
        .iter()
        .filter(|counter| {
            counter["batched"] == json!(true)
                && counter["method"] == json!("POST")
                && counter["status"] == json!(201)
        })
        .filter_map(|counter| counter["count"].as_u64())
        .sum();
    assert_eq!(batched_creates, 100);
}

/// json-batching: "Responses to the batched requests might appear in a
/// different order." The emulator takes the strictest reading: a batch of
/// two or more steps is never answered in request order.
#[tokio::test]
async fn no_batch_of_two_or_more_is_answered_in_request_order() {
    let fixture = start(unlimited()).await;
    let user = fixture.alice_id.clone();
    let folder_id = fixture.create_folder(&user, "Company Directory").await;
    for size in 2..=20usize {
        for attempt in 0..3 {
            let requests: Vec<Value> = (0..size)
                .map(|index| {
                    json!({"id": format!("{size}-{attempt}-{index}"), "method": "GET", "url": format!("/users/{user}/contactFolders/{folder_id}")})
                })
                .collect();
            let expected: Vec<String> = requests
                .iter()
                .map(|request| request["id"].as_str().expect("id").to_owned())
                .collect();
            let (status, body) = batch(&fixture, requests).await;
            assert_eq!(status, StatusCode::OK);
            let answered = answered_ids(&body);
            assert_ne!(
                answered, expected,
                "a batch of {size} came back in request order"
            );
            let mut sorted = answered.clone();
            sorted.sort();
            let mut expected_sorted = expected.clone();
            expected_sorted.sort();
            assert_eq!(sorted, expected_sorted, "every id answered exactly once");
        }
    }
}

#[tokio::test]
async fn oversized_and_duplicate_batches_are_refused() {
    let fixture = start(unlimited()).await;
    let user = fixture.alice_id.clone();
    let folder_id = fixture.create_folder(&user, "Company Directory").await;
    let too_many: Vec<Value> = (0..21)
        .map(|index| create_step(&index.to_string(), &user, &folder_id))
        .collect();
    let (status, body) = batch(&fixture, too_many).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"]["code"], json!("BadRequest"));

    let duplicates = vec![
        create_step("a", &user, &folder_id),
        create_step("A", &user, &folder_id),
    ];
    let (status, _) = batch(&fixture, duplicates).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    let mut without_content_type = create_step("1", &user, &folder_id);
    without_content_type["headers"] = json!({});
    let (status, _) = batch(&fixture, vec![without_content_type]).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(
        fixture
            .emulator
            .state
            .mailboxes
            .contact_count(fixture.tenant_id, &user, &folder_id),
        0
    );
}

#[tokio::test]
async fn a_failed_dependency_fails_its_dependents_with_424() {
    let fixture = start(unlimited()).await;
    let user = fixture.alice_id.clone();
    let folder_id = fixture.create_folder(&user, "Company Directory").await;
    let missing_contact = fixture.create_contact(&user, &folder_id, "Gone").await;
    fixture
        .send(
            Method::DELETE,
            &format!("/v1.0/users/{user}/contacts/{missing_contact}"),
            None,
        )
        .await;
    let status_in = |body: &Value, id: &str| {
        body["responses"]
            .as_array()
            .expect("responses")
            .iter()
            .find(|response| response["id"] == json!(id))
            .map(|response| response["status"].clone())
            .expect("answered")
    };
    // A chain whose first request fails: the rest never run.
    let mut after_failure = create_step("2", &user, &folder_id);
    after_failure["dependsOn"] = json!(["1"]);
    let mut after_that = create_step("3", &user, &folder_id);
    after_that["dependsOn"] = json!(["2"]);
    let (status, failed) = batch(
        &fixture,
        vec![
            json!({"id": "1", "method": "GET", "url": format!("/users/{user}/contacts/{missing_contact}")}),
            after_failure,
            after_that,
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(status_in(&failed, "1"), json!(404));
    assert_eq!(status_in(&failed, "2"), json!(424));
    assert_eq!(status_in(&failed, "3"), json!(424));
    // A chain whose requests succeed runs to its end.
    let mut after_success = create_step("5", &user, &folder_id);
    after_success["dependsOn"] = json!(["4"]);
    let (status, succeeded) = batch(
        &fixture,
        vec![create_step("4", &user, &folder_id), after_success],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(status_in(&succeeded, "4"), json!(201));
    assert_eq!(status_in(&succeeded, "5"), json!(201));
    assert_eq!(
        fixture
            .emulator
            .state
            .mailboxes
            .contact_count(fixture.tenant_id, &user, &folder_id),
        2
    );
}

#[tokio::test]
async fn a_batch_is_fully_parallel_fully_sequential_or_all_on_one_request() {
    let fixture = start(unlimited()).await;
    let user = fixture.alice_id.clone();
    let folder_id = fixture.create_folder(&user, "Company Directory").await;
    let step = |id: &str, depends_on: &[&str]| {
        let mut step = create_step(id, &user, &folder_id);
        if !depends_on.is_empty() {
            step["dependsOn"] = json!(depends_on);
        }
        step
    };
    // Two chains side by side, and a request depending on two: refused
    // before anything runs.
    for mixed in [
        vec![
            step("1", &[]),
            step("2", &["1"]),
            step("3", &[]),
            step("4", &["3"]),
        ],
        vec![step("1", &[]), step("2", &[]), step("3", &["1", "2"])],
        vec![
            step("1", &[]),
            step("2", &["1"]),
            step("3", &["1"]),
            step("4", &["3"]),
        ],
    ] {
        let (status, body) = batch(&fixture, mixed).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|message| message.contains("fully sequential or fully parallel")),
            "{body}"
        );
    }
    assert_eq!(
        fixture
            .emulator
            .state
            .mailboxes
            .contact_count(fixture.tenant_id, &user, &folder_id),
        0
    );
    // Serial, parallel, and every dependent on the same request: accepted.
    for runnable in [
        vec![step("1", &[]), step("2", &["1"]), step("3", &["2"])],
        vec![step("1", &[]), step("2", &[]), step("3", &[])],
        vec![step("1", &[]), step("2", &["1"]), step("3", &["1"])],
    ] {
        let (status, body) = batch(&fixture, runnable).await;
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    assert_eq!(
        fixture
            .emulator
            .state
            .mailboxes
            .contact_count(fixture.tenant_id, &user, &folder_id),
        9
    );
}

#[tokio::test]
async fn each_sub_request_is_permission_checked_on_its_own() {
    let fixture = start(unlimited()).await;
    let user = fixture.alice_id.clone();
    let folder_id = fixture.create_folder(&user, "Company Directory").await;
    let read_only = fixture.token_with(&["Contacts.Read"]);
    let reply = fixture
        .send_as(
            &read_only,
            Method::POST,
            "/v1.0/$batch",
            Some(json!({"requests": [
                create_step("write", &user, &folder_id),
                {"id": "read", "method": "GET", "url": format!("/users/{user}/contactFolders?$filter=displayName eq 'Company Directory'")},
            ]})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    for response in reply.body["responses"].as_array().expect("responses") {
        match response["id"].as_str() {
            Some("write") => {
                assert_eq!(response["status"], json!(403));
                assert_eq!(
                    response["body"]["error"]["code"],
                    json!("ErrorAccessDenied")
                );
            }
            Some("read") => {
                assert_eq!(response["status"], json!(200), "{response}");
                assert_eq!(response["body"]["value"][0]["id"], json!(folder_id));
            }
            other => panic!("unexpected id {other:?}"),
        }
    }
}

#[tokio::test]
async fn photos_travel_base64_encoded_in_a_batch() {
    let fixture = start(unlimited()).await;
    let user = fixture.alice_id.clone();
    let folder_id = fixture.create_folder(&user, "Company Directory").await;
    let contact_id = fixture.create_contact(&user, &folder_id, "Ann").await;
    let photo_url = format!("/users/{user}/contacts/{contact_id}/photo/$value");
    let (status, body) = batch(
        &fixture,
        vec![
            json!({"id": "put", "method": "PUT", "url": photo_url, "headers": {"Content-Type": "image/jpeg"}, "body": "/9j/AAAA"}),
            json!({"id": "get", "method": "GET", "url": photo_url, "dependsOn": ["put"]}),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let get = body["responses"]
        .as_array()
        .expect("responses")
        .iter()
        .find(|response| response["id"] == json!("get"))
        .cloned()
        .expect("get answered");
    assert_eq!(get["status"], json!(200));
    assert_eq!(get["body"], json!("/9j/AAAA"));
    assert_eq!(get["headers"]["Content-Type"], json!("image/jpeg"));
}

/// A gateway timing out after the backend applied the write: the step is
/// answered 504 with an HTML page (base64 in the batch, as any non-JSON
/// body), and the contact exists all the same.
#[tokio::test]
async fn a_gateway_timeout_after_the_write_was_applied_answers_504_with_html() {
    let fixture = start(unlimited()).await;
    let user = fixture.alice_id.clone();
    let folder_id = fixture.create_folder(&user, "Company Directory").await;
    fixture
        .emulator
        .state
        .faults
        .add(galsync_graph_emulator::FaultRule {
            path_contains: Some("/contacts".to_owned()),
            method: Some("POST".to_owned()),
            status: Some(504),
            status_after_apply: true,
            html_body: true,
            times: Some(1),
            ..Default::default()
        });
    let (status, body) = batch(&fixture, vec![create_step("1", &user, &folder_id)]).await;
    assert_eq!(status, StatusCode::OK);
    let answer = &body["responses"][0];
    assert_eq!(answer["status"], json!(504), "{answer}");
    assert!(
        answer["headers"]["Content-Type"]
            .as_str()
            .is_some_and(|value| value.starts_with("text/html")),
        "{answer}"
    );
    let page = base64::Engine::decode(
        &base64::engine::general_purpose::STANDARD,
        answer["body"].as_str().expect("a base64 body"),
    )
    .expect("base64");
    assert!(String::from_utf8_lossy(&page).contains("504 Gateway Timeout"));
    let stored =
        fixture
            .emulator
            .state
            .mailboxes
            .contact_count(fixture.tenant_id, &user, &folder_id);
    assert_eq!(stored, 1, "the write was applied before the 504");
}
