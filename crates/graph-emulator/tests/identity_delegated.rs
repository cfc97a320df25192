//! Delegated sign-in over real HTTP: the device-code flow (pending,
//! approved, declined, expired), refresh-token rotation and inactivity
//! expiry; and MSAL Python getting app-only tokens when it is installed.

mod identity_support;

use chrono::Duration;
use identity_support::{
    admin_post, app_key, assert_entra_error, jwt_claims, start, TestTenant, GRAPH_DEFAULT,
};
use serde_json::{json, Value};

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

async fn add_secret(tenant: &TestTenant) -> String {
    let secret = admin_post(&tenant.http, &tenant.app_admin_url("/secrets"), json!({})).await;
    secret["secret_text"].as_str().expect("secret").to_owned()
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
    let secret = add_secret(&tenant).await;
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
    let secret = add_secret(&tenant).await;
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

const MSAL_SCRIPT: &str = r#"
import json, os, sys
import msal, requests

plain_base = os.environ["EMULATOR_BASE"]
https_base = plain_base.replace("http://", "https://", 1)

class EmulatorSession(requests.Session):
    """MSAL only accepts https authorities: stand in for a TLS proxy."""
    def request(self, method, url, *args, **kwargs):
        if url.startswith(https_base):
            url = plain_base + url[len(https_base):]
            headers = dict(kwargs.pop("headers", None) or {})
            headers["X-Forwarded-Proto"] = "https"
            kwargs["headers"] = headers
        return super().request(method, url, *args, **kwargs)

key = open(os.environ["KEY_PEM"]).read()
results = []
for credential in (
    {"private_key": key, "thumbprint": os.environ["THUMBPRINT"]},
    {"private_key": key, "public_certificate": open(os.environ["CERT_PEM"]).read()},
):
    app = msal.ConfidentialClientApplication(
        os.environ["CLIENT_ID"],
        authority=https_base + "/" + os.environ["TENANT"],
        client_credential=credential,
        http_client=EmulatorSession(),
        instance_discovery=False,
    )
    results.append(app.acquire_token_for_client(scopes=[os.environ["SCOPE"]]))
print(json.dumps(results))
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msal_python_gets_app_only_tokens_with_a_certificate() {
    let has_msal = std::process::Command::new("python3")
        .args(["-c", "import msal, requests"])
        .output()
        .is_ok_and(|output| output.status.success());
    if !has_msal {
        println!("skipping: python3 with msal is not installed (pip install msal)");
        return;
    }
    let tenant = start().await;
    tenant.consent_all().await;
    let directory = std::env::temp_dir().join(format!("galsync-msal-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&directory).expect("temp dir");
    let key_path = directory.join("key.pem");
    let certificate_path = directory.join("cert.pem");
    std::fs::write(&key_path, &app_key().private_pkcs8_pem).expect("write key");
    std::fs::write(&certificate_path, &app_key().certificate_pem).expect("write certificate");
    let mut command = std::process::Command::new("python3");
    command
        .args(["-c", MSAL_SCRIPT])
        .env("EMULATOR_BASE", &tenant.base)
        .env("TENANT", "contoso.example")
        .env("CLIENT_ID", &tenant.client_id)
        .env("KEY_PEM", &key_path)
        .env("CERT_PEM", &certificate_path)
        .env("THUMBPRINT", app_key().sha1_hex())
        .env("SCOPE", GRAPH_DEFAULT);
    let child = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("join")
        .expect("run python");
    let _ = std::fs::remove_dir_all(&directory);
    let stdout = String::from_utf8_lossy(&child.stdout);
    assert!(
        child.status.success(),
        "msal script failed: {stdout} {}",
        String::from_utf8_lossy(&child.stderr)
    );
    let results: Vec<Value> = serde_json::from_str(stdout.trim()).expect("json results");
    assert_eq!(results.len(), 2);
    for result in results {
        let access_token = result["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("msal failed: {result}"));
        let claims = jwt_claims(access_token);
        assert_eq!(claims["tid"], tenant.tenant_id.to_string());
        assert_eq!(claims["appid"], tenant.client_id);
        assert_eq!(
            claims["roles"],
            json!(["Contacts.ReadWrite", "Group.Read.All", "User.Read.All"])
        );
    }
}
