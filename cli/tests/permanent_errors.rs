//! A mailbox Graph refuses for good (outside the app's Exchange scope, or a
//! request Graph answers 400) fails on its first attempt in the run's report,
//! with the reason and its fix, while the other mailboxes sync.

mod common;

use galsync_graph_emulator::FaultRule;
use galsync_graph_emulator::{Emulator, EmulatorConfig};
use galsync_proto::v1;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mailbox_graph_refuses_for_good_fails_once_with_its_fix() {
    let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let common::OnboardedCluster {
        cluster,
        tenant,
        mut scheduler,
        profile_id,
        data_dir: _data_dir,
    } = common::onboarded_cluster(&emulator, 100, 3, 5, true).await;

    let outside_scope = tenant.targets[0].to_string();
    let refused = tenant.targets[1].to_string();
    let healthy = tenant.targets[2].to_string();
    emulator
        .state
        .identity
        .set_exchange_scope(
            tenant.tenant_id,
            &tenant.client_id,
            Some(vec![refused.clone(), healthy.clone()]),
        )
        .unwrap();
    emulator.state.faults.add(FaultRule {
        path_contains: Some(format!("/users/{refused}/contactFolders")),
        status: Some(400),
        ..FaultRule::default()
    });
    emulator.state.accounting.reset();

    let run = common::run_to_end(&mut scheduler, &profile_id).await;

    assert_eq!(run.state, v1::RunState::PartiallyFailed as i32, "{run:?}");
    let result = |mailbox: &str| {
        run.mailboxes
            .iter()
            .find(|result| result.mailbox_id == mailbox)
            .unwrap_or_else(|| panic!("no result for {mailbox}: {run:?}"))
    };
    let blocked = result(&outside_scope);
    assert_eq!(blocked.outcome, v1::MailboxOutcome::Failed as i32);
    assert_eq!(blocked.attempts, 1, "never offered again: {blocked:?}");
    assert!(
        blocked
            .errors
            .iter()
            .any(|error| error.contains("add the mailbox to the app's scope")),
        "{blocked:?}"
    );
    let malformed = result(&refused);
    assert_eq!(malformed.outcome, v1::MailboxOutcome::Failed as i32);
    assert_eq!(malformed.attempts, 1, "never offered again: {malformed:?}");
    assert!(
        malformed
            .errors
            .iter()
            .any(|error| error.contains("400 invalidRequest")
                && error.contains("retrying cannot fix this")),
        "{malformed:?}"
    );
    for mailbox in [&outside_scope, &refused] {
        let requests = emulator
            .state
            .accounting
            .total(|key| key.mailbox == *mailbox);
        assert_eq!(requests, 1, "one Graph request to {mailbox}");
    }
    assert_eq!(
        result(&healthy).outcome,
        v1::MailboxOutcome::Succeeded as i32
    );
    cluster.stop().await.unwrap();
}
