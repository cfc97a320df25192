//! `/users/delta` over real HTTP, the directory admin API that drives it, and
//! the seed generator's guarantees.

mod support;

use std::collections::{HashMap, HashSet};

use galsync_graph_emulator::seeding::generate;
use galsync_graph_emulator::seeding::SeedOptions;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use support::directory::{delta_round, round_items, start, unlimited, Reply};

fn items(pages: &[Reply]) -> Vec<Value> {
    round_items(pages)
}

#[tokio::test]
async fn delta_reports_exactly_the_changed_deleted_and_disabled_users_then_nothing() {
    let fixture = start(1_000, unlimited()).await;
    let initial_url =
        fixture.url("/v1.0/users/delta?$select=id,displayName,jobTitle,accountEnabled");
    let (initial, delta_link) = delta_round(&fixture, &initial_url, &[]).await;
    assert_eq!(
        initial.len(),
        11,
        "1,000 users at the default page size of 100, then the repeated first user"
    );
    let initial_ids: HashSet<String> = items(&initial)
        .iter()
        .map(|item| item["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(initial_ids.len(), 1_000);
    assert!(
        !delta_link.contains("$select"),
        "query options live inside the token"
    );

    let tenant = fixture.tenant;
    let users = fixture.emulator.state.directory.list_users(tenant, false);
    let admin = format!("/_admin/tenants/{tenant}/directory/users");
    for user in &users[0..5] {
        let reply = fixture
            .admin(
                Method::PATCH,
                &format!("{admin}/{}", user.id),
                Some(json!({"jobTitle": "Chief Delta Officer"})),
            )
            .await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }
    let soft = &users[5];
    let hard = &users[6];
    let disabled = users[7..]
        .iter()
        .find(|user| user.account_enabled)
        .expect("an enabled user");
    assert_eq!(
        fixture
            .admin(Method::DELETE, &format!("{admin}/{}", soft.id), None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        fixture
            .admin(
                Method::DELETE,
                &format!("{admin}/{}?permanent=true", hard.id),
                None
            )
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        fixture
            .admin(
                Method::POST,
                &format!("{admin}/{}/disable", disabled.id),
                None
            )
            .await
            .status,
        StatusCode::OK
    );
    // A photo is not a user property: it does not surface in delta.
    let pictured = users[10..]
        .iter()
        .find(|user| user.photo.is_some())
        .expect("a photo");
    fixture
        .emulator
        .state
        .directory
        .remove_photo(tenant, pictured.id)
        .expect("photo removed");

    let before = fixture.requests_to("/users/delta");
    let (changes, second_link) = delta_round(&fixture, &delta_link, &[]).await;
    assert_eq!(changes.len(), 1);
    let changed_items = items(&changes);
    assert_eq!(
        changed_items.len(),
        9,
        "8 changed users, the first of them sent twice"
    );
    assert_eq!(changed_items[0], changed_items[8]);
    let by_id: HashMap<String, Value> = changed_items
        .into_iter()
        .map(|item| (item["id"].as_str().expect("id").to_owned(), item))
        .collect();
    assert_eq!(by_id.len(), 8);
    for user in &users[0..5] {
        let item = &by_id[&user.id.to_string()];
        assert_eq!(item["jobTitle"], json!("Chief Delta Officer"));
        assert!(
            item.get("displayName").is_none(),
            "an updated user carries only its changed properties: {item}"
        );
    }
    assert_eq!(
        by_id[&soft.id.to_string()]["@removed"]["reason"],
        json!("changed")
    );
    assert_eq!(
        by_id[&hard.id.to_string()]["@removed"]["reason"],
        json!("deleted")
    );
    assert_eq!(
        by_id[&disabled.id.to_string()]["accountEnabled"],
        json!(false)
    );

    // The next round replays the previous round's changes once; then nothing.
    let (replay, third_link) = delta_round(&fixture, &second_link, &[]).await;
    let replayed: HashSet<String> = items(&replay)
        .iter()
        .map(|item| item["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(replayed, by_id.keys().cloned().collect::<HashSet<_>>());
    let (quiet, _) = delta_round(&fixture, &third_link, &[]).await;
    assert_eq!(quiet.len(), 1);
    assert!(quiet[0].values().is_empty());
    assert_eq!(fixture.requests_to("/users/delta") - before, 3);

    let bin = fixture
        .get("/v1.0/directory/deletedItems/microsoft.graph.user?$select=id,displayName,deletedDateTime")
        .await;
    assert_eq!(
        bin.ids(),
        vec![soft.id.to_string()],
        "only the soft-deleted user is restorable"
    );
    assert!(bin.values()[0]["deletedDateTime"].is_string());

    // Restoring the soft-deleted user brings it back as a whole user.
    let restored = fixture
        .admin(Method::POST, &format!("{admin}/{}/restore", soft.id), None)
        .await;
    assert_eq!(restored.status, StatusCode::OK);
    let (after_restore, _) = delta_round(&fixture, &third_link, &[]).await;
    let restored_items = items(&after_restore);
    assert_eq!(restored_items[0]["id"], json!(soft.id.to_string()));
    assert_eq!(restored_items[0]["displayName"], json!(soft.display_name));
}

#[tokio::test]
async fn an_updated_user_carries_only_its_changed_properties_whatever_prefer_says() {
    let fixture = start(50, unlimited()).await;
    let (_, link) = delta_round(
        &fixture,
        &fixture.url("/v1.0/users/delta?$deltatoken=latest&$select=id,displayName,department,city"),
        &[],
    )
    .await;
    let users = fixture
        .emulator
        .state
        .directory
        .list_users(fixture.tenant, false);
    fixture
        .emulator
        .state
        .directory
        .patch_user(
            fixture.tenant,
            users[3].id,
            json!({"department": "Legal", "city": "Oslo"})
                .as_object()
                .expect("object"),
        )
        .expect("patched");
    for prefer in [Some("return=minimal"), None] {
        let headers: Vec<(&str, &str)> = prefer.iter().map(|value| ("Prefer", *value)).collect();
        let reply = fixture.get_url(&link, &fixture.token, &headers).await;
        if prefer.is_some() {
            assert_eq!(reply.headers["preference-applied"], "return=minimal");
        }
        let item = reply.values()[0].as_object().expect("object");
        let mut keys: Vec<&str> = item.keys().map(String::as_str).collect();
        keys.sort_unstable();
        assert_eq!(keys, ["city", "department", "id"], "prefer {prefer:?}");
        assert_eq!(item["department"], json!("Legal"));
    }
}

#[tokio::test]
async fn latest_token_skips_the_initial_round() {
    let fixture = start(500, unlimited()).await;
    let latest = fixture
        .get("/v1.0/users/delta?$deltatoken=latest&$select=id,mail")
        .await;
    assert!(latest.values().is_empty());
    let link = latest.body["@odata.deltaLink"]
        .as_str()
        .expect("deltaLink")
        .to_owned();
    let user = fixture.emulator.state.directory.add_mailbox_user(
        fixture.tenant,
        "Zoë Ødegaard",
        "zoe.new@contoso.onmicrosoft.com",
        true,
    );
    let reply = fixture.get_url(&link, &fixture.token, &[]).await;
    assert_eq!(
        reply.ids(),
        vec![user.clone(), user],
        "a created user comes whole, and twice"
    );
    assert_eq!(
        reply.values()[0]["mail"],
        json!("zoe.new@contoso.onmicrosoft.com")
    );
}

#[tokio::test]
async fn invalid_expired_and_reset_delta_tokens_get_sync_state_not_found() {
    let fixture = start(20, unlimited()).await;
    let garbage = fixture
        .get("/v1.0/users/delta?$deltatoken=not-a-token")
        .await;
    assert_eq!(garbage.status, StatusCode::BAD_REQUEST);
    assert_eq!(garbage.error_code(), "syncStateNotFound");

    let (_, link) = delta_round(&fixture, &fixture.url("/v1.0/users/delta"), &[]).await;
    let tenant = fixture.tenant;
    let expired = fixture
        .admin(
            Method::POST,
            &format!("/_admin/tenants/{tenant}/directory/delta/expire"),
            None,
        )
        .await;
    assert_eq!(expired.status, StatusCode::OK);
    let after_reset = fixture.get_url(&link, &fixture.token, &[]).await;
    assert_eq!(after_reset.error_code(), "syncStateNotFound");

    let (_, fresh_link) = delta_round(&fixture, &fixture.url("/v1.0/users/delta"), &[]).await;
    fixture
        .emulator
        .state
        .clock
        .advance(chrono::Duration::days(8));
    let token = fixture.emulator.state.mint_token(
        tenant,
        support::directory::APP_ID,
        support::directory::READER_ROLES,
    );
    let too_old = fixture.get_url(&fresh_link, &token, &[]).await;
    assert_eq!(too_old.error_code(), "syncStateNotFound");

    let filter_url = fixture.url("/v1.0/users/delta?$filter=accountEnabled%20eq%20true");
    let only_ids = fixture.get_url(&filter_url, &token, &[]).await;
    assert_eq!(only_ids.error_code(), "Request_UnsupportedQuery");
}

#[tokio::test]
async fn seeding_over_http_creates_the_tenant_and_reports_its_categories() {
    let fixture = start(0, unlimited()).await;
    let reply = fixture
        .admin(
            Method::POST,
            "/_admin/tenants/fabrikam.onmicrosoft.com/seed",
            Some(json!({"users": 2_000, "seed": 42})),
        )
        .await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let tenant: uuid::Uuid = reply.body["tenant_id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("tenant id");
    assert!(fixture.emulator.state.identity.tenant_exists(tenant));
    let summary = &reply.body;
    let count = |key: &str| summary[key].as_u64().expect(key) as usize;
    assert_eq!(count("users"), 2_000);
    let licensed_share = count("licensed") as f64 / 2_000.0;
    assert!((0.80..=0.90).contains(&licensed_share), "{licensed_share}");
    assert!(count("disabled") > 20 && count("disabled") < 100);
    assert!(count("no_mail") > 10 && count("guests") == 40);
    assert!(count("shared") > 0 && count("rooms") > 0 && count("equipment") > 0);
    let photo_share = count("with_photo") as f64 / count("licensed") as f64;
    assert!((0.3..=0.5).contains(&photo_share), "{photo_share}");

    let stored = fixture.emulator.state.directory.list_users(tenant, false);
    let included = stored
        .iter()
        .filter(|user| {
            user.account_enabled
                && user.mail.is_some()
                && user.user_type.as_str() == "Member"
                && !user.mailbox.is_resource()
        })
        .count();
    assert_eq!(count("default_included"), included);
    assert!(stored
        .iter()
        .any(|user| user.user_principal_name.contains("#EXT#")));
    assert!(stored.iter().any(|user| !user.display_name.is_ascii()));
    let counts = fixture
        .admin(
            Method::GET,
            &format!("/_admin/tenants/{tenant}/directory/counts"),
            None,
        )
        .await;
    assert_eq!(counts.body["users"], json!(2_000));
}

#[test]
fn same_seed_same_tenant_other_seed_other_tenant() {
    let options = SeedOptions {
        users: 300,
        seed: 9,
        ..SeedOptions::default()
    };
    let (first, first_groups, _) = generate(&options);
    let (second, second_groups, _) = generate(&options);
    assert!(first == second, "same seed, same users");
    assert!(first_groups == second_groups, "same seed, same groups");
    let (other, _, _) = generate(&SeedOptions {
        seed: 10,
        ..options
    });
    assert_ne!(first[0].id, other[0].id);
}

#[test]
fn fifty_thousand_users_seed_quickly() {
    let started = std::time::Instant::now();
    let (users, groups, summary) = generate(&SeedOptions {
        users: 50_000,
        ..SeedOptions::default()
    });
    let elapsed = started.elapsed();
    println!("generated 50,000 users in {elapsed:?}");
    assert_eq!(users.len(), 50_000);
    assert_eq!(summary.groups.len(), groups.len());
    let upns: HashSet<&str> = users
        .iter()
        .map(|user| user.user_principal_name.as_str())
        .collect();
    assert_eq!(upns.len(), 50_000, "UPNs are unique");
}

#[tokio::test]
async fn many_changes_page_with_next_links_and_an_id_filter_narrows_the_round() {
    let fixture = start(400, unlimited()).await;
    let (_, link) = delta_round(
        &fixture,
        &fixture.url("/v1.0/users/delta?$deltatoken=latest&$select=id,jobTitle"),
        &[],
    )
    .await;
    let users = fixture
        .emulator
        .state
        .directory
        .list_users(fixture.tenant, false);
    for (index, user) in users.iter().take(250).enumerate() {
        fixture
            .emulator
            .state
            .directory
            .modify_user(fixture.tenant, user.id, |stored| {
                stored.job_title = Some(format!("Title {index}"));
            })
            .expect("modified");
    }
    // The same user changed twice is reported once, with its latest state.
    fixture
        .emulator
        .state
        .directory
        .modify_user(fixture.tenant, users[0].id, |stored| {
            stored.job_title = Some("Final".to_owned());
        })
        .expect("modified");
    let (pages, _) = delta_round(&fixture, &link, &[("Prefer", "odata.maxpagesize=100")]).await;
    assert_eq!(pages.len(), 3);
    let changed = items(&pages);
    let ids: HashSet<String> = changed
        .iter()
        .map(|item| item["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!((changed.len(), ids.len()), (251, 250), "one user repeated");
    let first = changed
        .iter()
        .find(|item| item["id"] == json!(users[0].id.to_string()))
        .expect("first user");
    assert_eq!(first["jobTitle"], json!("Final"));

    let narrowed = format!(
        "/v1.0/users/delta?$select=id&$filter={}",
        url::form_urlencoded::byte_serialize(
            format!("id eq '{}' or id eq '{}'", users[1].id, users[2].id).as_bytes()
        )
        .collect::<String>()
    );
    let (initial, _) = delta_round(&fixture, &fixture.url(&narrowed), &[]).await;
    let mut narrowed_ids = items(&initial)
        .iter()
        .map(|item| item["id"].as_str().expect("id").to_owned())
        .collect::<Vec<_>>();
    narrowed_ids.sort();
    narrowed_ids.dedup();
    let mut expected = vec![users[1].id.to_string(), users[2].id.to_string()];
    expected.sort();
    assert_eq!(narrowed_ids, expected);
}
