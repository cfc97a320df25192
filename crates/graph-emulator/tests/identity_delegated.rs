//! Delegated sign-in over real HTTP: the device-code flow (pending,
//! approved, declined, expired), refresh-token rotation and inactivity
//! expiry, and sign-in on `/organizations`. MSAL Python: identity_msal.rs.

mod support;

use chrono::Duration;
use serde_json::{json, Value};
use support::identity::{admin_post, assert_entra_error, jwt_claims, start, TestTenant};

const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
const ADMIN_UPN: &str = "admin@contoso.example";

/// Starts a device-code sign-in; returns the devicecode answer.
async fn start_device_flow(tenant: &TestTenant, scope: &str) -> Value {
    let response = tenant
        .http
        .post(format!(
            "{}/{}/oauth2/v2.0/devicecode",
            tenant.base, tenant.tenant_id
        ))
        .form(&[("client_id", tenant.client_id.as_str()), ("scope", scope)])
        .send()
        .await
        .expect("devicecode");
    assert_eq!(response.status(), 200);
    response.json().await.expect("devicecode json")
}

/// Polls once, authenticating the (confidential) app with a client secret.
async fn poll(tenant: &TestTenant, secret: &str, device_code: &str) -> (u16, Value) {
    let tenant_id = tenant.tenant_id.to_string();
    tenant
        .token_request(
            &tenant_id,
            &[
                ("grant_type", DEVICE_CODE_GRANT),
                ("client_id", &tenant.client_id),
                ("client_secret", secret),
                ("device_code", device_code),
            ],
        )
        .await
}

async fn decide(tenant: &TestTenant, user_code: &str, verb: &str) -> u16 {
    tenant
        .http
        .post(format!(
            "{}/_admin/devicecodes/{user_code}/{verb}",
            tenant.base
        ))
        .json(&json!({"upn": ADMIN_UPN}))
        .send()
        .await
        .expect("decide device code")
        .status()
        .as_u16()
}

#[tokio::test]
async fn device_code_flow_issues_delegated_tokens_after_approval_and_refresh_rotates() {
    let tenant = start().await;
    let secret = tenant.add_secret().await;
    let flow = start_device_flow(
        &tenant,
        "https://graph.microsoft.com/Application.ReadWrite.All offline_access openid",
    )
    .await;
    let device_code = flow["device_code"].as_str().expect("device_code");
    let user_code = flow["user_code"].as_str().expect("user_code");
    assert_eq!(flow["expires_in"], 900);
    assert_eq!(flow["interval"], 5);
    assert!(flow["message"]
        .as_str()
        .unwrap_or_default()
        .contains(user_code));

    assert_entra_error(
        &poll(&tenant, &secret, device_code).await,
        400,
        "authorization_pending",
        70016,
    );
    let debug_output = format!("{:?}", tenant.emulator.state);
    assert!(
        !debug_output.contains(device_code),
        "device codes stay out of debug output"
    );
    let pending: Value = tenant
        .http
        .get(format!("{}/_admin/devicecodes", tenant.base))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(pending[0]["user_code"], user_code);

    assert_eq!(decide(&tenant, user_code, "approve").await, 200);
    let (status, body) = poll(&tenant, &secret, device_code).await;
    assert_eq!(status, 200, "{body}");
    let claims = jwt_claims(body["access_token"].as_str().expect("access_token"));
    assert_eq!(claims["scp"], "Application.ReadWrite.All");
    assert_eq!(claims["upn"], ADMIN_UPN);
    assert_eq!(claims["tid"], tenant.tenant_id.to_string());
    assert!(body["id_token"].is_string(), "openid was asked for");
    let first_refresh = body["refresh_token"]
        .as_str()
        .expect("refresh_token")
        .to_owned();

    // The device code is spent.
    assert_entra_error(
        &poll(&tenant, &secret, device_code).await,
        400,
        "invalid_grant",
        70000,
    );

    let tenant_id = tenant.tenant_id.to_string();
    let refresh = |token: String| {
        let tenant_id = tenant_id.clone();
        let secret = secret.clone();
        let tenant = &tenant;
        async move {
            tenant
                .token_request(
                    &tenant_id,
                    &[
                        ("grant_type", "refresh_token"),
                        ("client_id", &tenant.client_id),
                        ("client_secret", &secret),
                        ("refresh_token", &token),
                    ],
                )
                .await
        }
    };
    let (status, refreshed) = refresh(first_refresh.clone()).await;
    assert_eq!(status, 200, "{refreshed}");
    let second_refresh = refreshed["refresh_token"]
        .as_str()
        .expect("new refresh token")
        .to_owned();
    assert_ne!(second_refresh, first_refresh, "refresh tokens rotate");
    let claims = jwt_claims(refreshed["access_token"].as_str().expect("access_token"));
    assert_eq!(claims["scp"], "Application.ReadWrite.All");

    // Unused for more than 90 days, a refresh token has expired.
    tenant.emulator.state.clock.advance(Duration::days(91));
    assert_entra_error(&refresh(second_refresh).await, 400, "invalid_grant", 700082);
    assert_entra_error(
        &refresh("1.Anot-a-token".to_owned()).await,
        400,
        "invalid_grant",
        9002313,
    );
}

#[tokio::test]
async fn declined_and_expired_device_codes_end_the_flow() {
    let tenant = start().await;
    let secret = tenant.add_secret().await;
    let declined = start_device_flow(&tenant, "User.Read offline_access").await;
    let user_code = declined["user_code"].as_str().expect("user_code");
    assert_eq!(decide(&tenant, user_code, "decline").await, 200);
    assert_eq!(
        decide(&tenant, user_code, "approve").await,
        409,
        "already decided"
    );
    let device_code = declined["device_code"].as_str().expect("device_code");
    assert_entra_error(
        &poll(&tenant, &secret, device_code).await,
        400,
        "authorization_declined",
        65004,
    );

    let expiring = start_device_flow(&tenant, "User.Read").await;
    tenant.emulator.state.clock.advance(Duration::minutes(16));
    let device_code = expiring["device_code"].as_str().expect("device_code");
    assert_entra_error(
        &poll(&tenant, &secret, device_code).await,
        400,
        "expired_token",
        70019,
    );
    assert_entra_error(
        &poll(&tenant, &secret, "made-up").await,
        400,
        "bad_verification_code",
        70018,
    );
}

#[tokio::test]
async fn confidential_app_must_authenticate_when_redeeming_a_device_code() {
    let tenant = start().await;
    let flow = start_device_flow(&tenant, "User.Read").await;
    let tenant_id = tenant.tenant_id.to_string();
    let answer = tenant
        .token_request(
            &tenant_id,
            &[
                ("grant_type", DEVICE_CODE_GRANT),
                ("client_id", &tenant.client_id),
                (
                    "device_code",
                    flow["device_code"].as_str().unwrap_or_default(),
                ),
            ],
        )
        .await;
    assert_entra_error(&answer, 401, "invalid_client", 7000218);
}

#[tokio::test]
async fn device_code_on_organizations_signs_in_an_admin_of_another_tenant() {
    let tenant = start().await;
    let base = tenant.base.clone();
    let single_tenant = tenant
        .http
        .post(format!("{base}/organizations/oauth2/v2.0/devicecode"))
        .form(&[
            ("client_id", tenant.client_id.as_str()),
            ("scope", "User.Read"),
        ])
        .send()
        .await
        .expect("devicecode");
    assert_eq!(single_tenant.status(), 400);
    let body: Value = single_tenant.json().await.expect("json");
    assert_eq!(body["error_codes"], json!([50194]));

    let app = admin_post(
        &tenant.http,
        &format!("{base}/_admin/tenants/{}/apps", tenant.tenant_id),
        json!({"display_name": "galsync provisioning", "multi_tenant": true}),
    )
    .await;
    let client_id = app["client_id"].as_str().expect("client id").to_owned();
    let secret_text = tenant
        .add_client_secret(&tenant.tenant_id.to_string(), &client_id)
        .await;
    let customer_id = tenant.add_customer_tenant("fabrikam.example").await;

    let flow: Value = tenant
        .http
        .post(format!("{base}/organizations/oauth2/v2.0/devicecode"))
        .form(&[
            ("client_id", client_id.as_str()),
            (
                "scope",
                "https://graph.microsoft.com/Application.ReadWrite.All offline_access",
            ),
        ])
        .send()
        .await
        .expect("devicecode")
        .json()
        .await
        .expect("json");
    let user_code = flow["user_code"].as_str().expect("user_code");
    let stranger = tenant
        .http
        .post(format!("{base}/_admin/devicecodes/{user_code}/approve"))
        .json(&json!({"upn": "someone@nowhere.example"}))
        .send()
        .await
        .expect("approve");
    assert_eq!(stranger.status(), 400, "no tenant has that domain");
    admin_post(
        &tenant.http,
        &format!("{base}/_admin/devicecodes/{user_code}/approve"),
        json!({"upn": "admin@fabrikam.example"}),
    )
    .await;
    let (status, tokens) = tenant
        .token_request(
            "organizations",
            &[
                ("grant_type", DEVICE_CODE_GRANT),
                ("client_id", &client_id),
                ("client_secret", &secret_text),
                (
                    "device_code",
                    flow["device_code"].as_str().unwrap_or_default(),
                ),
            ],
        )
        .await;
    assert_eq!(status, 200, "{tokens}");
    let claims = jwt_claims(tokens["access_token"].as_str().expect("access_token"));
    assert_eq!(claims["tid"], customer_id);
    assert_eq!(claims["upn"], "admin@fabrikam.example");
    assert_eq!(claims["scp"], "Application.ReadWrite.All");

    let (status, refreshed) = tenant
        .token_request(
            "organizations",
            &[
                ("grant_type", "refresh_token"),
                ("client_id", &client_id),
                ("client_secret", &secret_text),
                (
                    "refresh_token",
                    tokens["refresh_token"].as_str().unwrap_or_default(),
                ),
            ],
        )
        .await;
    assert_eq!(status, 200, "{refreshed}");
    let claims = jwt_claims(refreshed["access_token"].as_str().expect("access_token"));
    assert_eq!(claims["tid"], customer_id);
}
