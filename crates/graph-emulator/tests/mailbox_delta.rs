//! Contacts delta held to contact-delta: `$select` is the only OData query
//! option it takes, and pages follow `Prefer: odata.maxpagesize` (10 without
//! it, at most 200).

mod support;

use galsync_graph_emulator::EmulatorConfig;
use reqwest::StatusCode;
use serde_json::Value;
use support::mailbox::{start, Fixture, SOURCE_PROPERTY};

fn unlimited() -> EmulatorConfig {
    EmulatorConfig {
        limits_enabled: false,
        ..EmulatorConfig::default()
    }
}

async fn folder_with_contacts(fixture: &Fixture, count: usize) -> String {
    let user = fixture.alice_id.clone();
    let folder_id = fixture.create_folder(&user, "Company Directory").await;
    for index in 0..count {
        fixture
            .create_contact(&user, &folder_id, &format!("Person {index:03}"))
            .await;
    }
    format!("/v1.0/users/{user}/contactFolders/{folder_id}/contacts/delta")
}

/// The sizes of the pages of one delta round, sent with `prefer` if given.
async fn page_sizes(fixture: &Fixture, start: &str, prefer: Option<&str>) -> Vec<usize> {
    let mut sizes = Vec::new();
    let mut link = start.to_owned();
    loop {
        let mut request = fixture
            .client
            .get(fixture.url(&link))
            .bearer_auth(&fixture.token);
        if let Some(prefer) = prefer {
            request = request.header("Prefer", prefer);
        }
        let page = request.send().await.expect("delta page");
        assert_eq!(page.status(), StatusCode::OK);
        let body: Value = page.json().await.expect("json");
        sizes.push(body["value"].as_array().map(Vec::len).unwrap_or_default());
        match body["@odata.nextLink"].as_str() {
            Some(next) => link = next.to_owned(),
            None => {
                assert!(
                    body["@odata.deltaLink"].is_string(),
                    "a round ends with a deltaLink"
                );
                return sizes;
            }
        }
    }
}

#[tokio::test]
async fn contacts_delta_refuses_every_query_option_but_select() {
    let fixture = start(unlimited()).await;
    let delta = folder_with_contacts(&fixture, 2).await;
    let expand =
        format!("$expand=singleValueExtendedProperties($filter=id eq '{SOURCE_PROPERTY}')");
    let undocumented = [
        expand.as_str(),
        "$filter=displayName eq 'Person 001'",
        "$orderby=displayName",
        "$top=5",
        "$skip=1",
        "$count=true",
        "$search=\"Person\"",
        "changeType=created",
    ];
    for query in undocumented {
        let option = query.split('=').next().unwrap_or_default();
        let reply = fixture
            .get(&format!("{delta}?$select=displayName&{query}"))
            .await;
        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{query}: {}",
            reply.body
        );
        assert_eq!(reply.error_code(), "ErrorInvalidUrlQuery", "{query}");
        let message = reply.body["error"]["message"].as_str().unwrap_or_default();
        assert!(
            message.contains(option),
            "{query}: the message names {option}: {message}"
        );
    }

    let selected = fixture
        .get(&format!("{delta}?$select=displayName,jobTitle"))
        .await;
    assert_eq!(selected.status, StatusCode::OK, "{}", selected.body);
    let rows = selected.body["value"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(rows.len(), 2);
    for row in rows {
        assert!(row["id"].is_string(), "the id is always returned");
        assert!(row["displayName"].is_string());
        assert!(
            row.get("singleValueExtendedProperties").is_none(),
            "no extended property without $expand: {row}"
        );
    }
}

#[tokio::test]
async fn contacts_delta_pages_by_ten_unless_the_client_prefers_up_to_two_hundred() {
    let fixture = start(unlimited()).await;
    let delta = folder_with_contacts(&fixture, 205).await;
    let select = format!("{delta}?$select=displayName");

    let default_pages = page_sizes(&fixture, &select, None).await;
    assert_eq!(
        default_pages.len(),
        21,
        "205 contacts in pages of 10: {default_pages:?}"
    );
    assert!(default_pages.iter().all(|size| *size <= 10));

    let preferred = page_sizes(&fixture, &select, Some("odata.maxpagesize=50")).await;
    assert_eq!(preferred, vec![50, 50, 50, 50, 5]);

    let capped = page_sizes(&fixture, &select, Some("odata.maxpagesize=1000")).await;
    assert_eq!(capped, vec![200, 5], "a larger preference is capped at 200");
}
