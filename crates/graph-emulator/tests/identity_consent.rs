//! Consent and discovery over real HTTP: the admin-consent redirect both
//! ways, the Exchange application scope, the OpenID configuration, and the
//! JWKS that verifies issued tokens.

mod support;

use std::collections::HashMap;

use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{json, Value};
use support::identity::{admin_post, jwt_claims, rs256, start, DOMAIN, REDIRECT_URI};

/// The `Location` of a redirect and its query parameters.
fn redirect_target(response: &reqwest::Response) -> (String, HashMap<String, String>) {
    let location = response.headers()["location"]
        .to_str()
        .expect("location header");
    let parsed = url::Url::parse(location).expect("absolute url");
    let query = parsed.query_pairs().into_owned().collect();
    (location.to_owned(), query)
}

#[tokio::test]
async fn issued_token_verifies_with_the_published_jwks() {
    let tenant = start().await;
    tenant.consent_all().await;
    let (_, body) = tenant
        .client_credentials(&rs256(&tenant.assertion_claims()))
        .await;
    let access_token = body["access_token"].as_str().expect("access_token");
    for path in [
        format!("/{}/discovery/v2.0/keys", tenant.tenant_id),
        "/common/discovery/v2.0/keys".to_owned(),
    ] {
        let jwks = tenant.jwks(&path).await;
        let header = jsonwebtoken::decode_header(access_token).expect("header");
        let key = jwks["keys"]
            .as_array()
            .and_then(|keys| {
                keys.iter()
                    .find(|key| key["kid"].as_str() == header.kid.as_deref())
            })
            .expect("signing key published");
        let decoding_key = DecodingKey::from_rsa_components(
            key["n"].as_str().expect("n"),
            key["e"].as_str().expect("e"),
        )
        .expect("rsa jwk");
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_audience(&["https://graph.microsoft.com"]);
        let verified = jsonwebtoken::decode::<Value>(access_token, &decoding_key, &validation)
            .expect("token verifies with the jwks");
        assert_eq!(verified.claims["appid"], tenant.client_id);
    }
}

#[tokio::test]
async fn openid_configuration_points_at_the_emulator() {
    let tenant = start().await;
    let document: Value = tenant
        .http
        .get(format!(
            "{}/{DOMAIN}/v2.0/.well-known/openid-configuration",
            tenant.base
        ))
        .send()
        .await
        .expect("discovery")
        .json()
        .await
        .expect("json");
    assert_eq!(document["token_endpoint"], tenant.token_url());
    assert_eq!(
        document["device_authorization_endpoint"],
        format!(
            "{}/{}/oauth2/v2.0/devicecode",
            tenant.base, tenant.tenant_id
        )
    );
    let unknown = tenant
        .http
        .get(format!(
            "{}/nowhere.example/v2.0/.well-known/openid-configuration",
            tenant.base
        ))
        .send()
        .await
        .expect("discovery");
    assert_eq!(unknown.status(), 400);
}

#[tokio::test]
async fn admin_consent_redirects_with_the_admins_decision() {
    let tenant = start().await;
    let consent_url = format!(
        "{}/{}/adminconsent?client_id={}&redirect_uri={REDIRECT_URI}&state=xyz%201",
        tenant.base, tenant.tenant_id, tenant.client_id
    );
    // No decision yet: the consent page waits for the admin.
    let waiting = tenant.http.get(&consent_url).send().await.expect("visit");
    assert_eq!(waiting.status(), 200);

    admin_post(
        &tenant.http,
        &tenant.app_admin_url("/consent-decision"),
        json!({"decision": "decline"}),
    )
    .await;
    let declined = tenant.http.get(&consent_url).send().await.expect("visit");
    assert_eq!(declined.status(), 302);
    let (_, declined_query) = redirect_target(&declined);
    assert_eq!(declined_query["admin_consent"], "True");
    assert_eq!(declined_query["error"], "access_denied");
    assert_eq!(declined_query["state"], "xyz 1");
    assert!(declined_query["error_description"].starts_with("AADSTS65004"));
    let (status, body_after_decline) = tenant
        .client_credentials(&rs256(&tenant.assertion_claims()))
        .await;
    assert_eq!(status, 200);
    assert!(jwt_claims(
        body_after_decline["access_token"]
            .as_str()
            .unwrap_or_default()
    )
    .get("roles")
    .is_none());

    admin_post(
        &tenant.http,
        &tenant.app_admin_url("/consent-decision"),
        json!({"decision": "approve"}),
    )
    .await;
    let approved = tenant.http.get(&consent_url).send().await.expect("visit");
    assert_eq!(approved.status(), 302);
    let (approved_location, approved_query) = redirect_target(&approved);
    assert!(approved_location.starts_with(REDIRECT_URI));
    assert_eq!(approved_query["admin_consent"], "True");
    assert_eq!(approved_query["tenant"], tenant.tenant_id.to_string());
    assert_eq!(approved_query["state"], "xyz 1");
    let (_, body) = tenant
        .client_credentials(&rs256(&tenant.assertion_claims()))
        .await;
    let claims = jwt_claims(body["access_token"].as_str().unwrap_or_default());
    assert_eq!(
        claims["roles"],
        json!(["Contacts.ReadWrite", "Group.Read.All", "User.Read.All"])
    );

    let unregistered = format!(
        "{}/{}/adminconsent?client_id={}&redirect_uri=https://evil.example/cb",
        tenant.base, tenant.tenant_id, tenant.client_id
    );
    let refused = tenant.http.get(&unregistered).send().await.expect("visit");
    assert_eq!(
        refused.status(),
        400,
        "unregistered redirect uris get an error page"
    );
}

#[tokio::test]
async fn exchange_scope_limits_the_mailboxes_an_app_may_reach() {
    let tenant = start().await;
    let identity = &tenant.emulator.state.identity;
    assert!(identity.mailbox_in_app_scope(tenant.tenant_id, &tenant.client_id, "user-a"));
    let updated = tenant
        .http
        .put(tenant.app_admin_url("/exchange-scope"))
        .json(&json!({"user_ids": ["USER-A"]}))
        .send()
        .await
        .expect("set scope");
    assert_eq!(updated.status(), 200);
    assert!(identity.mailbox_in_app_scope(tenant.tenant_id, &tenant.client_id, "user-a"));
    assert!(!identity.mailbox_in_app_scope(tenant.tenant_id, &tenant.client_id, "user-b"));
}

#[tokio::test]
async fn msp_admin_consent_on_organizations_installs_a_multi_tenant_app_in_the_admins_tenant() {
    let tenant = start().await;
    let base = &tenant.base;
    let app = admin_post(
        &tenant.http,
        &format!("{base}/_admin/tenants/{DOMAIN}/apps"),
        json!({
            "display_name": "galsync for MSPs",
            "requested_roles": ["User.Read.All"],
            "redirect_uris": [REDIRECT_URI],
            "multi_tenant": true,
        }),
    )
    .await;
    let client_id = app["client_id"].as_str().expect("client id").to_owned();
    let secret_text = tenant.add_client_secret(DOMAIN, &client_id).await;
    let customer_id = tenant.add_customer_tenant("fabrikam.example").await;
    let form = [
        ("grant_type", "client_credentials"),
        ("client_id", client_id.as_str()),
        ("scope", "https://graph.microsoft.com/.default"),
        ("client_secret", secret_text.as_str()),
    ];
    // Not installed in the customer's tenant yet.
    let before = tenant.token_request(&customer_id, &form).await;
    assert_eq!(before.1["error_codes"], json!([700016]), "{}", before.1);

    admin_post(
        &tenant.http,
        &format!("{base}/_admin/tenants/{customer_id}/apps/{client_id}/consent-decision"),
        json!({"decision": "approve"}),
    )
    .await;
    let still_not_installed = tenant.token_request(&customer_id, &form).await;
    assert_eq!(still_not_installed.1["error_codes"], json!([700016]));
    let visit = tenant
        .http
        .get(format!(
            "{base}/organizations/adminconsent?client_id={client_id}&redirect_uri={REDIRECT_URI}&state=s"
        ))
        .send()
        .await
        .expect("visit");
    assert_eq!(visit.status(), 302);
    let (_, query) = redirect_target(&visit);
    assert_eq!(query["tenant"], customer_id);

    let (status, body) = tenant.token_request(&customer_id, &form).await;
    assert_eq!(status, 200, "{body}");
    let claims = jwt_claims(body["access_token"].as_str().expect("access_token"));
    assert_eq!(claims["tid"], customer_id);
    assert_eq!(claims["roles"], json!(["User.Read.All"]));
}
