//! Graph's cost model over real HTTP: modelled latency holds the mailbox's
//! slot, a `$batch` runs 4 steps at a time so 20 writes to one mailbox take 5
//! latencies, the app-wide limit counts every step and envelope, latency
//! follows the time scale, and the admin API reports the floor.

mod support;

use std::time::{Duration, Instant};

use galsync_graph_emulator::cost::{LatencyModel, LogNormal, OpKind};
use galsync_graph_emulator::EmulatorConfig;
use reqwest::StatusCode;
use serde_json::{json, Value};
use support::mailbox::{create_step, start};

/// A constant latency (p99 = median) for `kind`.
fn constant(kind: OpKind, millis: u64) -> LatencyModel {
    let mut model = LatencyModel::off();
    let latency = LogNormal::new(Duration::from_millis(millis), Duration::from_millis(millis))
        .expect("valid latency");
    model.ops.insert(kind, latency);
    model
}

/// `took` lies in [low_ms, high_ms); `what` is printed with it otherwise.
fn took_between(took: Duration, low_ms: u64, high_ms: u64, what: &str) {
    assert!(
        took >= Duration::from_millis(low_ms) && took < Duration::from_millis(high_ms),
        "{what} took {took:?}"
    );
}

#[tokio::test]
async fn twenty_writes_to_one_mailbox_in_a_batch_take_five_write_latencies() {
    let fixture = start(EmulatorConfig {
        latency: constant(OpKind::ContactCreate, 200),
        ..EmulatorConfig::default()
    })
    .await;
    let alice = fixture.alice_id.clone();
    let folder = fixture.create_folder(&alice, "Company Directory").await;
    let steps: Vec<Value> = (0..20)
        .map(|index| create_step(&format!("a{index}"), &alice, &folder))
        .collect();
    let started = Instant::now();
    let reply = fixture
        .post("/v1.0/$batch", json!({"requests": steps}))
        .await;
    let took = started.elapsed();
    assert_eq!(reply.status, StatusCode::OK);
    let created = reply.body["responses"]
        .as_array()
        .expect("responses")
        .iter()
        .filter(|response| response["status"] == json!(201))
        .count();
    assert_eq!(created, 20, "{}", reply.body);
    // 4 at a time: 5 waves of 200 ms.
    took_between(took, 1000, 1500, "a batch of 20");

    // 8 writes split over two mailboxes still run 4 at a time: 2 waves.
    let bob = fixture.bob_id.clone();
    let bob_folder = fixture.create_folder(&bob, "Company Directory").await;
    let steps: Vec<Value> = (0..8)
        .map(|index| {
            if index % 2 == 0 {
                create_step(&format!("b{index}"), &alice, &folder)
            } else {
                create_step(&format!("b{index}"), &bob, &bob_folder)
            }
        })
        .collect();
    let started = Instant::now();
    let reply = fixture
        .post("/v1.0/$batch", json!({"requests": steps}))
        .await;
    let took = started.elapsed();
    assert_eq!(reply.status, StatusCode::OK);
    took_between(took, 400, 700, "a batch of 8 over two mailboxes");
}

#[tokio::test]
async fn modelled_latency_holds_the_mailbox_slot_so_a_fifth_request_is_throttled() {
    let fixture = start(EmulatorConfig {
        latency: constant(OpKind::Folder, 400),
        ..EmulatorConfig::default()
    })
    .await;
    let path = format!("/v1.0/users/{}/contactFolders", fixture.alice_id);
    let replies = futures::future::join_all((0..5).map(|_| fixture.get(&path))).await;
    let throttled: Vec<_> = replies
        .iter()
        .filter(|reply| reply.status == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert_eq!(throttled.len(), 1);
    assert!(throttled[0].body["error"]["message"]
        .as_str()
        .is_some_and(|message| message.contains("MailboxConcurrency")));
}

#[tokio::test]
async fn latency_follows_the_time_scale() {
    let fixture = start(EmulatorConfig {
        latency: constant(OpKind::Folder, 2_000),
        time_scale: 0.05,
        ..EmulatorConfig::default()
    })
    .await;
    let path = format!("/v1.0/users/{}/contactFolders", fixture.alice_id);
    let started = Instant::now();
    assert_eq!(fixture.get(&path).await.status, StatusCode::OK);
    let took = started.elapsed();
    took_between(took, 100, 600, "2 s at time scale 0.05");
}

#[tokio::test]
async fn the_app_wide_limit_counts_every_batch_step_and_envelope() {
    let fixture = start(EmulatorConfig {
        app_requests_per_window: 5,
        time_scale: 0.1,
        ..EmulatorConfig::default()
    })
    .await;
    let alice = fixture.alice_id.clone();
    let steps: Vec<Value> = (0..4)
        .map(|index| json!({"id": index.to_string(), "method": "GET", "url": format!("/users/{alice}/contactFolders")}))
        .collect();
    // The envelope and its 4 steps fill the window of 5.
    let reply = fixture
        .post("/v1.0/$batch", json!({"requests": steps}))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.body["responses"]
        .as_array()
        .expect("responses")
        .iter()
        .all(|response| response["status"] == json!(200)));
    let bob_path = format!("/v1.0/users/{}/contactFolders", fixture.bob_id);
    let refused = fixture.get(&bob_path).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(refused.error_code(), "TooManyRequests");
    assert!(refused.body["error"]["message"]
        .as_str()
        .is_some_and(|message| message.contains("global limit of 5 requests per 10 seconds")));
    let retry_after = refused.retry_after_secs();
    assert!(retry_after > 0.0 && retry_after <= 1.0, "{retry_after}");
    tokio::time::sleep(Duration::from_secs_f64(retry_after + 0.05)).await;
    assert_eq!(fixture.get(&bob_path).await.status, StatusCode::OK);
}

#[tokio::test]
async fn the_admin_api_reports_the_cost_model_and_the_floor() {
    let fixture = start(EmulatorConfig {
        latency: LatencyModel::graph(),
        time_scale: 0.01,
        ..EmulatorConfig::default()
    })
    .await;
    let model: Value = fixture
        .client
        .get(fixture.url("/_admin/cost-model"))
        .send()
        .await
        .expect("cost model")
        .json()
        .await
        .expect("json");
    assert_eq!(model["app_requests_per_window"], json!(130_000));
    assert_eq!(
        model["latency"]["contact-create"]["median_ms"],
        json!(100.0)
    );
    let floor: Value = fixture
        .client
        .post(fixture.url("/_admin/floor"))
        .json(&json!({"users": 2000, "mailboxes": 1000, "creates_per_mailbox": 2000}))
        .send()
        .await
        .expect("floor")
        .json()
        .await
        .expect("json");
    assert_eq!(floor["binding"], json!("app-wide limit"));
    let real = floor["floor_secs_real_time"].as_f64().expect("seconds");
    assert!((150.0..175.0).contains(&real), "{floor}");
    let scaled = floor["floor_secs"].as_f64().expect("seconds");
    assert!((scaled - real / 100.0).abs() < 1e-6, "{floor}");
    let refused = fixture
        .client
        .post(fixture.url("/_admin/floor"))
        .json(&json!({"users": 10, "mailbox": 3}))
        .send()
        .await
        .expect("answer");
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

/// A client that gives up on a batch of writes mid-latency does not undo
/// them: Graph carries out a request it received, and the writes land after
/// the client has gone (the strictest reading; see `run_to_completion`).
#[tokio::test]
async fn writes_a_client_gave_up_on_still_land() {
    let fixture = start(EmulatorConfig {
        latency: constant(OpKind::ContactCreate, 300),
        ..EmulatorConfig::default()
    })
    .await;
    let alice = fixture.alice_id.clone();
    let folder = fixture.create_folder(&alice, "Company Directory").await;
    let steps: Vec<Value> = (0..8)
        .map(|index| create_step(&format!("a{index}"), &alice, &folder))
        .collect();
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(100))
        .build()
        .expect("client");
    let gave_up = impatient
        .post(fixture.url("/v1.0/$batch"))
        .bearer_auth(&fixture.token)
        .json(&json!({"requests": steps}))
        .send()
        .await;
    assert!(gave_up.is_err(), "the client timed out before the answer");

    // 8 creates, 4 at a time, 300 ms each: done 600 ms in.
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let listed = fixture
        .get(&format!(
            "/v1.0/users/{alice}/contactFolders/{folder}/contacts?$top=100"
        ))
        .await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let contacts = listed.body["value"].as_array().expect("value").len();
    assert_eq!(
        contacts, 8,
        "the abandoned batch's writes are in the folder"
    );
}
