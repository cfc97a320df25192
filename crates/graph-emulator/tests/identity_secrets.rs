//! Client secrets over real HTTP: value and expiry checks, values shown once,
//! and `client_secret_basic`.

mod support;

use chrono::{Duration, Utc};
use serde_json::{json, Value};
use support::identity::{admin_post, assert_entra_error, start, GRAPH_DEFAULT};

#[tokio::test]
async fn client_secrets_are_checked_for_value_and_expiry() {
    let tenant = start().await;
    let secret = admin_post(&tenant.http, &tenant.app_admin_url("/secrets"), json!({})).await;
    let secret_text = secret["secret_text"]
        .as_str()
        .expect("secret value shown once")
        .to_owned();
    let expired_at = (Utc::now() - Duration::days(1)).to_rfc3339();
    admin_post(
        &tenant.http,
        &tenant.app_admin_url("/secrets"),
        json!({"value": "old-secret-value", "expires_at": expired_at}),
    )
    .await;
    let view: Value = tenant
        .http
        .get(tenant.app_admin_url(""))
        .send()
        .await
        .expect("show")
        .json()
        .await
        .expect("json");
    assert!(
        !view.to_string().contains(&secret_text),
        "secret values never shown again"
    );

    let tenant_id = tenant.tenant_id.to_string();
    let with_secret = |value: &'static str| {
        [
            ("grant_type", "client_credentials"),
            ("client_id", tenant.client_id.as_str()),
            ("scope", GRAPH_DEFAULT),
            ("client_secret", value),
        ]
    };
    let good = tenant
        .token_request(
            &tenant_id,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &tenant.client_id),
                ("scope", GRAPH_DEFAULT),
                ("client_secret", &secret_text),
            ],
        )
        .await;
    assert_eq!(good.0, 200, "{}", good.1);
    assert_entra_error(
        &tenant
            .token_request(&tenant_id, &with_secret("wrong"))
            .await,
        401,
        "invalid_client",
        7000215,
    );
    assert_entra_error(
        &tenant
            .token_request(&tenant_id, &with_secret("old-secret-value"))
            .await,
        401,
        "invalid_client",
        7000222,
    );
}

#[tokio::test]
async fn client_secret_is_accepted_in_a_basic_authorization_header() {
    let tenant = start().await;
    let secret = admin_post(&tenant.http, &tenant.app_admin_url("/secrets"), json!({})).await;
    let secret_text = secret["secret_text"].as_str().expect("secret");
    let send = |password: String| {
        tenant
            .http
            .post(tenant.token_url())
            .basic_auth(&tenant.client_id, Some(password))
            .form(&[
                ("grant_type", "client_credentials"),
                ("scope", GRAPH_DEFAULT),
            ])
            .send()
    };
    let good = send(secret_text.to_owned()).await.expect("token request");
    assert_eq!(good.status(), 200);
    let bad = send("wrong".to_owned()).await.expect("token request");
    assert_eq!(bad.status(), 401);
    let body: Value = bad.json().await.expect("json");
    assert_eq!(body["error_codes"], json!([7000215]));
}
