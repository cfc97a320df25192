//! Shared fixture of the mailbox, batch and limits tests: an emulator on port
//! 0 with one tenant, two licensed mailboxes and one unlicensed user, and a
//! small JSON client with an app token.

pub use super::reply::Reply;
use galsync_graph_emulator::{Emulator, EmulatorConfig};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use uuid::Uuid;

pub const SOURCE_PROPERTY: &str =
    "String {66f5a359-4659-4830-9070-00047ec6ac6e} Name SourceObjectId";
pub const WRITE_APP: &str = "3b1f0d52-8f0e-4f4a-9a54-0c7d9e2b5a11";

pub struct Fixture {
    pub emulator: Emulator,
    pub client: reqwest::Client,
    pub tenant_id: Uuid,
    pub token: String,
    pub alice_id: String,
    pub alice_upn: String,
    pub bob_id: String,
    pub unlicensed_id: String,
}

pub async fn start(config: EmulatorConfig) -> Fixture {
    let emulator = Emulator::start(config).await.expect("emulator starts");
    let tenant_id = Uuid::new_v4();
    let state = &emulator.state;
    state
        .identity
        .create_tenant(tenant_id, vec!["contoso.example".to_owned()]);
    let alice_upn = "alice@contoso.example".to_owned();
    let alice_id = state
        .directory
        .add_mailbox_user(tenant_id, "Alice", &alice_upn, true);
    let bob_id = state
        .directory
        .add_mailbox_user(tenant_id, "Bob", "bob@contoso.example", true);
    let unlicensed_id =
        state
            .directory
            .add_mailbox_user(tenant_id, "Una", "una@contoso.example", false);
    let token = state.mint_token(tenant_id, WRITE_APP, &["Contacts.ReadWrite"]);
    Fixture {
        emulator,
        client: reqwest::Client::new(),
        tenant_id,
        token,
        alice_id,
        alice_upn,
        bob_id,
        unlicensed_id,
    }
}

impl Fixture {
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("http") {
            path.to_owned()
        } else {
            format!("{}{path}", self.emulator.base_url())
        }
    }

    pub fn token_with(&self, roles: &[&str]) -> String {
        self.emulator
            .state
            .mint_token(self.tenant_id, WRITE_APP, roles)
    }

    pub async fn send_as(
        &self,
        token: &str,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("request reaches the emulator");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.bytes().await.expect("response body");
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            body,
        }
    }

    pub async fn send(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.send_as(&self.token, method, path, body).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        self.send(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Reply {
        self.send(Method::POST, path, Some(body)).await
    }

    /// Creates a contact folder in `user`'s mailbox and returns its id.
    pub async fn create_folder(&self, user: &str, name: &str) -> String {
        let reply = self
            .post(
                &format!("/v1.0/users/{user}/contactFolders"),
                serde_json::json!({"displayName": name}),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body["id"].as_str().expect("folder id").to_owned()
    }

    /// Creates a contact with a source id in a folder and returns its id.
    pub async fn create_contact(&self, user: &str, folder_id: &str, name: &str) -> String {
        let reply = self
            .post(
                &format!("/v1.0/users/{user}/contactFolders/{folder_id}/contacts"),
                serde_json::json!({
                    "displayName": name,
                    "singleValueExtendedProperties": [{"id": SOURCE_PROPERTY, "value": name}],
                }),
            )
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        reply.body["id"].as_str().expect("contact id").to_owned()
    }

    /// The emulator's request counters (`/_admin/requests`).
    pub async fn request_counters(&self) -> Value {
        self.client
            .get(self.url("/_admin/requests"))
            .send()
            .await
            .expect("admin reachable")
            .json()
            .await
            .expect("admin json")
    }
}

/// A `$batch` step that creates a contact owned by `id` in `folder_id`.
pub fn create_step(id: &str, user: &str, folder_id: &str) -> Value {
    json!({
        "id": id,
        "method": "POST",
        "url": format!("/users/{user}/contactFolders/{folder_id}/contacts"),
        "headers": {"Content-Type": "application/json"},
        "body": {
            "displayName": format!("Person {id}"),
            "singleValueExtendedProperties": [{"id": SOURCE_PROPERTY, "value": id}],
        },
    })
}
