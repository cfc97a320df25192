//! The emulated identity platform over real HTTP: client credentials with
//! certificate assertions, every rejection a client can meet, and the claims
//! of issued tokens. Secrets: identity_secrets.rs; consent and discovery:
//! identity_consent.rs; device code, refresh tokens and MSAL:
//! identity_delegated.rs.

mod support;

use chrono::Duration;
use jsonwebtoken::Algorithm;
use serde_json::{json, Value};
use support::identity::{
    app_key, assert_entra_error, jwt_claims, rs256, sign_assertion, start, stranger_key,
    Thumbprint, DOMAIN, GRAPH_DEFAULT, JWT_BEARER,
};

#[tokio::test]
async fn rs256_assertion_with_x5t_in_both_base64_flavours_gets_a_token_with_consented_roles() {
    let tenant = start().await;
    tenant.consent_all().await;
    for flavour in [Thumbprint::Sha1UrlSafe, Thumbprint::Sha1Standard] {
        let assertion = sign_assertion(
            app_key(),
            app_key(),
            Algorithm::RS256,
            flavour,
            &tenant.assertion_claims(),
        );
        let (status, body) = tenant.client_credentials(&assertion).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["token_type"], "Bearer");
        let expires_in = body["expires_in"].as_i64().expect("expires_in");
        assert!((3600..=5400).contains(&expires_in), "lifetime {expires_in}");
        assert_eq!(body["ext_expires_in"], body["expires_in"]);
        let claims = jwt_claims(body["access_token"].as_str().expect("access_token"));
        assert_eq!(claims["tid"], tenant.tenant_id.to_string());
        assert_eq!(claims["appid"], tenant.client_id);
        assert_eq!(claims["idtyp"], "app");
        assert_eq!(
            claims["roles"],
            json!(["Contacts.ReadWrite", "Group.Read.All", "User.Read.All"])
        );
    }
}

#[tokio::test]
async fn ps256_assertion_with_x5t_s256_is_accepted_and_the_domain_names_the_tenant() {
    let tenant = start().await;
    let assertion = sign_assertion(
        app_key(),
        app_key(),
        Algorithm::PS256,
        Thumbprint::Sha256,
        &tenant.assertion_claims(),
    );
    let answer = tenant
        .token_request(
            DOMAIN,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &tenant.client_id),
                ("scope", GRAPH_DEFAULT),
                ("client_assertion_type", JWT_BEARER),
                ("client_assertion", &assertion),
            ],
        )
        .await;
    assert_eq!(answer.0, 200, "{}", answer.1);
    let claims = jwt_claims(answer.1["access_token"].as_str().expect("access_token"));
    assert_eq!(claims["tid"], tenant.tenant_id.to_string());
}

#[tokio::test]
async fn token_before_consent_has_no_roles_and_revoked_roles_disappear() {
    let tenant = start().await;
    let (status, body) = tenant
        .client_credentials(&rs256(&tenant.assertion_claims()))
        .await;
    assert_eq!(status, 200, "{body}");
    let claims = jwt_claims(body["access_token"].as_str().expect("access_token"));
    assert!(
        claims.get("roles").is_none(),
        "no consent, no roles: {claims}"
    );

    tenant.consent_all().await;
    let revoked = tenant
        .http
        .delete(tenant.app_admin_url("/consent/roles/Contacts.ReadWrite"))
        .send()
        .await
        .expect("revoke role");
    assert_eq!(revoked.status(), 200);
    let (status, body) = tenant
        .client_credentials(&rs256(&tenant.assertion_claims()))
        .await;
    assert_eq!(status, 200, "{body}");
    let claims = jwt_claims(body["access_token"].as_str().expect("access_token"));
    assert_eq!(claims["roles"], json!(["Group.Read.All", "User.Read.All"]));
}

#[tokio::test]
async fn assertion_signed_with_another_key_is_rejected_with_700027() {
    let tenant = start().await;
    // Names the registered certificate but is signed by a different key.
    let forged = sign_assertion(
        stranger_key(),
        app_key(),
        Algorithm::RS256,
        Thumbprint::Sha1UrlSafe,
        &tenant.assertion_claims(),
    );
    assert_entra_error(
        &tenant.client_credentials(&forged).await,
        401,
        "invalid_client",
        700027,
    );
    // Names a certificate the app never registered.
    let unregistered = sign_assertion(
        stranger_key(),
        stranger_key(),
        Algorithm::RS256,
        Thumbprint::Sha1UrlSafe,
        &tenant.assertion_claims(),
    );
    let answer = tenant.client_credentials(&unregistered).await;
    assert_entra_error(&answer, 401, "invalid_client", 700027);
    let description = answer.1["error_description"].as_str().unwrap_or_default();
    assert!(
        description.contains(&stranger_key().sha1_hex()),
        "{description}"
    );
}

#[tokio::test]
async fn assertion_outside_its_time_range_is_rejected_with_700024() {
    let tenant = start().await;
    let now = tenant.emulator.state.clock.unix_now();
    let mut expired = tenant.assertion_claims();
    expired["nbf"] = json!(now - 1200);
    expired["exp"] = json!(now - 600);
    assert_entra_error(
        &tenant.client_credentials(&rs256(&expired)).await,
        400,
        "invalid_client",
        700024,
    );

    let mut future = tenant.assertion_claims();
    future["nbf"] = json!(now + 900);
    future["exp"] = json!(now + 1500);
    assert_entra_error(
        &tenant.client_credentials(&rs256(&future)).await,
        400,
        "invalid_client",
        700024,
    );

    // Within the five minutes of skew is fine.
    let mut skewed = tenant.assertion_claims();
    skewed["exp"] = json!(now - 120);
    skewed["nbf"] = json!(now - 600);
    assert_eq!(tenant.client_credentials(&rs256(&skewed)).await.0, 200);

    // A valid assertion expires when the emulator clock moves past it.
    let fresh = rs256(&tenant.assertion_claims());
    tenant.emulator.state.clock.advance(Duration::minutes(20));
    assert_entra_error(
        &tenant.client_credentials(&fresh).await,
        400,
        "invalid_client",
        700024,
    );
}

#[tokio::test]
async fn replayed_assertion_is_rejected() {
    let tenant = start().await;
    let assertion = rs256(&tenant.assertion_claims());
    assert_eq!(tenant.client_credentials(&assertion).await.0, 200);
    assert_entra_error(
        &tenant.client_credentials(&assertion).await,
        401,
        "invalid_client",
        50013,
    );
}

#[tokio::test]
async fn assertion_claims_must_name_the_app_and_the_token_url() {
    let tenant = start().await;
    let mut wrong_audience = tenant.assertion_claims();
    wrong_audience["aud"] = json!("https://login.microsoftonline.com/common/oauth2/v2.0/token");
    assert_entra_error(
        &tenant.client_credentials(&rs256(&wrong_audience)).await,
        401,
        "invalid_client",
        700023,
    );
    let mut emulator_audience = tenant.assertion_claims();
    emulator_audience["aud"] = json!(tenant.token_url());
    assert_eq!(
        tenant
            .client_credentials(&rs256(&emulator_audience))
            .await
            .0,
        200
    );

    let mut wrong_issuer = tenant.assertion_claims();
    wrong_issuer["iss"] = json!(uuid::Uuid::new_v4().to_string());
    assert_entra_error(
        &tenant.client_credentials(&rs256(&wrong_issuer)).await,
        401,
        "invalid_client",
        700021,
    );
}

#[tokio::test]
async fn unknown_tenant_and_unknown_app_are_rejected() {
    let tenant = start().await;
    let assertion = rs256(&tenant.assertion_claims());
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", tenant.client_id.as_str()),
        ("scope", GRAPH_DEFAULT),
        ("client_assertion_type", JWT_BEARER),
        ("client_assertion", assertion.as_str()),
    ];
    let unknown_tenant = uuid::Uuid::new_v4().to_string();
    assert_entra_error(
        &tenant.token_request(&unknown_tenant, &form).await,
        400,
        "invalid_request",
        90002,
    );
    assert_entra_error(
        &tenant.token_request("fabrikam.example", &form).await,
        400,
        "invalid_request",
        90002,
    );

    let unknown_app = uuid::Uuid::new_v4().to_string();
    let mut form_of_stranger = form;
    form_of_stranger[1] = ("client_id", unknown_app.as_str());
    let tenant_id = tenant.tenant_id.to_string();
    assert_entra_error(
        &tenant.token_request(&tenant_id, &form_of_stranger).await,
        400,
        "unauthorized_client",
        700016,
    );
}

#[tokio::test]
async fn bad_scope_and_missing_parameters_are_rejected() {
    let tenant = start().await;
    let tenant_id = tenant.tenant_id.to_string();
    for scope in [
        "https://graph.microsoft.com/User.Read.All",
        "https://outlook.office.com/.default",
    ] {
        let assertion = rs256(&tenant.assertion_claims());
        let answer = tenant
            .token_request(
                &tenant_id,
                &[
                    ("grant_type", "client_credentials"),
                    ("client_id", &tenant.client_id),
                    ("scope", scope),
                    ("client_assertion_type", JWT_BEARER),
                    ("client_assertion", &assertion),
                ],
            )
            .await;
        assert_entra_error(&answer, 400, "invalid_scope", 70011);
    }
    let no_grant = tenant
        .token_request(&tenant_id, &[("client_id", &tenant.client_id)])
        .await;
    assert_entra_error(&no_grant, 400, "invalid_request", 900144);
    let no_credential = tenant
        .token_request(
            &tenant_id,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &tenant.client_id),
                ("scope", GRAPH_DEFAULT),
            ],
        )
        .await;
    assert_entra_error(&no_credential, 401, "invalid_client", 7000218);
    let with_get = tenant
        .http
        .get(tenant.token_url())
        .send()
        .await
        .expect("get");
    assert_eq!(with_get.status(), 400);
    let body: Value = with_get.json().await.expect("json");
    assert_eq!(body["error_codes"], json!([900561]));
}

#[tokio::test]
async fn certificates_upload_as_a_der_cer_file_or_base64_and_can_be_removed() {
    use base64::Engine;
    let tenant = start().await;
    let uploaded = tenant
        .http
        .post(tenant.app_admin_url("/certificates"))
        .body(stranger_key().certificate_der.clone())
        .send()
        .await
        .expect("upload der");
    assert_eq!(uploaded.status(), 201);
    let view: Value = uploaded.json().await.expect("json");
    assert_eq!(view["thumbprint_sha1"], stranger_key().sha1_hex());
    let stranger_assertion = sign_assertion(
        stranger_key(),
        stranger_key(),
        Algorithm::RS256,
        Thumbprint::Sha1UrlSafe,
        &tenant.assertion_claims(),
    );
    assert_eq!(tenant.client_credentials(&stranger_assertion).await.0, 200);

    let duplicate = tenant
        .http
        .post(tenant.app_admin_url("/certificates"))
        .json(&json!({"certificate": base64::engine::general_purpose::STANDARD.encode(&stranger_key().certificate_der)}))
        .send()
        .await
        .expect("upload base64");
    assert_eq!(duplicate.status(), 400, "the same certificate twice");

    let removed = tenant
        .http
        .delete(tenant.app_admin_url(&format!("/certificates/{}", stranger_key().sha1_hex())))
        .send()
        .await
        .expect("remove");
    assert_eq!(removed.status(), 200);
    let again = sign_assertion(
        stranger_key(),
        stranger_key(),
        Algorithm::RS256,
        Thumbprint::Sha1UrlSafe,
        &tenant.assertion_claims(),
    );
    assert_entra_error(
        &tenant.client_credentials(&again).await,
        401,
        "invalid_client",
        700027,
    );
}
