//! `/users/delta` held to Microsoft's documented contract: the query options
//! it refuses, the manager tracked through `$select`, and the occasional
//! events a client must survive (a round opening with an empty page, 410 Gone
//! with a Location). Plus `/users?$expand=manager` paging by at most 100.

mod support;

use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use support::directory::{delta_round, round_items, start, unlimited};

#[tokio::test]
async fn delta_refuses_expand_top_and_orderby_with_graphs_error_shape() {
    let fixture = start(20, unlimited()).await;
    for option in [
        "$expand=manager($select=id,displayName)",
        "$top=999",
        "$orderby=displayName",
    ] {
        let reply = fixture
            .get(&format!(
                "/v1.0/users/delta?$select=id,displayName&{option}"
            ))
            .await;
        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{option}");
        assert_eq!(reply.error_code(), "Request_UnsupportedQuery", "{option}");
        assert!(reply.body["error"]["message"].is_string(), "{}", reply.body);
        assert!(
            reply.body["error"]["innerError"]["request-id"].is_string(),
            "{}",
            reply.body
        );
    }
    let plain = fixture
        .get("/v1.0/users/delta?$select=id,displayName,manager")
        .await;
    assert_eq!(plain.status, StatusCode::OK, "{}", plain.body);
}

#[tokio::test]
async fn selecting_manager_yields_manager_delta_initially_and_when_it_changes() {
    let fixture = start(60, unlimited()).await;
    let users = fixture
        .emulator
        .state
        .directory
        .list_users(fixture.tenant, false);
    let (initial, link) = delta_round(
        &fixture,
        &fixture.url("/v1.0/users/delta?$select=id,displayName,manager"),
        &[],
    )
    .await;
    let entries = round_items(&initial);
    let with_manager = users
        .iter()
        .find(|user| user.manager_id.is_some())
        .expect("a user with a manager");
    let entry = entries
        .iter()
        .find(|entry| entry["id"] == json!(with_manager.id.to_string()))
        .expect("the user's entry");
    assert_eq!(
        entry["manager@delta"][0]["id"],
        json!(with_manager.manager_id.map(|id| id.to_string()))
    );
    let without_manager = users
        .iter()
        .find(|user| user.manager_id.is_none())
        .expect("a user without a manager");
    let bare = entries
        .iter()
        .find(|entry| entry["id"] == json!(without_manager.id.to_string()))
        .expect("the entry");
    assert!(bare.get("manager@delta").is_none(), "{bare}");

    let new_manager = users
        .iter()
        .find(|user| Some(user.id) != with_manager.manager_id && user.id != with_manager.id)
        .expect("another user");
    let tenant = fixture.tenant;
    let reply = fixture
        .admin(
            Method::PUT,
            &format!(
                "/_admin/tenants/{tenant}/directory/users/{}/manager",
                with_manager.id
            ),
            Some(json!({"manager_id": new_manager.id})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let (changes, _) = delta_round(&fixture, &link, &[]).await;
    let changed = round_items(&changes);
    let mut keys: Vec<&str> = changed[0]
        .as_object()
        .expect("object")
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(keys, ["id", "manager@delta"]);
    assert_eq!(
        changed[0]["manager@delta"][0]["id"],
        json!(new_manager.id.to_string())
    );
}

#[tokio::test]
async fn an_armed_round_opens_with_an_empty_page_and_a_next_link() {
    let fixture = start(30, unlimited()).await;
    let tenant = fixture.tenant;
    let armed = fixture
        .admin(
            Method::POST,
            &format!("/_admin/tenants/{tenant}/directory/delta/events"),
            Some(json!({"empty_openings": 1})),
        )
        .await;
    assert_eq!(armed.status, StatusCode::OK, "{}", armed.body);
    let (pages, _) = delta_round(&fixture, &fixture.url("/v1.0/users/delta?$select=id"), &[]).await;
    assert!(pages[0].values().is_empty());
    assert!(pages[0].body["@odata.nextLink"].is_string());
    let ids: std::collections::HashSet<Value> = round_items(&pages)
        .into_iter()
        .map(|item| item["id"].clone())
        .collect();
    assert_eq!(ids.len(), 30, "the round still holds every user");
}

#[tokio::test]
async fn an_armed_delta_link_gets_410_gone_with_a_location_to_restart_from() {
    let fixture = start(25, unlimited()).await;
    let (_, link) = delta_round(
        &fixture,
        &fixture.url("/v1.0/users/delta?$select=id,mail"),
        &[],
    )
    .await;
    let tenant = fixture.tenant;
    fixture
        .admin(
            Method::POST,
            &format!("/_admin/tenants/{tenant}/directory/delta/events"),
            Some(json!({"gone": 1})),
        )
        .await;
    let gone = fixture.get_url(&link, &fixture.token, &[]).await;
    assert_eq!(gone.status, StatusCode::GONE, "{}", gone.body);
    let location = gone.headers["location"].to_str().expect("location");
    assert!(
        location.ends_with("/v1.0/users/delta?$select=id,mail"),
        "{location}"
    );
    let (restart, _) = delta_round(&fixture, location, &[]).await;
    let ids: std::collections::HashSet<Value> = round_items(&restart)
        .into_iter()
        .map(|item| item["id"].clone())
        .collect();
    assert_eq!(ids.len(), 25, "the restart is a full round");
    let again = fixture.get_url(&link, &fixture.token, &[]).await;
    assert_eq!(again.status, StatusCode::OK, "the event fires once");
}

#[tokio::test]
async fn listing_users_with_expand_pages_by_at_most_one_hundred() {
    let fixture = start(250, unlimited()).await;
    let expanded = fixture
        .all_pages("/v1.0/users?$select=id&$expand=manager&$top=999", &[])
        .await;
    let sizes: Vec<usize> = expanded.iter().map(|page| page.values().len()).collect();
    assert_eq!(sizes, [100, 100, 50]);
    let plain = fixture
        .all_pages("/v1.0/users?$select=id&$top=999", &[])
        .await;
    assert_eq!(plain.len(), 1);
    assert_eq!(plain[0].values().len(), 250);
}

/// Issue 11 point 4, measured: a full read of 2,000 users with their managers.
/// `/users?$expand=manager&$top=999` pages by 100 and needs a separate
/// `$deltatoken=latest` request for the delta link; the initial delta round
/// with `$select=…,manager` pages by 100 too and ends with the delta link.
#[tokio::test]
async fn a_full_read_of_two_thousand_users_costs_the_same_both_ways() {
    let fixture = start(2_000, unlimited()).await;
    let select = "id,displayName,mail,accountEnabled,assignedLicenses";
    let before = fixture.requests_to("/users");
    let listed = fixture
        .all_pages(
            &format!(
                "/v1.0/users?$select={select}&$expand=manager($select=id,displayName)&$top=999"
            ),
            &[],
        )
        .await;
    let latest = fixture
        .get(&format!(
            "/v1.0/users/delta?$deltatoken=latest&$select={select},manager"
        ))
        .await;
    assert_eq!(latest.status, StatusCode::OK);
    let list_way = fixture.requests_to("/users") - before + 1;
    let delta_before = fixture.requests_to("/users/delta");
    let (pages, _) = delta_round(
        &fixture,
        &fixture.url(&format!("/v1.0/users/delta?$select={select},manager")),
        &[],
    )
    .await;
    let delta_way = fixture.requests_to("/users/delta") - delta_before;
    println!(
        "full read of 2,000 users: /users with $expand + latest link = {list_way} requests; \
         initial delta round = {delta_way} requests"
    );
    assert_eq!(listed.len(), 20);
    assert_eq!(list_way, 21);
    assert_eq!(pages.len() as u64, delta_way);
    assert_eq!(delta_way, 21, "20 pages and one for the repeated user");
}
