//! The demo's sync profile: the whole directory into every target mailbox,
//! with the scheduler's explanation of what it selects.

use anyhow::Context;
use galsync_proto::v1;
use galsync_proto::v1::scheduler_client::SchedulerClient;
use tonic::transport::Channel;

use super::{detail, tenant, verify, Step};

pub async fn create_profile(
    scheduler: &mut SchedulerClient<Channel>,
    tenant: &tenant::DemoTenant,
    step: &mut Step,
) -> anyhow::Result<String> {
    let profile = scheduler
        .create_profile(v1::CreateProfileRequest {
            spec: Some(v1::ProfileSpec {
                name: "Company directory".to_owned(),
                tenant_id: tenant.tenant_id.to_string(),
                source: Some(v1::SourceFilter::default()),
                targets: Some(v1::TargetSelector {
                    group_ids: vec![tenant.target_group_id.to_string()],
                    ..Default::default()
                }),
                write: Some(v1::WritePolicy {
                    folder_name: verify::FOLDER_NAME.to_owned(),
                    ..Default::default()
                }),
                schedule: Some(v1::Schedule {
                    kind: Some(v1::schedule::Kind::IntervalSeconds(3600)),
                    time_zone: String::new(),
                }),
                repair_interval_seconds: 0,
                enabled: true,
            }),
        })
        .await
        .context("creating the profile failed")?
        .into_inner();
    step.say(format!(
        "Profile \"Company directory\": all enabled staff with mail → folder \"{}\" of every member of \"{}\", hourly",
        verify::FOLDER_NAME,
        tenant::TARGET_GROUP
    ));
    match scheduler
        .explain_profile(v1::ExplainProfileRequest {
            profile_id: profile.profile_id.clone(),
        })
        .await
    {
        Ok(explanation) => {
            let explanation = explanation.into_inner();
            if let Some(filter) = explanation.filter {
                detail(format!(
                    "{} users read, {} kept",
                    filter.users_read, filter.users_kept
                ));
                for rule in filter.rules {
                    detail(format!("  {:<40} drops {}", rule.rule, rule.dropped));
                }
            }
            detail(format!(
                "{} target mailboxes resolve",
                explanation.target_mailboxes
            ));
        }
        Err(status) => detail(format!("(explain unavailable: {})", status.message())),
    }
    Ok(profile.profile_id)
}
