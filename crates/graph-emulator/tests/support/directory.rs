//! Shared fixture for directory tests: an emulator on port 0 with a seeded
//! tenant, a reader token, and a small HTTP client that follows links verbatim.

pub use super::reply::Reply;
use galsync_graph_emulator::seeding::{SeedOptions, SeedSummary};
use galsync_graph_emulator::{Emulator, EmulatorConfig};
use reqwest::StatusCode;
use serde_json::Value;
use uuid::Uuid;

pub const READER_ROLES: &[&str] = &["User.Read.All", "Group.Read.All"];
pub const APP_ID: &str = "11111111-2222-3333-4444-555555555555";

pub struct Fixture {
    pub emulator: Emulator,
    pub tenant: Uuid,
    pub token: String,
    pub client: reqwest::Client,
    pub summary: SeedSummary,
}

pub fn unlimited() -> EmulatorConfig {
    EmulatorConfig {
        limits_enabled: false,
        ..EmulatorConfig::default()
    }
}

/// An emulator with a tenant seeded in-process with `users` users.
pub async fn start(users: usize, config: EmulatorConfig) -> Fixture {
    let emulator = Emulator::start(config).await.expect("emulator starts");
    let tenant = Uuid::new_v4();
    emulator
        .state
        .identity
        .create_tenant(tenant, vec!["contoso.onmicrosoft.com".to_owned()]);
    let options = SeedOptions {
        users,
        seed: 7,
        ..SeedOptions::default()
    };
    let summary = emulator
        .state
        .directory
        .seed(tenant, &options)
        .expect("seeding succeeds");
    let token = emulator.state.mint_token(tenant, APP_ID, READER_ROLES);
    Fixture {
        emulator,
        tenant,
        token,
        client: reqwest::Client::new(),
        summary,
    }
}

impl Fixture {
    pub fn url(&self, path_and_query: &str) -> String {
        format!("{}{path_and_query}", self.emulator.base_url())
    }

    pub fn token_with(&self, roles: &[&str]) -> String {
        self.emulator.state.mint_token(self.tenant, APP_ID, roles)
    }

    /// GET an absolute URL with the reader token and extra headers.
    pub async fn get_url(&self, url: &str, token: &str, headers: &[(&str, &str)]) -> Reply {
        let mut request = self.client.get(url).bearer_auth(token);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.expect("request is answered");
        let status = response.status();
        let response_headers = response.headers().clone();
        let bytes = response.bytes().await.expect("body arrives");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            headers: response_headers,
            body,
        }
    }

    pub async fn get(&self, path_and_query: &str) -> Reply {
        self.get_url(&self.url(path_and_query), &self.token, &[])
            .await
    }

    pub async fn get_with(&self, path_and_query: &str, headers: &[(&str, &str)]) -> Reply {
        self.get_url(&self.url(path_and_query), &self.token, headers)
            .await
    }

    /// Follows `@odata.nextLink` verbatim; returns every page.
    pub async fn all_pages(&self, path_and_query: &str, headers: &[(&str, &str)]) -> Vec<Reply> {
        let mut pages = Vec::new();
        let mut url = self.url(path_and_query);
        loop {
            let reply = self.get_url(&url, &self.token, headers).await;
            assert_eq!(reply.status, StatusCode::OK, "page failed: {}", reply.body);
            let next = reply.body["@odata.nextLink"].as_str().map(str::to_owned);
            pages.push(reply);
            match next {
                Some(link) => url = link,
                None => return pages,
            }
        }
    }

    pub async fn admin(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Reply {
        let mut request = self.client.request(method, self.url(path));
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("admin request is answered");
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.json().await.unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
        }
    }

    /// Graph requests counted for an endpoint template, e.g. `/users`.
    pub fn requests_to(&self, endpoint: &str) -> u64 {
        self.emulator
            .state
            .accounting
            .total(|key| key.endpoint == endpoint)
    }
}

/// Runs a delta round from `url`, following nextLinks; returns the pages and the deltaLink.
pub async fn delta_round(
    fixture: &Fixture,
    url: &str,
    headers: &[(&str, &str)],
) -> (Vec<Reply>, String) {
    let mut pages = Vec::new();
    let mut next = url.to_owned();
    loop {
        let reply = fixture.get_url(&next, &fixture.token, headers).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let next_link = reply.body["@odata.nextLink"].as_str().map(str::to_owned);
        let delta_link = reply.body["@odata.deltaLink"].as_str().map(str::to_owned);
        pages.push(reply);
        match (next_link, delta_link) {
            (Some(link), None) => next = link,
            (None, Some(link)) => return (pages, link),
            _ => panic!("a page has exactly one of nextLink and deltaLink"),
        }
    }
}

/// Every entry of a round's pages, in order.
pub fn round_items(pages: &[Reply]) -> Vec<Value> {
    pages
        .iter()
        .flat_map(|page| page.values().clone())
        .collect()
}
