//! Licences and mailbox kinds as Graph documents them: `assignedPlans` lists
//! each licence's service plans (Exchange Online is `service: "exchange"`), and
//! `mailboxSettings/userPurpose` (MailboxSettings.Read) tells user, shared,
//! room and equipment mailboxes apart; a user without a mailbox has none.

mod support;

use reqwest::StatusCode;
use serde_json::Value;
use support::directory::{start, unlimited, Fixture};

const SELECT: &str = "id,mail,userType,assignedLicenses,assignedPlans";

fn has_enabled_exchange_plan(user: &Value) -> bool {
    user["assignedPlans"]
        .as_array()
        .expect("assignedPlans is selected")
        .iter()
        .any(|plan| plan["service"] == "exchange" && plan["capabilityStatus"] == "Enabled")
}

fn license_count(user: &Value) -> usize {
    user["assignedLicenses"]
        .as_array()
        .expect("assignedLicenses is selected")
        .len()
}

async fn all_users(fixture: &Fixture) -> Vec<Value> {
    let mut users = Vec::new();
    for page in fixture
        .all_pages(&format!("/v1.0/users?$select={SELECT}&$top=999"), &[])
        .await
    {
        users.extend(page.values().iter().cloned());
    }
    users
}

#[tokio::test]
async fn user_purpose_counts_match_the_seed_and_power_bi_only_users_have_no_mailbox() {
    let fixture = start(1_000, unlimited()).await;
    let settings_token = fixture.token_with(&["MailboxSettings.Read"]);
    let users = all_users(&fixture).await;
    let mut resource_mailboxes = 0;
    let mut power_bi_only = 0;
    let mut licensed_shared = 0;
    for user in &users {
        if user["mail"].is_null() || user["userType"] != "Member" {
            continue;
        }
        let id = user["id"].as_str().expect("an id");
        let reply = fixture
            .get_url(
                &fixture.url(&format!("/v1.0/users/{id}/mailboxSettings/userPurpose")),
                &settings_token,
                &[],
            )
            .await;
        let purpose = reply.body["value"].as_str().unwrap_or("");
        if matches!(purpose, "shared" | "room" | "equipment") {
            resource_mailboxes += 1;
        }
        if purpose == "shared" && has_enabled_exchange_plan(user) {
            licensed_shared += 1;
        }
        if license_count(user) > 0 && !has_enabled_exchange_plan(user) {
            power_bi_only += 1;
            assert_eq!(reply.status, StatusCode::NOT_FOUND, "{}", reply.body);
            assert_eq!(reply.error_code(), "MailboxNotEnabledForRESTAPI");
        }
    }
    let summary = &fixture.summary;
    assert_eq!(
        resource_mailboxes,
        summary.shared + summary.rooms + summary.equipment
    );
    assert_eq!(power_bi_only, summary.power_bi_only);
    assert!(power_bi_only > 0, "the seed holds Power BI-only members");
    assert_eq!(
        licensed_shared, 1,
        "one shared mailbox holds Exchange Plan 2"
    );
}

#[tokio::test]
async fn user_purpose_needs_mailbox_settings_read() {
    let fixture = start(50, unlimited()).await;
    let users = all_users(&fixture).await;
    let with_mailbox = users
        .iter()
        .find(|user| has_enabled_exchange_plan(user))
        .expect("a licensed user");
    let path = format!(
        "/v1.0/users/{}/mailboxSettings/userPurpose",
        with_mailbox["id"].as_str().expect("an id")
    );
    let reader = fixture.get(&path).await;
    assert_eq!(reader.status, StatusCode::FORBIDDEN);
    assert_eq!(reader.error_code(), "ErrorAccessDenied");
    for role in ["MailboxSettings.Read", "MailboxSettings.ReadWrite"] {
        let token = fixture.token_with(&[role]);
        let reply = fixture.get_url(&fixture.url(&path), &token, &[]).await;
        assert_eq!(reply.status, StatusCode::OK, "{role}");
        assert_eq!(reply.body["value"], "user", "{role}");
    }
}
