//! Microsoft's first-party public client "Microsoft Graph Command Line
//! Tools" (the client `Connect-MgGraph` uses): an admin of any tenant signs
//! in with it through the device code, no app registered, no secret, and
//! the token carries exactly the Graph scopes asked for.

mod support;

use std::collections::BTreeSet;

use reqwest::Method;
use serde_json::{json, Value};
use support::identity::{admin_post, jwt_claims, start};

const GRAPH_CLI_CLIENT_ID: &str = "14d82eec-204b-4c2f-b7e8-296a70dab67e";
const ADMIN_UPN: &str = "admin@contoso.example";
const SCOPES: &str = "Application.ReadWrite.All AppRoleAssignment.ReadWrite.All";

#[tokio::test]
async fn an_admin_signs_in_with_the_graph_command_line_tools_client_without_a_secret() {
    let tenant = start().await;
    tenant
        .set_directory_roles(ADMIN_UPN, &["Global Administrator"])
        .await;
    let flow: Value = tenant
        .http
        .post(format!(
            "{}/{}/oauth2/v2.0/devicecode",
            tenant.base, tenant.tenant_id
        ))
        .form(&[("client_id", GRAPH_CLI_CLIENT_ID), ("scope", SCOPES)])
        .send()
        .await
        .expect("devicecode")
        .json()
        .await
        .expect("devicecode json");
    let user_code = flow["user_code"].as_str().expect("user_code");
    let device_code = flow["device_code"].as_str().expect("device_code");
    let tenant_segment = tenant.tenant_id.to_string();
    let poll = [
        ("grant_type", "urn:ietf:params:oauth:grant-type:device_code"),
        ("client_id", GRAPH_CLI_CLIENT_ID),
        ("device_code", device_code),
    ];
    let (status, pending) = tenant.token_request(&tenant_segment, &poll).await;
    assert_eq!(
        (status, pending["error"].clone()),
        (400, json!("authorization_pending"))
    );

    admin_post(
        &tenant.http,
        &format!("{}/_admin/devicecodes/{user_code}/approve", tenant.base),
        json!({"upn": ADMIN_UPN}),
    )
    .await;
    let (status, body) = tenant.token_request(&tenant_segment, &poll).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["refresh_token"],
        Value::Null,
        "no offline_access asked"
    );
    let token = body["access_token"].as_str().expect("access_token");
    let claims = jwt_claims(token);
    let scopes: BTreeSet<&str> = claims["scp"].as_str().expect("scp").split(' ').collect();
    assert_eq!(scopes, SCOPES.split(' ').collect());
    assert_eq!(claims["upn"], ADMIN_UPN);
    assert_eq!(claims["appid"], GRAPH_CLI_CLIENT_ID);
    assert_eq!(claims["tid"], tenant.tenant_id.to_string());

    // The token works on Graph: the admin may create an application.
    let (status, app) = tenant
        .graph(
            Method::POST,
            "/applications",
            token,
            Some(json!({"displayName": "made with the first-party client"})),
        )
        .await;
    assert_eq!(status, 201, "{app}");
}

#[tokio::test]
async fn the_first_party_client_may_not_use_client_credentials() {
    let tenant = start().await;
    let tenant_segment = tenant.tenant_id.to_string();
    let (status, body) = tenant
        .token_request(
            &tenant_segment,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", GRAPH_CLI_CLIENT_ID),
                ("scope", "https://graph.microsoft.com/.default"),
            ],
        )
        .await;
    assert_ne!(status, 200, "{body}");
}
