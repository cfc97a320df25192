//! `addKey` / `removeKey` over real HTTP: an app rolls its own certificate
//! with an app-only token and no Graph permission, proving possession of a
//! key it already has; every proof the pages rule out is refused with 401
//! `Authentication_MissingOrMalformed` and leaves `keyCredentials` as it was.
//! https://learn.microsoft.com/graph/api/application-addkey,
//! https://learn.microsoft.com/graph/api/application-removekey,
//! https://learn.microsoft.com/graph/application-rollkey-prooftoken

mod support;

use base64::Engine;
use chrono::Duration;
use jsonwebtoken::Algorithm;
use reqwest::Method;
use serde_json::{json, Value};
use support::identity::{
    admin_post, app_key, assert_entra_error, provisioned_key, rs256, sign_assertion, start,
    stranger_key, TestKey, TestTenant, Thumbprint, GRAPH_DEFAULT, JWT_BEARER,
};
use uuid::Uuid;

const PROOF_AUDIENCE: &str = "00000002-0000-0000-c000-000000000000";

fn object_id(tenant: &TestTenant) -> String {
    tenant
        .emulator
        .state
        .identity
        .application_object_id(&tenant.client_id)
        .expect("the app has an object id")
        .to_string()
}

/// The app's own app-only token (certificate assertion of [`app_key`]).
async fn own_token(tenant: &TestTenant) -> String {
    let (status, body) = tenant
        .client_credentials(&rs256(&tenant.assertion_claims()))
        .await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().expect("token").to_owned()
}

fn proof_claims(tenant: &TestTenant, lifetime_secs: i64) -> Value {
    let now = tenant.emulator.state.clock.unix_now();
    json!({"aud": PROOF_AUDIENCE, "iss": object_id(tenant), "nbf": now, "exp": now + lifetime_secs})
}

fn proof(key: &TestKey, claims: &Value) -> String {
    sign_assertion(key, key, Algorithm::RS256, Thumbprint::Sha1UrlSafe, claims)
}

fn add_key_body(new_key: &TestKey, proof: &str) -> Value {
    json!({
        "keyCredential": {
            "type": "AsymmetricX509Cert",
            "usage": "Verify",
            "key": base64::engine::general_purpose::STANDARD.encode(&new_key.certificate_der),
        },
        "passwordCredential": null,
        "proof": proof,
    })
}

fn thumbprints(tenant: &TestTenant) -> Vec<String> {
    let apps = tenant
        .emulator
        .state
        .identity
        .apps_in_tenant(tenant.tenant_id);
    let app = apps
        .iter()
        .find(|app| app.client_id == tenant.client_id)
        .expect("the app");
    app.certificates
        .iter()
        .map(|certificate| certificate.thumbprint_sha1.clone())
        .collect()
}

async fn token_with(tenant: &TestTenant, key: &TestKey) -> (u16, Value) {
    let assertion = sign_assertion(
        key,
        key,
        Algorithm::RS256,
        Thumbprint::Sha1UrlSafe,
        &tenant.assertion_claims(),
    );
    let tenant_id = tenant.tenant_id.to_string();
    tenant
        .token_request(
            &tenant_id,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &tenant.client_id),
                ("scope", GRAPH_DEFAULT),
                ("client_assertion_type", JWT_BEARER),
                ("client_assertion", &assertion),
            ],
        )
        .await
}

fn assert_proof_refused(answer: &(u16, Value), case: &str) {
    let (status, body) = answer;
    assert_eq!(*status, 401, "{case}: {body}");
    assert_eq!(
        body["error"]["code"], "Authentication_MissingOrMalformed",
        "{case}: {body}"
    );
}

#[tokio::test]
async fn an_app_rolls_its_own_certificate_without_any_graph_permission() {
    let tenant = start().await;
    tenant.consent_all().await;
    let token = own_token(&tenant).await;
    let object_id = object_id(&tenant);

    let body = add_key_body(
        provisioned_key(),
        &proof(app_key(), &proof_claims(&tenant, 600)),
    );
    let (status, added) = tenant
        .graph(
            Method::POST,
            &format!("/applications/{object_id}/addKey"),
            &token,
            Some(body),
        )
        .await;
    assert_eq!(status, 200, "{added}");
    assert_eq!(added["type"], "AsymmetricX509Cert", "{added}");
    assert!(added["key"].is_null(), "the key is never returned: {added}");
    let new_key_id = added["keyId"].as_str().expect("keyId").to_owned();
    assert_eq!(
        thumbprints(&tenant),
        vec![app_key().sha1_hex(), provisioned_key().sha1_hex()]
    );

    // Like any Graph write, the new key reaches the token endpoint after replication.
    tenant.emulator.state.clock.advance(Duration::seconds(6));
    let (status, body) = token_with(&tenant, provisioned_key()).await;
    assert_eq!(status, 200, "the new certificate signs in: {body}");

    // The old key goes, proven with the new one; the old one no longer signs in.
    let old_key_id = tenant
        .emulator
        .state
        .identity
        .apps_in_tenant(tenant.tenant_id)[0]
        .certificates
        .iter()
        .find(|certificate| certificate.thumbprint_sha1 == app_key().sha1_hex())
        .expect("old key")
        .key_id;
    let removal = json!({"keyId": old_key_id, "proof": proof(provisioned_key(), &proof_claims(&tenant, 600))});
    let (status, body) = tenant
        .graph(
            Method::POST,
            &format!("/applications/{object_id}/removeKey"),
            &token,
            Some(removal),
        )
        .await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(thumbprints(&tenant), vec![provisioned_key().sha1_hex()]);
    assert_ne!(old_key_id.to_string(), new_key_id);
    let refused = token_with(&tenant, app_key()).await;
    assert_entra_error(&refused, 401, "invalid_client", 700027);
}

#[tokio::test]
async fn add_key_by_app_id_works_too() {
    let tenant = start().await;
    tenant.consent_all().await;
    let token = own_token(&tenant).await;
    let body = add_key_body(
        provisioned_key(),
        &proof(app_key(), &proof_claims(&tenant, 600)),
    );
    let (status, added) = tenant
        .graph(
            Method::POST,
            &format!("/applications(appId='{}')/addKey", tenant.client_id),
            &token,
            Some(body),
        )
        .await;
    assert_eq!(status, 200, "{added}");
    assert_eq!(thumbprints(&tenant).len(), 2);
}

#[tokio::test]
async fn proofs_the_pages_rule_out_are_refused_and_change_nothing() {
    let tenant = start().await;
    tenant.consent_all().await;
    let token = own_token(&tenant).await;
    let object_id = object_id(&tenant);
    let url = format!("/applications/{object_id}/addKey");
    let now = tenant.emulator.state.clock.unix_now();
    let mut wrong_audience = proof_claims(&tenant, 600);
    wrong_audience["aud"] = json!("https://graph.microsoft.com");
    let mut app_id_as_issuer = proof_claims(&tenant, 600);
    app_id_as_issuer["iss"] = json!(tenant.client_id);
    let expired =
        json!({"aud": PROOF_AUDIENCE, "iss": object_id, "nbf": now - 900, "exp": now - 300});
    let mut no_nbf = proof_claims(&tenant, 600);
    no_nbf.as_object_mut().expect("claims").remove("nbf");
    let valid = proof(app_key(), &proof_claims(&tenant, 600));
    let mut segments: Vec<String> = valid.split('.').map(str::to_owned).collect();
    segments[1].push('=');
    let padded = segments.join(".");
    let forged = sign_assertion(
        stranger_key(),
        app_key(),
        Algorithm::RS256,
        Thumbprint::Sha1UrlSafe,
        &proof_claims(&tenant, 600),
    );
    let cases: Vec<(&str, String)> = vec![
        (
            "signed by a key not on the app",
            proof(stranger_key(), &proof_claims(&tenant, 600)),
        ),
        ("names the app's certificate, signed by another key", forged),
        ("wrong aud", proof(app_key(), &wrong_audience)),
        (
            "iss is the appId, not the object id",
            proof(app_key(), &app_id_as_issuer),
        ),
        (
            "lifetime of 11 minutes",
            proof(app_key(), &proof_claims(&tenant, 660)),
        ),
        ("expired", proof(app_key(), &expired)),
        ("no nbf", proof(app_key(), &no_nbf)),
        ("padded payload", padded),
        ("not a jwt", "not-a-jwt".to_owned()),
    ];
    for (case, bad_proof) in cases {
        let answer = tenant
            .graph(
                Method::POST,
                &url,
                &token,
                Some(add_key_body(provisioned_key(), &bad_proof)),
            )
            .await;
        assert_proof_refused(&answer, case);
        assert_eq!(thumbprints(&tenant), vec![app_key().sha1_hex()], "{case}");
    }
    let (status, body) = tenant
        .graph(
            Method::POST,
            &url,
            &token,
            Some(json!({"keyCredential": null, "proof": valid})),
        )
        .await;
    assert_eq!(status, 400, "keyCredential is required: {body}");
    let removal = json!({"keyId": Uuid::new_v4(), "proof": proof(stranger_key(), &proof_claims(&tenant, 600))});
    let answer = tenant
        .graph(
            Method::POST,
            &format!("/applications/{object_id}/removeKey"),
            &token,
            Some(removal),
        )
        .await;
    assert_proof_refused(&answer, "removeKey signed by a key not on the app");
}

#[tokio::test]
async fn an_app_without_a_valid_certificate_cannot_use_add_key() {
    let tenant = start().await;
    let other = admin_post(
        &tenant.http,
        &format!("{}/_admin/tenants/{}/apps", tenant.base, tenant.tenant_id),
        json!({"display_name": "secret only", "requested_roles": ["User.Read.All"]}),
    )
    .await;
    let other_client_id = other["client_id"].as_str().expect("client id").to_owned();
    let app_url = format!(
        "{}/_admin/tenants/{}/apps/{other_client_id}",
        tenant.base, tenant.tenant_id
    );
    admin_post(&tenant.http, &format!("{app_url}/consent"), json!({})).await;
    let secret = admin_post(&tenant.http, &format!("{app_url}/secrets"), json!({})).await;
    let tenant_id = tenant.tenant_id.to_string();
    let (status, body) = tenant
        .token_request(
            &tenant_id,
            &[
                ("grant_type", "client_credentials"),
                ("client_id", &other_client_id),
                ("scope", GRAPH_DEFAULT),
                (
                    "client_secret",
                    secret["secret_text"].as_str().expect("secret"),
                ),
            ],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let token = body["access_token"].as_str().expect("token");
    let other_object_id = tenant
        .emulator
        .state
        .identity
        .application_object_id(&other_client_id)
        .expect("object id");
    let now = tenant.emulator.state.clock.unix_now();
    let claims =
        json!({"aud": PROOF_AUDIENCE, "iss": other_object_id, "nbf": now, "exp": now + 600});
    let answer = tenant
        .graph(
            Method::POST,
            &format!("/applications/{other_object_id}/addKey"),
            token,
            Some(add_key_body(
                provisioned_key(),
                &proof(provisioned_key(), &claims),
            )),
        )
        .await;
    assert_proof_refused(&answer, "no existing valid certificate");

    // Nor may it roll another app's key: that needs Application.ReadWrite.*.
    let first_object_id = object_id(&tenant);
    let answer = tenant
        .graph(
            Method::POST,
            &format!("/applications/{first_object_id}/addKey"),
            token,
            Some(add_key_body(
                provisioned_key(),
                &proof(app_key(), &proof_claims(&tenant, 600)),
            )),
        )
        .await;
    assert_eq!(answer.0, 403, "{}", answer.1);
    assert_eq!(answer.1["error"]["code"], "Authorization_RequestDenied");
    assert_eq!(thumbprints(&tenant), vec![app_key().sha1_hex()]);
}
