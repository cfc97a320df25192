//! The emulated directory over real HTTP: paging, `$select`, `$filter`,
//! permissions, groups with nested members, photos, mailbox kinds, throttling.

mod support;

use std::collections::HashSet;
use std::time::Duration;

use galsync_graph_emulator::EmulatorConfig;
use reqwest::{Method, StatusCode};
use serde_json::json;
use support::directory::{start, unlimited};

const EVENTUAL: &[(&str, &str)] = &[("ConsistencyLevel", "eventual")];

#[tokio::test]
async fn ten_thousand_users_at_top_999_take_eleven_pages_with_every_user_once() {
    let fixture = start(10_000, unlimited()).await;
    let pages = fixture
        .all_pages("/v1.0/users?$select=id,displayName&$top=999", &[])
        .await;
    assert_eq!(pages.len(), 11);
    assert_eq!(fixture.requests_to("/users"), 11);
    let mut seen = HashSet::new();
    for page in &pages {
        for id in page.ids() {
            assert!(seen.insert(id), "a user came twice");
        }
    }
    assert_eq!(seen.len(), 10_000);
    assert_eq!(pages[0].values().len(), 999);
    assert_eq!(pages[10].values().len(), 10);
    let first_link = pages[0].body["@odata.nextLink"].as_str().unwrap_or("");
    assert!(first_link.starts_with(&fixture.emulator.base_url()));
    assert!(first_link.contains("$skiptoken="));
}

#[tokio::test]
async fn default_page_is_100_and_top_above_999_is_rejected() {
    let fixture = start(150, unlimited()).await;
    let first = fixture.get("/v1.0/users").await;
    assert_eq!(first.values().len(), 100);
    let too_big = fixture.get("/v1.0/users?$top=1000").await;
    assert_eq!(too_big.status, StatusCode::BAD_REQUEST);
    assert_eq!(too_big.error_code(), "Request_BadRequest");
}

#[tokio::test]
async fn tampered_or_foreign_skiptoken_is_rejected() {
    let fixture = start(150, unlimited()).await;
    let first = fixture.get("/v1.0/users?$top=10").await;
    let link = first.body["@odata.nextLink"]
        .as_str()
        .expect("a next link")
        .to_owned();
    let tampered = link.replacen("$skiptoken=", "$skiptoken=x", 1);
    let reply = fixture.get_url(&tampered, &fixture.token, &[]).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.error_code(), "Directory_ExpiredPageToken");
    // The same token replayed with a different $select is not the same query.
    let replayed = link.replacen("$top=10", "$top=10&$select=id", 1);
    let reply = fixture.get_url(&replayed, &fixture.token, &[]).await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn select_returns_exactly_the_selected_properties_and_rejects_unknown_ones() {
    let fixture = start(20, unlimited()).await;
    let reply = fixture
        .get("/v1.0/users?$select=id,displayName,businessPhones,onPremisesExtensionAttributes")
        .await;
    let first = reply.values()[0].as_object().expect("an object");
    let mut keys: Vec<&str> = first.keys().map(String::as_str).collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "businessPhones",
            "displayName",
            "id",
            "onPremisesExtensionAttributes"
        ]
    );
    assert!(first["onPremisesExtensionAttributes"]["extensionAttribute15"].is_null());
    let default = fixture.get("/v1.0/users").await;
    let default_user = default.values()[0].as_object().expect("an object");
    assert!(default_user.contains_key("userPrincipalName"));
    assert!(!default_user.contains_key("accountEnabled"));
    let unknown = fixture.get("/v1.0/users?$select=id,favouriteColour").await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(unknown.error_code(), "Request_BadRequest");
}

async fn filtered_count(
    fixture: &support::directory::Fixture,
    filter: &str,
    advanced: bool,
) -> usize {
    let mut query = format!(
        "/v1.0/users?$top=999&$select=id&$filter={}",
        urlencode(filter)
    );
    let headers: &[(&str, &str)] = if advanced {
        query.push_str("&$count=true");
        EVENTUAL
    } else {
        &[]
    };
    let pages = fixture.all_pages(&query, headers).await;
    pages.iter().map(|page| page.values().len()).sum()
}

fn urlencode(text: &str) -> String {
    url::form_urlencoded::byte_serialize(text.as_bytes()).collect()
}

#[tokio::test]
async fn filters_select_what_graph_would_and_reject_what_graph_rejects() {
    let fixture = start(2_000, unlimited()).await;
    let stored = fixture
        .emulator
        .state
        .directory
        .list_users(fixture.tenant, false);
    let enabled = stored.iter().filter(|user| user.account_enabled).count();
    assert_eq!(
        filtered_count(&fixture, "accountEnabled eq true", false).await,
        enabled
    );
    assert_eq!(
        filtered_count(&fixture, "userType eq 'Guest'", false).await,
        fixture.summary.guests
    );
    let sales_or_legal = stored
        .iter()
        .filter(|user| matches!(user.department.as_deref(), Some("Sales") | Some("Legal")))
        .count();
    assert!(sales_or_legal > 0);
    assert_eq!(
        filtered_count(&fixture, "department in ('Sales','Legal')", false).await,
        sales_or_legal
    );
    assert_eq!(
        filtered_count(
            &fixture,
            "department eq 'sales' or department eq 'LEGAL'",
            false
        )
        .await,
        sales_or_legal
    );
    let starting = stored
        .iter()
        .filter(|user| user.display_name.to_lowercase().starts_with("zoë"))
        .count();
    assert!(starting > 0, "the seed has a Zoë");
    assert_eq!(
        filtered_count(&fixture, "startswith(displayName,'ZOË')", false).await,
        starting
    );
    let one = &stored[17];
    let by_upn = format!("userPrincipalName eq '{}'", one.user_principal_name);
    assert_eq!(filtered_count(&fixture, &by_upn, false).await, 1);
    let members_enabled = stored
        .iter()
        .filter(|user| user.account_enabled && user.user_type.as_str() == "Member")
        .count();
    assert_eq!(
        filtered_count(
            &fixture,
            "accountEnabled eq true and userType eq 'Member'",
            false
        )
        .await,
        members_enabled
    );

    // `ne` and advanced-only properties need ConsistencyLevel: eventual + $count.
    let plain_ne = fixture
        .get("/v1.0/users?$filter=userType%20ne%20'Guest'")
        .await;
    assert_eq!(plain_ne.status, StatusCode::BAD_REQUEST);
    assert_eq!(plain_ne.error_code(), "Request_UnsupportedQuery");
    assert_eq!(
        filtered_count(&fixture, "userType ne 'Guest'", true).await,
        stored.len() - fixture.summary.guests
    );
    let company = fixture
        .get("/v1.0/users?$filter=companyName%20eq%20'Contoso%20Ltd'")
        .await;
    assert_eq!(company.error_code(), "Request_UnsupportedQuery");
    let contoso = stored
        .iter()
        .filter(|user| user.company_name.as_deref() == Some("Contoso Ltd"))
        .count();
    assert_eq!(
        filtered_count(&fixture, "companyName eq 'Contoso Ltd'", true).await,
        contoso
    );

    let counted = fixture
        .get_with(
            "/v1.0/users?$count=true&$top=1&$filter=accountEnabled%20eq%20true",
            EVENTUAL,
        )
        .await;
    assert_eq!(counted.body["@odata.count"], json!(enabled));
    let uncounted = fixture.get("/v1.0/users?$count=true").await;
    assert_eq!(uncounted.status, StatusCode::BAD_REQUEST);

    for (filter, code) in [
        ("contains(displayName,'a')", "Request_UnsupportedQuery"),
        ("businessPhones eq '1'", "Request_UnsupportedQuery"),
        ("accountEnabled eq", "BadRequest"),
        ("shoeSize eq '42'", "Request_BadRequest"),
    ] {
        let reply = fixture
            .get(&format!("/v1.0/users?$filter={}", urlencode(filter)))
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{filter}");
        assert_eq!(reply.error_code(), code, "{filter}");
    }
}

#[tokio::test]
async fn reads_without_the_needed_role_are_403() {
    let fixture = start(10, unlimited()).await;
    let writer = fixture.token_with(&["Contacts.ReadWrite"]);
    let users = fixture
        .get_url(&fixture.url("/v1.0/users"), &writer, &[])
        .await;
    assert_eq!(users.status, StatusCode::FORBIDDEN);
    assert_eq!(users.error_code(), "Authorization_RequestDenied");
    let user_reader = fixture.token_with(&["User.Read.All"]);
    let groups = fixture
        .get_url(&fixture.url("/v1.0/groups"), &user_reader, &[])
        .await;
    assert_eq!(groups.status, StatusCode::FORBIDDEN);
    let directory_reader = fixture.token_with(&["Directory.Read.All"]);
    let both = fixture
        .get_url(&fixture.url("/v1.0/groups"), &directory_reader, &[])
        .await;
    assert_eq!(both.status, StatusCode::OK);
}

#[tokio::test]
async fn single_user_by_id_or_upn_with_manager_and_mailbox_kind() {
    let fixture = start(300, unlimited()).await;
    let stored = fixture
        .emulator
        .state
        .directory
        .list_users(fixture.tenant, false);
    let report = stored
        .iter()
        .find(|user| user.manager_id.is_some())
        .expect("someone has a manager");
    let by_upn = fixture
        .get(&format!(
            "/v1.0/users/{}",
            urlencode(&report.user_principal_name)
        ))
        .await;
    assert_eq!(by_upn.body["id"], json!(report.id.to_string()));
    let manager = fixture
        .get(&format!("/v1.0/users/{}/manager", report.id))
        .await;
    assert_eq!(
        manager.body["id"],
        json!(report.manager_id.map(|id| id.to_string()))
    );
    assert_eq!(manager.body["@odata.type"], json!("#microsoft.graph.user"));
    let expanded = fixture
        .get(&format!(
            "/v1.0/users/{}?$expand=manager($select=id,displayName)",
            report.id
        ))
        .await;
    assert_eq!(expanded.body["manager"]["id"], manager.body["id"]);
    let chief = stored
        .iter()
        .find(|user| user.manager_id.is_none() && user.user_type.as_str() == "Member")
        .expect("a top");
    let no_manager = fixture
        .get(&format!("/v1.0/users/{}/manager", chief.id))
        .await;
    assert_eq!(no_manager.status, StatusCode::NOT_FOUND);
    let missing = fixture
        .get(&format!("/v1.0/users/{}", uuid::Uuid::new_v4()))
        .await;
    assert_eq!(missing.error_code(), "Request_ResourceNotFound");

    let room = stored
        .iter()
        .find(|user| user.mailbox.user_purpose() == Some("room"))
        .expect("a room");
    assert!(
        !room.account_enabled,
        "resource mailboxes are disabled accounts"
    );
    let settings_token = fixture.token_with(&["MailboxSettings.Read"]);
    let purpose = fixture
        .get_url(
            &fixture.url(&format!(
                "/v1.0/users/{}/mailboxSettings/userPurpose",
                room.id
            )),
            &settings_token,
            &[],
        )
        .await;
    assert_eq!(purpose.body["value"], json!("room"));
    let without_role = fixture
        .get(&format!("/v1.0/users/{}/mailboxSettings", room.id))
        .await;
    assert_eq!(without_role.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn photos_are_bytes_with_an_etag_or_404_image_not_found() {
    let fixture = start(200, unlimited()).await;
    let stored = fixture
        .emulator
        .state
        .directory
        .list_users(fixture.tenant, false);
    let with_photo = stored
        .iter()
        .find(|user| user.photo.is_some())
        .expect("a photo");
    let without_photo = stored
        .iter()
        .find(|user| user.photo.is_none())
        .expect("no photo");
    let photo = with_photo.photo.as_ref().expect("a photo");
    let response = fixture
        .client
        .get(fixture.url(&format!("/v1.0/users/{}/photo/$value", with_photo.id)))
        .bearer_auth(&fixture.token)
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "image/jpeg");
    let bytes = response.bytes().await.expect("bytes");
    assert_eq!(bytes.as_ref(), photo.bytes.as_ref());
    assert_eq!(&bytes[..2], &[0xFF, 0xD8]);
    let metadata = fixture
        .get(&format!("/v1.0/users/{}/photo", with_photo.id))
        .await;
    assert_eq!(
        metadata.body["@odata.mediaEtag"],
        json!(format!("\"{}\"", photo.etag))
    );
    let missing = fixture
        .get(&format!("/v1.0/users/{}/photo/$value", without_photo.id))
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);
    assert_eq!(missing.error_code(), "ImageNotFound");
}

#[tokio::test]
async fn transitive_members_resolve_nested_groups_once_and_survive_cycles() {
    let fixture = start(3_000, unlimited()).await;
    let all_staff = fixture.summary.all_staff_group_id.expect("All Staff");
    let pages = fixture
        .all_pages(
            &format!("/v1.0/groups/{all_staff}/transitiveMembers/microsoft.graph.user?$top=999&$select=id"),
            &[],
        )
        .await;
    assert_eq!(pages.len(), 3);
    let ids: Vec<String> = pages.iter().flat_map(|page| page.ids()).collect();
    let unique: HashSet<&String> = ids.iter().collect();
    assert_eq!(
        ids.len(),
        unique.len(),
        "the chief is a direct and a nested member, listed once"
    );
    assert_eq!(ids.len(), fixture.summary.members);
    let direct = fixture
        .get(&format!("/v1.0/groups/{all_staff}/members"))
        .await;
    let types: HashSet<&str> = direct
        .values()
        .iter()
        .filter_map(|member| member["@odata.type"].as_str())
        .collect();
    assert!(types.contains("#microsoft.graph.group") && types.contains("#microsoft.graph.user"));

    let tenant = fixture.tenant;
    let stored = fixture.emulator.state.directory.list_users(tenant, false);
    let base = format!("/_admin/tenants/{tenant}/directory/groups");
    let outer = fixture
        .admin(
            Method::POST,
            &base,
            Some(
                json!({"displayName": "Outer", "members": [{"type": "user", "id": stored[0].id}]}),
            ),
        )
        .await;
    let outer_id = outer.body["id"].as_str().expect("id").to_owned();
    let inner = fixture
        .admin(Method::POST, &base, Some(json!({"displayName": "Inner", "members": [{"type": "user", "id": stored[1].id}, {"type": "group", "id": outer_id}]})))
        .await;
    let inner_id = inner.body["id"].as_str().expect("id").to_owned();
    let linked = fixture
        .admin(
            Method::POST,
            &format!("{base}/{outer_id}/members"),
            Some(json!({"type": "group", "id": inner_id})),
        )
        .await;
    assert_eq!(linked.status, StatusCode::NO_CONTENT);
    let cyclic = fixture
        .get(&format!(
            "/v1.0/groups/{outer_id}/transitiveMembers/microsoft.graph.user"
        ))
        .await;
    let mut cyclic_ids = cyclic.ids();
    cyclic_ids.sort();
    let mut expected = vec![stored[0].id.to_string(), stored[1].id.to_string()];
    expected.sort();
    assert_eq!(cyclic_ids, expected);
    let by_name = fixture
        .get("/v1.0/groups?$filter=displayName%20eq%20'Inner'")
        .await;
    assert_eq!(by_name.ids(), vec![inner_id]);
}

#[tokio::test]
async fn member_filters_need_an_advanced_query_and_rooms_list_in_one_request() {
    let fixture = start(1_000, unlimited()).await;
    let all_staff = fixture.summary.all_staff_group_id.expect("All Staff");
    let path = format!(
        "/v1.0/groups/{all_staff}/transitiveMembers/microsoft.graph.user?$top=999&$select=id&$count=true&$filter=accountEnabled%20eq%20true"
    );
    let plain = fixture.get(&path).await;
    assert_eq!(plain.status, StatusCode::BAD_REQUEST);
    assert_eq!(plain.error_code(), "Request_UnsupportedQuery");
    let pages = fixture.all_pages(&path, EVENTUAL).await;
    let enabled: usize = pages.iter().map(|page| page.values().len()).sum();
    let expected = fixture
        .emulator
        .state
        .directory
        .list_users(fixture.tenant, false)
        .iter()
        .filter(|user| user.account_enabled && user.department.is_some())
        .count();
    assert_eq!(enabled, expected);

    let places_token = fixture.token_with(&["Place.Read.All"]);
    let rooms = fixture
        .get_url(
            &fixture.url("/v1.0/places/microsoft.graph.room"),
            &places_token,
            &[],
        )
        .await;
    assert_eq!(rooms.values().len(), fixture.summary.rooms);
    assert!(rooms.values()[0]["emailAddress"].is_string());
    let denied = fixture.get("/v1.0/places/microsoft.graph.room").await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn directory_budget_throttles_with_a_decimal_retry_after_only_when_limits_are_on() {
    let limited = EmulatorConfig {
        limits_enabled: true,
        time_scale: 0.01,
        directory_requests_per_window: 5,
        directory_window: Duration::from_secs(10),
        ..EmulatorConfig::default()
    };
    let fixture = start(10, limited).await;
    for _ in 0..5 {
        assert_eq!(
            fixture.get("/v1.0/users?$top=1").await.status,
            StatusCode::OK
        );
    }
    let throttled = fixture.get("/v1.0/users?$top=1").await;
    assert_eq!(throttled.status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(throttled.error_code(), "Request_ThrottledTemporarily");
    let retry_after: f64 = throttled.headers["retry-after"]
        .to_str()
        .ok()
        .and_then(|value| value.parse().ok())
        .expect("a numeric Retry-After");
    assert!(retry_after > 0.0 && retry_after <= 0.1, "{retry_after}");
    tokio::time::sleep(Duration::from_secs_f64(retry_after + 0.01)).await;
    assert_eq!(
        fixture.get("/v1.0/users?$top=1").await.status,
        StatusCode::OK
    );
    assert_eq!(fixture.emulator.state.accounting.early_retry_total(), 0);

    let unlimited_fixture = start(10, unlimited()).await;
    for _ in 0..50 {
        assert_eq!(
            unlimited_fixture.get("/v1.0/users?$top=1").await.status,
            StatusCode::OK
        );
    }
}
