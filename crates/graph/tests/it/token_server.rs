//! A local Entra token endpoint: records forms, answers tokens, device code
//! states and the well-known AADSTS errors.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Form, Json, Router};
use base64::Engine;
use serde_json::{json, Value};

use crate::support::{spawn_server, Arrivals};

pub const CLIENT_ID: &str = "11111111-2222-3333-4444-555555555555";
pub const TENANT_ID: &str = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee";

/// A form posted to the token endpoint, with the tenant path segment it went to.
type ReceivedForm = (String, HashMap<String, String>);

/// Forms received, keyed by tenant path segment.
#[derive(Clone, Default)]
pub struct TokenServer {
    pub forms: Arc<Mutex<Vec<ReceivedForm>>>,
    pub calls: Arrivals,
}

impl TokenServer {
    pub fn forms_for(&self, tenant: &str) -> Vec<HashMap<String, String>> {
        let forms = self.forms.lock().expect("lock");
        forms
            .iter()
            .filter(|(form_tenant, _)| form_tenant == tenant)
            .map(|(_, form)| form.clone())
            .collect()
    }
}

fn fake_access_token() -> String {
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let payload = json!({"roles": ["User.Read.All", "Group.Read.All"], "tid": TENANT_ID});
    format!(
        "{}.{}.c2ln",
        engine.encode(br#"{"alg":"RS256"}"#),
        engine.encode(payload.to_string())
    )
}

fn entra_error(status: StatusCode, error: &str, code: u32, text: &str) -> Response {
    let body = json!({
        "error": error,
        "error_description": format!("AADSTS{code}: {text} Trace ID: 0b5c Correlation ID: 9d1e Timestamp: 2026-11-22 10:00:00Z"),
        "error_codes": [code],
        "trace_id": "0b5c",
        "correlation_id": "9d1e",
    });
    (status, Json(body)).into_response()
}

/// (code, oauth error, description, expected first sentence, hint fragment)
pub const WELL_KNOWN: [(u32, &str, &str, &str, &str); 8] = [
    (90002, "invalid_request", "Tenant 'contoso.com' not found. Check to make sure you have the correct tenant ID.", "Tenant 'contoso.com' not found.", "Directory (tenant) ID GUID"),
    (700016, "unauthorized_client", "Application with identifier 'x' was not found in the directory 'Contoso'. This can happen if the application has not been installed.", "Application with identifier 'x' was not found in the directory 'Contoso'.", "not registered in this tenant"),
    (700027, "invalid_client", "Client assertion failed signature validation. Reason: key was not found.", "Client assertion failed signature validation.", "Certificates & secrets"),
    (700024, "invalid_client", "Client assertion is not within its valid time range. Current time: 2026-11-22T10:00:00Z.", "Client assertion is not within its valid time range.", "clock"),
    (7000215, "invalid_client", "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value.", "Invalid client secret provided.", "Value (not its Secret ID)"),
    (7000222, "invalid_client", "The provided client secret keys for app 'x' are expired. Visit the Azure portal to create new keys.", "The provided client secret keys for app 'x' are expired.", "expired: create a new one"),
    (70011, "invalid_scope", "The provided value for the input parameter 'scope' is not valid. The scope x is not valid.", "The provided value for the input parameter 'scope' is not valid.", "/.default"),
    (65001, "invalid_grant", "The user or administrator has not consented to use the application with ID 'x'. Send an interactive authorization request.", "The user or administrator has not consented to use the application with ID 'x'.", "grant admin consent"),
];

async fn token_endpoint(
    State(server): State<TokenServer>,
    Path(tenant): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let call_number = server.calls.record();
    server
        .forms
        .lock()
        .expect("lock")
        .push((tenant.clone(), form.clone()));
    if let Some(code) = tenant.strip_prefix("aadsts-") {
        let code: u32 = code.parse().unwrap_or_default();
        for (known_code, error, text, _, _) in WELL_KNOWN {
            if known_code == code {
                return entra_error(StatusCode::BAD_REQUEST, error, code, text);
            }
        }
    }
    if tenant == "flaky" && call_number == 1 {
        let mut response = (StatusCode::SERVICE_UNAVAILABLE, "busy").into_response();
        response
            .headers_mut()
            .insert("retry-after", "0.05".parse().expect("header"));
        return response;
    }
    let grant_type = form
        .get("grant_type")
        .map(String::as_str)
        .unwrap_or_default();
    if grant_type == "urn:ietf:params:oauth:grant-type:device_code" {
        let polls = server.forms_for(&tenant).len();
        let outcome = match (tenant.as_str(), polls) {
            ("declined", _) => Some("authorization_declined"),
            ("expired", _) => Some("expired_token"),
            (_, 1) => Some("authorization_pending"),
            (_, 2) => Some("slow_down"),
            _ => None,
        };
        if let Some(error) = outcome {
            return entra_error(
                StatusCode::BAD_REQUEST,
                error,
                70016,
                "Waiting for the user.",
            );
        }
    }
    let mut body =
        json!({"token_type": "Bearer", "expires_in": 3599, "access_token": fake_access_token()});
    if grant_type != "client_credentials" {
        body["refresh_token"] = json!("rotated-refresh-token");
    }
    (StatusCode::OK, Json(body)).into_response()
}

async fn device_code_endpoint() -> Json<Value> {
    Json(json!({
        "device_code": "device-code-secret",
        "user_code": "ABCD-EFGH",
        "verification_uri": "https://microsoft.com/devicelogin",
        "expires_in": 900,
        "interval": 1,
        "message": "To sign in, use a web browser to open the page https://microsoft.com/devicelogin and enter the code ABCD-EFGH to authenticate."
    }))
}

pub async fn spawn_token_server() -> (String, TokenServer) {
    let server = TokenServer::default();
    let router = Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token_endpoint))
        .route(
            "/{tenant}/oauth2/v2.0/devicecode",
            post(device_code_endpoint),
        )
        .with_state(server.clone());
    (spawn_server(router).await, server)
}
