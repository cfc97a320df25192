//! What `galsync tenant provision` does, over real HTTP: an admin signs in
//! with the device code, then through Graph creates the sync app with its
//! certificate, its service principal and its Microsoft Graph app role
//! grants; after the replication delay the app signs in with a certificate
//! assertion and its token carries exactly the granted roles. Also who may
//! not do it (403 Authorization_RequestDenied) and what the token endpoint
//! says before replication.

mod support;

use std::collections::BTreeSet;

use base64::Engine;
use chrono::Duration;
use jsonwebtoken::Algorithm;
use reqwest::Method;
use serde_json::{json, Value};
use support::identity::{
    assert_entra_error, jwt_claims, provisioned_key, sign_assertion, start, stranger_key, TestKey,
    TestTenant, Thumbprint, GRAPH_DEFAULT, JWT_BEARER,
};
use uuid::Uuid;

const ADMIN_UPN: &str = "admin@contoso.example";
const GRAPH_APP_ID: &str = "00000003-0000-0000-c000-000000000000";
const PROVISIONING_SCOPES: &str = "Application.ReadWrite.All AppRoleAssignment.ReadWrite.All";
/// The roles galsync asks for, with Microsoft's app role ids.
/// Microsoft Graph's `Contacts.ReadWrite` application role.
const CONTACTS_READWRITE: &str = "6918b873-d17a-4dc1-b314-35f528134491";

const SYNC_ROLES: &[(&str, &str)] = &[
    ("User.Read.All", "df021288-bdef-4463-88db-98f22de89214"),
    ("Group.Read.All", "5b567255-7703-4780-807c-7be8301ae99b"),
    (
        "GroupMember.Read.All",
        "98830695-27a2-44f7-8c18-0c3ebc9698f6",
    ),
    (
        "MailboxSettings.Read",
        "40f97065-369a-49f4-947c-6a255697ae91",
    ),
    ("Contacts.ReadWrite", CONTACTS_READWRITE),
];

/// The emulator's default replication delay, plus a second.
fn past_replication() -> Duration {
    Duration::seconds(6)
}

fn certificate_key_credential(key: &TestKey) -> Value {
    json!({
        "type": "AsymmetricX509Cert",
        "usage": "Verify",
        "key": base64::engine::general_purpose::STANDARD.encode(&key.certificate_der),
        "displayName": "CN=galsync provisioned",
    })
}

fn required_resource_access() -> Value {
    let access: Vec<Value> = SYNC_ROLES
        .iter()
        .map(|(_, id)| json!({"id": id, "type": "Role"}))
        .collect();
    json!([{"resourceAppId": GRAPH_APP_ID, "resourceAccess": access}])
}

/// Microsoft Graph's service principal in the tenant.
async fn microsoft_graph_principal_id(tenant: &TestTenant, token: &str) -> String {
    microsoft_graph_principal(tenant, token).await["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

async fn microsoft_graph_principal(tenant: &TestTenant, token: &str) -> Value {
    let (status, body) = tenant
        .graph(
            Method::GET,
            &format!("/servicePrincipals?$filter=appId eq '{GRAPH_APP_ID}'"),
            token,
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["value"].as_array().map(Vec::len), Some(1), "{body}");
    body["value"][0].clone()
}

/// Creates the sync app with its certificate; returns the application.
async fn create_sync_app(tenant: &TestTenant, token: &str, name: &str) -> Value {
    let (status, app) = tenant
        .graph(
            Method::POST,
            "/applications",
            token,
            Some(json!({
                "displayName": name,
                "signInAudience": "AzureADMyOrg",
                "tags": ["galsync"],
                "requiredResourceAccess": required_resource_access(),
                "keyCredentials": [certificate_key_credential(provisioned_key())],
            })),
        )
        .await;
    assert_eq!(status, 201, "{app}");
    app
}

async fn create_service_principal(tenant: &TestTenant, token: &str, app_id: &str) -> Value {
    let (status, principal) = tenant
        .graph(
            Method::POST,
            "/servicePrincipals",
            token,
            Some(json!({"appId": app_id})),
        )
        .await;
    assert_eq!(status, 201, "{principal}");
    principal
}

async fn grant_role(
    tenant: &TestTenant,
    token: &str,
    graph_principal_id: &str,
    principal_id: &str,
    app_role_id: &str,
) -> (u16, Value) {
    tenant
        .graph(
            Method::POST,
            &format!("/servicePrincipals/{graph_principal_id}/appRoleAssignedTo"),
            token,
            Some(json!({
                "principalId": principal_id,
                "resourceId": graph_principal_id,
                "appRoleId": app_role_id,
            })),
        )
        .await
}

/// A delegated token with the provisioning scopes for the administrator,
/// who holds the directory role `role`.
async fn provisioning_token(tenant: &TestTenant, role: &str) -> String {
    tenant.set_directory_roles(ADMIN_UPN, &[role]).await;
    tenant.delegated_token(ADMIN_UPN, PROVISIONING_SCOPES).await
}

/// POST /applications with only a display name.
async fn create_app_named(tenant: &TestTenant, token: &str, name: &str) -> (u16, Value) {
    tenant
        .graph(
            Method::POST,
            "/applications",
            token,
            Some(json!({"displayName": name})),
        )
        .await
}

/// Grants `Contacts.ReadWrite` to a principal id nobody has.
async fn grant_to_an_unknown_principal(
    tenant: &TestTenant,
    token: &str,
    graph_principal_id: &str,
) -> (u16, Value) {
    grant_role(
        tenant,
        token,
        graph_principal_id,
        &Uuid::new_v4().to_string(),
        CONTACTS_READWRITE,
    )
    .await
}

/// PATCH `path` (an application by unique name) with `Prefer:
/// create-if-missing`, setting its display name.
async fn upsert_display_name(
    tenant: &TestTenant,
    token: &str,
    path: &str,
    display_name: &str,
) -> reqwest::Response {
    tenant
        .http
        .patch(format!("{}/v1.0{path}", tenant.base))
        .bearer_auth(token)
        .header("Prefer", "create-if-missing")
        .json(&json!({"displayName": display_name}))
        .send()
        .await
        .expect("upsert")
}

/// Client credentials for `client_id`, asserted with `key`'s certificate.
async fn app_token(tenant: &TestTenant, client_id: &str, key: &TestKey) -> (u16, Value) {
    let now = tenant.emulator.state.clock.unix_now();
    let claims = json!({
        "aud": format!("https://login.microsoftonline.com/{}/oauth2/v2.0/token", tenant.tenant_id),
        "iss": client_id,
        "sub": client_id,
        "jti": Uuid::new_v4().to_string(),
        "nbf": now,
        "exp": now + 600,
    });
    let assertion = sign_assertion(key, key, Algorithm::RS256, Thumbprint::Sha1UrlSafe, &claims);
    let tenant_id = tenant.tenant_id.to_string();
    tenant
        .token_request(
            &tenant_id,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", client_id),
                ("scope", GRAPH_DEFAULT),
                ("client_assertion_type", JWT_BEARER),
                ("client_assertion", &assertion),
            ],
        )
        .await
}

fn token_roles(answer: &(u16, Value)) -> BTreeSet<String> {
    let token = answer.1["access_token"].as_str().expect("access token");
    jwt_claims(token)["roles"]
        .as_array()
        .map(|roles| {
            roles
                .iter()
                .filter_map(|role| role.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

fn assert_denied(answer: &(u16, Value)) {
    let (status, body) = answer;
    assert_eq!(*status, 403, "{body}");
    assert_eq!(
        body["error"]["code"], "Authorization_RequestDenied",
        "{body}"
    );
    assert_eq!(
        body["error"]["message"], "Insufficient privileges to complete the operation.",
        "{body}"
    );
}

#[tokio::test]
async fn an_admin_provisions_the_sync_app_and_after_replication_it_signs_in_with_the_granted_roles()
{
    let tenant = start().await;
    let token = provisioning_token(&tenant, "Global Administrator").await;
    let admin_claims = jwt_claims(&token);
    let scopes: BTreeSet<&str> = admin_claims["scp"]
        .as_str()
        .expect("scp")
        .split(' ')
        .collect();
    assert_eq!(scopes, PROVISIONING_SCOPES.split(' ').collect());
    assert_eq!(admin_claims["upn"], ADMIN_UPN);
    assert_eq!(admin_claims["idtyp"], "user");

    // Microsoft Graph's app roles, by Microsoft's ids.
    let graph_principal = microsoft_graph_principal(&tenant, &token).await;
    let graph_principal_id = graph_principal["id"].as_str().expect("id").to_owned();
    for (name, id) in SYNC_ROLES {
        let role = graph_principal["appRoles"]
            .as_array()
            .and_then(|roles| roles.iter().find(|role| role["value"] == *name))
            .unwrap_or_else(|| panic!("{name} among Microsoft Graph's app roles"));
        assert_eq!(role["id"], *id, "{name}");
        assert_eq!(role["allowedMemberTypes"], json!(["Application"]));
    }

    // Idempotency reads: nothing yet, then exactly the new app.
    let by_name = "/applications?$filter=displayName eq 'galsync sync'";
    let (status, none) = tenant.graph(Method::GET, by_name, &token, None).await;
    assert_eq!((status, none["value"].clone()), (200, json!([])));
    let app = create_sync_app(&tenant, &token, "galsync sync").await;
    let app_id = app["appId"].as_str().expect("appId").to_owned();
    let object_id = app["id"].as_str().expect("id").to_owned();
    assert_eq!(app["keyCredentials"][0]["type"], "AsymmetricX509Cert");
    assert_eq!(app["keyCredentials"][0]["key"], Value::Null);
    let (_, found) = tenant.graph(Method::GET, by_name, &token, None).await;
    assert_eq!(found["value"].as_array().map(Vec::len), Some(1), "{found}");
    assert_eq!(found["value"][0]["appId"], app_id.as_str());
    let (status, by_app_id) = tenant
        .graph(
            Method::GET,
            &format!("/applications(appId='{app_id}')"),
            &token,
            None,
        )
        .await;
    assert_eq!((status, by_app_id["id"].clone()), (200, json!(object_id)));

    // An update of the permissions keeps the key (sent back by keyId).
    let key_id = app["keyCredentials"][0]["keyId"].clone();
    let (status, _) = tenant
        .graph(
            Method::PATCH,
            &format!("/applications/{object_id}"),
            &token,
            Some(json!({
                "requiredResourceAccess": required_resource_access(),
                "keyCredentials": [{"keyId": key_id, "type": "AsymmetricX509Cert", "usage": "Verify", "key": null}],
            })),
        )
        .await;
    assert_eq!(status, 204);

    let principal = create_service_principal(&tenant, &token, &app_id).await;
    let principal_id = principal["id"].as_str().expect("principal id").to_owned();
    let (_, principals) = tenant
        .graph(
            Method::GET,
            &format!("/servicePrincipals?$filter=appId eq '{app_id}'"),
            &token,
            None,
        )
        .await;
    assert_eq!(principals["value"][0]["id"], principal_id.as_str());

    for (name, id) in SYNC_ROLES {
        let (status, assignment) =
            grant_role(&tenant, &token, &graph_principal_id, &principal_id, id).await;
        assert_eq!(status, 201, "{name}: {assignment}");
        assert_eq!(assignment["appRoleId"], *id);
        assert_eq!(assignment["principalId"], principal_id.as_str());
    }
    let (_, assigned) = tenant
        .graph(
            Method::GET,
            &format!("/servicePrincipals/{graph_principal_id}/appRoleAssignedTo"),
            &token,
            None,
        )
        .await;
    assert_eq!(
        assigned["value"].as_array().map(Vec::len),
        Some(SYNC_ROLES.len())
    );

    // Not yet replicated: Entra does not know the app in the tenant yet.
    let early = app_token(&tenant, &app_id, provisioned_key()).await;
    assert_entra_error(&early, 400, "unauthorized_client", 700016);

    tenant.emulator.state.clock.advance(past_replication());
    let answer = app_token(&tenant, &app_id, provisioned_key()).await;
    assert_eq!(answer.0, 200, "{}", answer.1);
    let expected: BTreeSet<String> = SYNC_ROLES
        .iter()
        .map(|(name, _)| name.to_string())
        .collect();
    assert_eq!(token_roles(&answer), expected);
    let claims = jwt_claims(answer.1["access_token"].as_str().expect("token"));
    assert_eq!(claims["oid"], principal_id.as_str());
}

#[tokio::test]
async fn a_new_key_and_a_new_grant_reach_the_token_endpoint_only_after_the_replication_delay() {
    let tenant = start().await;
    let token = provisioning_token(&tenant, "Global Administrator").await;
    let graph_principal_id = microsoft_graph_principal_id(&tenant, &token).await;
    let app = create_sync_app(&tenant, &token, "galsync replication").await;
    let app_id = app["appId"].as_str().expect("appId").to_owned();
    let principal = create_service_principal(&tenant, &token, &app_id).await;
    let principal_id = principal["id"].as_str().expect("id").to_owned();
    tenant.emulator.state.clock.advance(past_replication());

    // Replicated, nothing granted: a token without roles.
    let answer = app_token(&tenant, &app_id, provisioned_key()).await;
    assert_eq!(answer.0, 200, "{}", answer.1);
    assert!(token_roles(&answer).is_empty());

    let contacts = CONTACTS_READWRITE;
    let (status, _) = grant_role(
        &tenant,
        &token,
        &graph_principal_id,
        &principal_id,
        contacts,
    )
    .await;
    assert_eq!(status, 201);
    let before = app_token(&tenant, &app_id, provisioned_key()).await;
    assert!(token_roles(&before).is_empty(), "grant not replicated yet");
    tenant.emulator.state.clock.advance(past_replication());
    let after = app_token(&tenant, &app_id, provisioned_key()).await;
    assert_eq!(
        token_roles(&after),
        BTreeSet::from(["Contacts.ReadWrite".to_owned()])
    );

    // A second certificate (rollover): unknown to the token endpoint at first.
    let key_id = app["keyCredentials"][0]["keyId"].clone();
    let (status, _) = tenant
        .graph(
            Method::PATCH,
            &format!("/applications(appId='{app_id}')"),
            &token,
            Some(json!({"keyCredentials": [
                {"keyId": key_id, "key": null},
                certificate_key_credential(stranger_key()),
            ]})),
        )
        .await;
    assert_eq!(status, 204);
    let early = app_token(&tenant, &app_id, stranger_key()).await;
    assert_entra_error(&early, 401, "invalid_client", 700027);
    tenant.emulator.state.clock.advance(past_replication());
    let late = app_token(&tenant, &app_id, stranger_key()).await;
    assert_eq!(late.0, 200, "{}", late.1);
}

#[tokio::test]
async fn a_signed_in_user_without_an_admin_role_may_not_create_apps_or_grant_roles() {
    let tenant = start().await;
    let token = tenant
        .delegated_token("someone@contoso.example", PROVISIONING_SCOPES)
        .await;
    let create = create_app_named(&tenant, &token, "not allowed").await;
    assert_denied(&create);
    let graph_principal_id = microsoft_graph_principal_id(&tenant, &token).await;
    let grant = grant_to_an_unknown_principal(&tenant, &token, &graph_principal_id).await;
    assert_denied(&grant);
}

#[tokio::test]
async fn an_application_administrator_creates_the_app_but_cannot_grant_microsoft_graph_roles() {
    let tenant = start().await;
    let token = provisioning_token(&tenant, "Application Administrator").await;
    let app = create_sync_app(&tenant, &token, "galsync by app admin").await;
    let app_id = app["appId"].as_str().expect("appId");
    let principal = create_service_principal(&tenant, &token, app_id).await;
    let graph_principal_id = microsoft_graph_principal_id(&tenant, &token).await;
    let grant = grant_role(
        &tenant,
        &token,
        &graph_principal_id,
        principal["id"].as_str().expect("id"),
        CONTACTS_READWRITE,
    )
    .await;
    assert_denied(&grant);
}

#[tokio::test]
async fn a_delegated_token_without_application_readwrite_all_is_refused() {
    let tenant = start().await;
    tenant
        .set_directory_roles(ADMIN_UPN, &["Global Administrator"])
        .await;
    let token = tenant
        .delegated_token(
            ADMIN_UPN,
            "AppRoleAssignment.ReadWrite.All Directory.Read.All",
        )
        .await;
    let create = create_app_named(&tenant, &token, "no scope").await;
    assert_denied(&create);
}

#[tokio::test]
async fn an_app_only_token_with_only_contacts_readwrite_cannot_manage_applications() {
    let tenant = start().await;
    let token = tenant.emulator.state.mint_token(
        tenant.tenant_id,
        &tenant.client_id,
        &["Contacts.ReadWrite"],
    );
    assert_denied(
        &tenant
            .graph(Method::GET, "/applications", &token, None)
            .await,
    );
    assert_denied(
        &tenant
            .graph(Method::GET, "/servicePrincipals", &token, None)
            .await,
    );
    assert_denied(&create_app_named(&tenant, &token, "app-only").await);
    let graph_principal_id = {
        let reader = tenant.emulator.state.mint_token(
            tenant.tenant_id,
            &tenant.client_id,
            &["Application.Read.All"],
        );
        microsoft_graph_principal_id(&tenant, &reader).await
    };
    let grant = grant_to_an_unknown_principal(&tenant, &token, &graph_principal_id).await;
    assert_denied(&grant);
}

#[tokio::test]
async fn upsert_by_unique_name_creates_once_then_updates() {
    let tenant = start().await;
    let token = provisioning_token(&tenant, "Cloud Application Administrator").await;
    let path = "/applications(uniqueName='galsync-contoso')";
    let without_prefer = tenant
        .graph(
            Method::PATCH,
            path,
            &token,
            Some(json!({"displayName": "galsync"})),
        )
        .await;
    assert_eq!(without_prefer.0, 404, "{}", without_prefer.1);
    assert_eq!(
        without_prefer.1["error"]["code"],
        "Request_ResourceNotFound"
    );
    let created = upsert_display_name(&tenant, &token, path, "galsync").await;
    assert_eq!(created.status(), 201);
    let updated = upsert_display_name(&tenant, &token, path, "galsync renamed").await;
    assert_eq!(updated.status(), 204);
    let (status, app) = tenant.graph(Method::GET, path, &token, None).await;
    assert_eq!(
        (status, app["displayName"].clone()),
        (200, json!("galsync renamed"))
    );
    let (_, all) = tenant
        .graph(
            Method::GET,
            "/applications?$filter=uniqueName eq 'galsync-contoso'",
            &token,
            None,
        )
        .await;
    assert_eq!(all["value"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn the_replication_delay_is_set_through_the_admin_api() {
    let tenant = start().await;
    let response = tenant
        .http
        .put(format!("{}/_admin/replication-delay", tenant.base))
        .json(&json!({"seconds": 0}))
        .send()
        .await
        .expect("set delay");
    assert_eq!(response.status(), 200);
    let token = provisioning_token(&tenant, "Global Administrator").await;
    let app = create_sync_app(&tenant, &token, "galsync no delay").await;
    let app_id = app["appId"].as_str().expect("appId");
    create_service_principal(&tenant, &token, app_id).await;
    let answer = app_token(&tenant, app_id, provisioned_key()).await;
    assert_eq!(answer.0, 200, "no delay: known at once {}", answer.1);
}
