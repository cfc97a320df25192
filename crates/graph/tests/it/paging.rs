//! Paging and delta: nextLinks followed verbatim, delta rounds end at the deltaLink.

use std::sync::{Arc, Mutex};

use axum::extract::Request;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use futures::TryStreamExt;
use galsync_graph::models::{Page, User, USER_SELECT};
use galsync_graph::GraphError;
use serde_json::json;

use crate::support::{graph_client, spawn_server, GenerationTokenSource};

/// An opaque skiptoken with characters a client might be tempted to re-encode.
const ODD_SKIPTOKEN: &str = "RFNwdAIAAQAAACE6%2Fab%3D%3D~!*()-_.$x";

type SeenUris = Arc<Mutex<Vec<String>>>;

fn host_of(request: &Request) -> String {
    request
        .headers()
        .get("host")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

/// `/v1.0/users`: page 1 links to page 2 with an odd skiptoken, page 2 to
/// page 3 with another, page 3 ends.
fn three_page_directory(seen: SeenUris) -> Router {
    let handler = move |request: Request| {
        let seen = seen.clone();
        async move {
            let uri = request.uri().to_string();
            seen.lock().expect("lock").push(uri.clone());
            let host = host_of(&request);
            let query = request.uri().query().unwrap_or_default().to_owned();
            let (ids, next_link) = if query.contains(ODD_SKIPTOKEN) {
                (
                    vec!["u3", "u4"],
                    Some(format!("http://{host}/v1.0/users?$skiptoken=last%2B1")),
                )
            } else if query.contains("last%2B1") {
                (vec!["u5"], None)
            } else {
                let link =
                    format!("http://{host}/v1.0/users?$select=id&$skiptoken={ODD_SKIPTOKEN}");
                (vec!["u1", "u2"], Some(link))
            };
            let users: Vec<_> = ids
                .iter()
                .map(|id| json!({"id": id, "displayName": id}))
                .collect();
            let mut body = json!({"value": users});
            if let Some(link) = next_link {
                body["@odata.nextLink"] = json!(link);
            }
            (StatusCode::OK, Json(body)).into_response()
        }
    };
    Router::new().route("/v1.0/users", get(handler))
}

#[tokio::test]
async fn get_all_pages_follows_next_links_verbatim() {
    let seen = SeenUris::default();
    let server = spawn_server(three_page_directory(seen.clone())).await;
    let client = graph_client(&server, GenerationTokenSource::new());
    let first_url = format!("/users?$select={USER_SELECT}&$top=999");

    let users: Vec<User> = client.get_all_pages(&first_url).await.expect("all pages");

    let ids: Vec<&str> = users.iter().map(|user| user.id.as_str()).collect();
    assert_eq!(ids, ["u1", "u2", "u3", "u4", "u5"]);
    let seen = seen.lock().expect("lock").clone();
    assert_eq!(seen.len(), 3);
    assert_eq!(
        seen[1],
        format!("/v1.0/users?$select=id&$skiptoken={ODD_SKIPTOKEN}")
    );
    assert_eq!(seen[2], "/v1.0/users?$skiptoken=last%2B1");
    assert_eq!(client.stats().requests(), 3);
}

#[tokio::test]
async fn the_page_stream_yields_each_page_in_order() {
    let seen = SeenUris::default();
    let server = spawn_server(three_page_directory(seen)).await;
    let client = graph_client(&server, GenerationTokenSource::new());

    let pages: Vec<Page<User>> = client.pages("/users").try_collect().await.expect("pages");

    let sizes: Vec<usize> = pages.iter().map(|page| page.value.len()).collect();
    assert_eq!(sizes, [2, 2, 1]);
    assert!(pages[2].next_link.is_none());
}

#[tokio::test]
async fn a_next_link_to_another_host_is_refused() {
    let router = Router::new().route(
        "/v1.0/users",
        get(|| async {
            Json(json!({"value": [], "@odata.nextLink": "https://attacker.example/v1.0/users?$skiptoken=x"}))
        }),
    );
    let server = spawn_server(router).await;
    let client = graph_client(&server, GenerationTokenSource::new());

    let error = client
        .get_all_pages::<User>("/users")
        .await
        .expect_err("foreign link");

    assert!(matches!(error, GraphError::ForeignUrl { .. }), "{error:?}");
}

#[tokio::test]
async fn delta_follows_next_links_to_the_delta_link_with_removed_items() {
    let router = Router::new().route(
        "/v1.0/users/delta",
        get(|request: Request| async move {
            let host = host_of(&request);
            let query = request.uri().query().unwrap_or_default().to_owned();
            if query.contains("$skiptoken=page2") {
                return Json(json!({
                    "value": [{"id": "u3", "@removed": {"reason": "deleted"}}],
                    "@odata.deltaLink": format!("http://{host}/v1.0/users/delta?$deltatoken=next%3Dround")
                }));
            }
            Json(json!({
                "value": [{"id": "u1", "displayName": "Ada", "accountEnabled": true}, {"id": "u2"}],
                "@odata.nextLink": format!("http://{host}/v1.0/users/delta?$skiptoken=page2")
            }))
        }),
    );
    let server = spawn_server(router).await;
    let client = graph_client(&server, GenerationTokenSource::new());

    let delta = client
        .delta::<User>(&format!("/users/delta?$select={USER_SELECT}"))
        .await
        .expect("delta round");

    assert_eq!(delta.pages, 2);
    assert_eq!(delta.items.len(), 3);
    assert_eq!(delta.items[0].account_enabled, Some(true));
    let removed = delta.items[2]
        .removed
        .as_ref()
        .map(|removed| removed.reason.as_str());
    assert_eq!(removed, Some("deleted"));
    assert_eq!(
        delta.delta_link,
        format!("{server}/v1.0/users/delta?$deltatoken=next%3Dround")
    );
}

#[tokio::test]
async fn delta_without_a_delta_link_is_an_error() {
    let router = Router::new().route(
        "/v1.0/users/delta",
        get(|| async { Json(json!({"value": [{"id": "u1"}]})) }),
    );
    let server = spawn_server(router).await;
    let client = graph_client(&server, GenerationTokenSource::new());

    let error = client
        .delta::<User>("/users/delta")
        .await
        .expect_err("no deltaLink");

    assert!(matches!(error, GraphError::MissingDeltaLink), "{error:?}");
}

#[tokio::test]
async fn client_wide_headers_reach_every_page() {
    let seen_levels: SeenUris = SeenUris::default();
    let recorder = seen_levels.clone();
    let router = Router::new().route(
        "/v1.0/users",
        get(move |request: Request| {
            let recorder = recorder.clone();
            async move {
                let level = request
                    .headers()
                    .get("consistencylevel")
                    .and_then(|value| value.to_str().ok())
                    .unwrap_or("missing")
                    .to_owned();
                recorder.lock().expect("lock").push(level);
                let host = host_of(&request);
                if request.uri().query().unwrap_or_default().contains("page2") {
                    return Json(json!({"value": [{"id": "u2"}]}));
                }
                Json(json!({"value": [{"id": "u1"}], "@odata.nextLink": format!("http://{host}/v1.0/users?$skiptoken=page2")}))
            }
        }),
    );
    let server = spawn_server(router).await;
    let client = graph_client(&server, GenerationTokenSource::new());

    let users: Vec<User> = client
        .with_header("ConsistencyLevel", "eventual")
        .get_all_pages("/users?$count=true")
        .await
        .expect("users");

    assert_eq!(users.len(), 2);
    assert_eq!(*seen_levels.lock().expect("lock"), ["eventual", "eventual"]);
}
