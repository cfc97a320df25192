//! Graph's per-app-per-mailbox limits over real HTTP: 4 requests in flight,
//! N requests per (time-scaled) window, Retry-After, early retries counted.

mod support;

use std::time::Duration;

use galsync_graph_emulator::EmulatorConfig;
use galsync_graph_emulator::FaultRule;
use reqwest::StatusCode;
use serde_json::json;
use support::mailbox::start;

#[tokio::test]
async fn a_fifth_concurrent_request_to_a_mailbox_is_throttled() {
    let fixture = start(EmulatorConfig::default()).await;
    let alice = fixture.alice_id.clone();
    let bob = fixture.bob_id.clone();
    fixture.emulator.state.faults.add(FaultRule {
        path_contains: Some("/contactFolders".to_owned()),
        method: Some("GET".to_owned()),
        latency_ms: Some(400),
        ..FaultRule::default()
    });
    let alice_path = format!("/v1.0/users/{alice}/contactFolders");
    let bob_path = format!("/v1.0/users/{bob}/contactFolders");
    let mut requests = Vec::new();
    for _ in 0..5 {
        requests.push(fixture.get(&alice_path));
    }
    let (alice_replies, bob_reply) =
        tokio::join!(futures::future::join_all(requests), fixture.get(&bob_path));
    let throttled: Vec<_> = alice_replies
        .iter()
        .filter(|reply| reply.status == StatusCode::TOO_MANY_REQUESTS)
        .collect();
    assert_eq!(throttled.len(), 1);
    assert_eq!(
        alice_replies
            .iter()
            .filter(|reply| reply.status == StatusCode::OK)
            .count(),
        4
    );
    let refused = throttled[0];
    assert_eq!(refused.error_code(), "ApplicationThrottled");
    assert_eq!(
        refused.body["error"]["message"],
        json!("Application is over its MailboxConcurrency limit.")
    );
    assert!(refused.headers.contains_key("retry-after"));
    // Another mailbox has its own budget.
    assert_eq!(bob_reply.status, StatusCode::OK);
}

#[tokio::test]
async fn the_window_limit_answers_429_with_retry_after_and_counts_early_retries() {
    let fixture = start(EmulatorConfig {
        mailbox_requests_per_window: 5,
        mailbox_window: Duration::from_secs(10),
        time_scale: 0.05,
        ..EmulatorConfig::default()
    })
    .await;
    let path = format!("/v1.0/users/{}/contactFolders", fixture.alice_id);
    for _ in 0..5 {
        assert_eq!(fixture.get(&path).await.status, StatusCode::OK);
    }
    let throttled = fixture.get(&path).await;
    assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(throttled.error_code(), "ApplicationThrottled");
    let retry_after = throttled.retry_after_secs();
    assert!(retry_after > 0.0 && retry_after <= 0.5, "{retry_after}");

    // Retrying at once ignores Retry-After: refused again and counted.
    let early = fixture.get(&path).await;
    assert_eq!(early.status, StatusCode::TOO_MANY_REQUESTS);
    let counters = fixture.request_counters().await;
    assert!(counters["early_retries"].as_u64() >= Some(1));
    // Sent at once after the 429: the first bucket (under 10 ms) has it.
    assert_eq!(
        counters["early_retry_delays"]["<10"], counters["early_retries"],
        "{counters:#}"
    );

    let early_retry_after = early.retry_after_secs();
    tokio::time::sleep(Duration::from_secs_f64(early_retry_after + 0.02)).await;
    let early_retries_before = fixture.request_counters().await["early_retries"].clone();
    let on_time = fixture.get(&path).await;
    assert_eq!(on_time.status, StatusCode::OK);
    assert_eq!(
        fixture.request_counters().await["early_retries"],
        early_retries_before
    );
}

#[tokio::test]
async fn batch_sub_requests_are_throttled_one_by_one() {
    let fixture = start(EmulatorConfig {
        mailbox_requests_per_window: 8,
        time_scale: 0.01,
        ..EmulatorConfig::default()
    })
    .await;
    let user = fixture.alice_id.clone();
    let requests: Vec<serde_json::Value> = (0..20)
        .map(|index| {
            json!({"id": index.to_string(), "method": "GET", "url": format!("/users/{user}/contactFolders")})
        })
        .collect();
    let reply = fixture
        .post("/v1.0/$batch", json!({"requests": requests}))
        .await;
    assert_eq!(reply.status, StatusCode::OK);
    let responses = reply.body["responses"].as_array().expect("responses");
    let ok = responses
        .iter()
        .filter(|response| response["status"] == json!(200))
        .count();
    let throttled: Vec<_> = responses
        .iter()
        .filter(|response| response["status"] == json!(429))
        .collect();
    assert_eq!(ok, 8);
    assert_eq!(throttled.len(), 12);
    for response in throttled {
        assert!(response["headers"]["Retry-After"].is_string(), "{response}");
        assert_eq!(
            response["body"]["error"]["code"],
            json!("ApplicationThrottled")
        );
    }
    // Siblings of a throttled sub-request left the client with it: not early retries.
    assert_eq!(fixture.request_counters().await["early_retries"], json!(0));
    // A new batch to the mailbox before Retry-After elapsed is one.
    let again = fixture
        .post("/v1.0/$batch", json!({"requests": requests}))
        .await;
    assert_eq!(again.status, StatusCode::OK);
    assert_eq!(fixture.request_counters().await["early_retries"], json!(1));
}

#[tokio::test]
async fn limits_off_never_throttle() {
    let fixture = start(EmulatorConfig {
        limits_enabled: false,
        mailbox_requests_per_window: 2,
        ..EmulatorConfig::default()
    })
    .await;
    fixture.emulator.state.faults.add(FaultRule {
        path_contains: Some("/contactFolders".to_owned()),
        latency_ms: Some(100),
        ..FaultRule::default()
    });
    let path = format!("/v1.0/users/{}/contactFolders", fixture.alice_id);
    let replies = futures::future::join_all((0..8).map(|_| fixture.get(&path))).await;
    assert!(replies.iter().all(|reply| reply.status == StatusCode::OK));
}

/// throttling-limits (Outlook service limits for JSON batching): "the service
/// executes up to 4 requests in parallel at any point, irrespective of the
/// target mailbox". 20 slow steps spread over 5 mailboxes (4 each, so no
/// mailbox is over its own limit) still run 4 at a time: 5 rounds.
#[tokio::test]
async fn a_batch_runs_at_most_four_steps_at_a_time_whatever_their_mailboxes() {
    const STEP_LATENCY: Duration = Duration::from_millis(200);
    let fixture = start(EmulatorConfig::default()).await;
    let mut mailboxes = vec![fixture.alice_id.clone(), fixture.bob_id.clone()];
    for index in 0..3 {
        mailboxes.push(fixture.emulator.state.directory.add_mailbox_user(
            fixture.tenant_id,
            &format!("Extra {index}"),
            &format!("extra{index}@contoso.example"),
            true,
        ));
    }
    fixture.emulator.state.faults.add(FaultRule {
        path_contains: Some("/contactFolders".to_owned()),
        latency_ms: Some(STEP_LATENCY.as_millis() as u64),
        ..FaultRule::default()
    });
    let requests: Vec<serde_json::Value> = (0..20)
        .map(|index| {
            let mailbox = &mailboxes[index % mailboxes.len()];
            json!({"id": index.to_string(), "method": "GET", "url": format!("/users/{mailbox}/contactFolders")})
        })
        .collect();
    let started = std::time::Instant::now();
    let reply = fixture
        .post("/v1.0/$batch", json!({"requests": requests}))
        .await;
    let elapsed = started.elapsed();
    assert_eq!(reply.status, StatusCode::OK);
    let responses = reply.body["responses"].as_array().expect("responses");
    assert_eq!(responses.len(), 20);
    for response in responses {
        assert_eq!(response["status"], json!(200), "{response}");
    }
    assert!(
        elapsed >= STEP_LATENCY * 5,
        "20 steps of {STEP_LATENCY:?} over 5 mailboxes took {elapsed:?}: more than 4 ran at a time"
    );
    assert!(
        elapsed < STEP_LATENCY * 12,
        "20 steps took {elapsed:?}: the batch did not run 4 at a time"
    );
}

/// A running step holds one of its mailbox's 4 concurrency slots: while a
/// batch runs 4 slow steps against Alice, a fifth request to Alice is
/// refused with MailboxConcurrency; Bob is unaffected.
#[tokio::test]
async fn a_running_batch_step_holds_its_mailbox_concurrency_slot() {
    let fixture = start(EmulatorConfig::default()).await;
    let alice = fixture.alice_id.clone();
    let bob = fixture.bob_id.clone();
    fixture.emulator.state.faults.add(FaultRule {
        path_contains: Some("/contactFolders".to_owned()),
        method: Some("GET".to_owned()),
        include_batched: Some(true),
        latency_ms: Some(600),
        ..FaultRule::default()
    });
    let requests: Vec<serde_json::Value> = (0..4)
        .map(|index| {
            json!({"id": index.to_string(), "method": "GET", "url": format!("/users/{alice}/contactFolders")})
        })
        .collect();
    let batch = fixture.post("/v1.0/$batch", json!({"requests": requests}));
    let alice_path = format!("/v1.0/users/{alice}/contacts?$top=1");
    let bob_path = format!("/v1.0/users/{bob}/contacts?$top=1");
    let fifth_and_other = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        tokio::join!(fixture.get(&alice_path), fixture.get(&bob_path))
    };
    let (batch_reply, (fifth, other_mailbox)) = tokio::join!(batch, fifth_and_other);
    for response in batch_reply.body["responses"].as_array().expect("responses") {
        assert_eq!(response["status"], json!(200), "{response}");
    }
    assert_eq!(
        fifth.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{:?}",
        fifth.body
    );
    assert_eq!(fifth.error_code(), "ApplicationThrottled");
    assert_eq!(
        fifth.body["error"]["message"],
        json!("Application is over its MailboxConcurrency limit.")
    );
    assert!(fifth.headers.contains_key("retry-after"));
    assert_eq!(
        other_mailbox.status,
        StatusCode::OK,
        "{:?}",
        other_mailbox.body
    );
}

#[tokio::test]
async fn a_batch_retry_after_counts_only_once_the_client_received_it() {
    let fixture = start(EmulatorConfig {
        time_scale: 0.05,
        ..EmulatorConfig::default()
    })
    .await;
    let user = fixture.alice_id.clone();
    let batch = |ids: &[&str]| {
        let requests: Vec<serde_json::Value> = ids
            .iter()
            .map(|id| json!({"id": id, "method": "GET", "url": format!("/users/{user}/contactFolders")}))
            .collect();
        json!({"requests": requests})
    };
    let first_throttled = || FaultRule {
        path_contains: Some("/contactFolders".to_owned()),
        status: Some(429),
        retry_after: Some(5.0),
        nth: Some(1),
        ..FaultRule::default()
    };
    // One sub-request throttled, a sibling's connection cut after it ran:
    // the client never sees the 429, so it cannot honour its Retry-After.
    fixture.emulator.state.faults.add(first_throttled());
    fixture.emulator.state.faults.add(FaultRule {
        path_contains: Some("/contactFolders".to_owned()),
        abort_after_apply: true,
        nth: Some(2),
        ..FaultRule::default()
    });
    let attempt = fixture
        .client
        .post(fixture.url("/v1.0/$batch"))
        .bearer_auth(&fixture.token)
        .json(&batch(&["a", "b"]))
        .send()
        .await;
    let dropped = match attempt {
        Err(_) => true,
        Ok(response) => response.bytes().await.is_err(),
    };
    assert!(dropped, "the batch's connection should have dropped");
    fixture.emulator.state.faults.clear();
    let next = fixture.post("/v1.0/$batch", batch(&["c"])).await;
    assert_eq!(next.status, StatusCode::OK);
    assert_eq!(fixture.request_counters().await["early_retries"], json!(0));

    // The same 429 delivered: a batch sent before its Retry-After is early.
    fixture.emulator.state.faults.add(first_throttled());
    let throttled = fixture.post("/v1.0/$batch", batch(&["d"])).await;
    assert_eq!(throttled.body["responses"][0]["status"], 429);
    fixture.post("/v1.0/$batch", batch(&["e"])).await;
    assert_eq!(fixture.request_counters().await["early_retries"], json!(1));
}
