//! Every id and name field of every public Scheduler RPC, given a bad value
//! (empty, a 1 MB string, control characters, an id that does not exist),
//! gets an answer a client can act on: the right status, a message naming
//! the field or the missing thing, cut short, with no control character —
//! never an internal error, never RESOURCE_EXHAUSTED from an echoed value.

mod common;

use common::*;
use galsync_proto::v1;
use galsync_proto::v1::scheduler_client::SchedulerClient;
use tonic::transport::Channel;
use tonic::Code;

type Call = for<'a> fn(
    &'a mut SchedulerClient<Channel>,
    String,
) -> std::pin::Pin<
    Box<dyn std::future::Future<Output = Result<(), tonic::Status>> + Send + 'a>,
>;

fn calls() -> Vec<(&'static str, Call)> {
    vec![
        ("GetProfile.profile_id", |api, id| {
            Box::pin(async move {
                api.get_profile(v1::GetProfileRequest { profile_id: id })
                    .await
                    .map(drop)
            })
        }),
        ("UpdateProfile.profile_id", |api, id| {
            Box::pin(async move {
                api.update_profile(v1::UpdateProfileRequest {
                    profile_id: id,
                    spec: Some(profile_spec("Updated")),
                    expected_version: 0,
                })
                .await
                .map(drop)
            })
        }),
        ("DeleteProfile.profile_id", |api, id| {
            Box::pin(async move {
                api.delete_profile(v1::DeleteProfileRequest { profile_id: id })
                    .await
                    .map(drop)
            })
        }),
        ("ExplainProfile.profile_id", |api, id| {
            Box::pin(async move {
                api.explain_profile(v1::ExplainProfileRequest { profile_id: id })
                    .await
                    .map(drop)
            })
        }),
        ("RunProfile.profile_id", |api, id| {
            Box::pin(async move {
                api.run_profile(v1::RunProfileRequest {
                    profile_id: id,
                    ..Default::default()
                })
                .await
                .map(drop)
            })
        }),
        ("GetRun.run_id", |api, id| {
            Box::pin(async move {
                api.get_run(v1::GetRunRequest { run_id: id })
                    .await
                    .map(drop)
            })
        }),
        ("WatchRun.run_id", |api, id| {
            Box::pin(async move {
                let mut stream = api
                    .watch_run(v1::WatchRunRequest { run_id: id })
                    .await?
                    .into_inner();
                stream.message().await.map(drop)
            })
        }),
        ("CancelRun.run_id", |api, id| {
            Box::pin(async move {
                api.cancel_run(v1::CancelRunRequest { run_id: id })
                    .await
                    .map(drop)
            })
        }),
        ("ApproveDeletions.run_id", |api, id| {
            Box::pin(async move {
                api.approve_deletions(v1::ApproveDeletionsRequest { run_id: id })
                    .await
                    .map(drop)
            })
        }),
        ("CreateApiKey.name", |api, name| {
            Box::pin(async move {
                api.create_api_key(v1::CreateApiKeyRequest {
                    name,
                    role: v1::ApiRole::Viewer as i32,
                    ..Default::default()
                })
                .await
                .map(drop)
            })
        }),
        ("CreateApiKey.tenant_id", |api, tenant_id| {
            Box::pin(async move {
                api.create_api_key(v1::CreateApiKeyRequest {
                    name: "hr-onboarding".to_owned(),
                    role: v1::ApiRole::Viewer as i32,
                    tenant_id,
                })
                .await
                .map(drop)
            })
        }),
        ("RevokeApiKey.key_id", |api, key_id| {
            Box::pin(async move {
                api.revoke_api_key(v1::RevokeApiKeyRequest { key_id })
                    .await
                    .map(drop)
            })
        }),
    ]
}

#[tokio::test]
async fn every_id_field_of_every_rpc_answers_bad_values_plainly() {
    let (_dir, scheduler) = TestScheduler::start_on_fresh_store(1).await;
    let mut api = scheduler.api().await;
    let bad_values: [(&str, String); 4] = [
        ("empty", String::new()),
        ("1 MB", "x".repeat(1_000_000)),
        ("control characters", "\u{1b}[31mred\u{0}".to_owned()),
        ("unknown", "3f2c1a9e-0000-4000-8000-000000000000".to_owned()),
    ];
    let mut wrong = Vec::new();
    for (field, call) in calls() {
        for (what, value) in &bad_values {
            let answer = call(&mut api, value.clone()).await;
            let acceptable = match &answer {
                // A key's name is free text: only empty, huge or control
                // characters are refused; a plain unknown name is a new key.
                // An empty tenant scope is every tenant; this scheduler has
                // no broker to ask whether a well-formed one is registered.
                Ok(()) => {
                    (field == "CreateApiKey.name" && *what == "unknown")
                        || (field == "CreateApiKey.tenant_id"
                            && matches!(*what, "empty" | "unknown"))
                }
                Err(status) => {
                    matches!(
                        status.code(),
                        Code::InvalidArgument | Code::NotFound | Code::FailedPrecondition
                    ) && status.message().len() <= 1_000
                        && !status.message().chars().any(char::is_control)
                        && !status.message().is_empty()
                }
            };
            if !acceptable {
                let shown = match &answer {
                    Ok(()) => "OK".to_owned(),
                    Err(status) => format!(
                        "{:?} with {} bytes: {}",
                        status.code(),
                        status.message().len(),
                        status.message().chars().take(120).collect::<String>()
                    ),
                };
                wrong.push(format!("{field} {what}: {shown}"));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
