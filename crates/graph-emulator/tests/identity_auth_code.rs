//! The authorization code flow with PKCE over real HTTP: `/authorize`
//! (PKCE S256 only, registered redirect URIs, `openid` and `nonce`
//! required, the browser's user set by the admin API) and
//! `grant_type=authorization_code` (verifier, single use, expiry, same
//! client and redirect URI), with an ID token carrying nonce and groups.

mod support;

use chrono::Duration;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{json, Value};
use support::identity::{
    admin_post, assert_entra_error, jwt_claims, pkce_pair, query_value, start, TestTenant,
    REDIRECT_URI,
};

const ADA: &str = "ada@contoso.example";

async fn redeem(
    tenant: &TestTenant,
    secret: &str,
    code: &str,
    verifier: Option<&str>,
    redirect_uri: &str,
) -> (u16, Value) {
    let tenant_id = tenant.tenant_id.to_string();
    let mut form = vec![
        ("grant_type", "authorization_code"),
        ("client_id", tenant.client_id.as_str()),
        ("client_secret", secret),
        ("code", code),
        ("redirect_uri", redirect_uri),
    ];
    if let Some(verifier) = verifier {
        form.push(("code_verifier", verifier));
    }
    tenant.token_request(&tenant_id, &form).await
}

/// Turns the admin switch that signs ID tokens with a key the JWKS does not
/// publish on or off, then redeems a new code of the signed-in browser user.
async fn sign_in_with_unpublished_key(
    tenant: &TestTenant,
    secret: &str,
    enabled: bool,
) -> (u16, Value) {
    admin_post(
        &tenant.http,
        &format!("{}/_admin/id-tokens/unpublished-key", tenant.base),
        json!({"enabled": enabled}),
    )
    .await;
    let (code, verifier) = tenant.authorization_code("n").await;
    redeem(tenant, secret, &code, Some(&verifier), REDIRECT_URI).await
}

async fn ready() -> (TestTenant, String) {
    let tenant = start().await;
    tenant.consent_all().await;
    let secret = tenant.add_secret().await;
    (tenant, secret)
}

#[tokio::test]
async fn code_with_pkce_yields_an_id_token_signed_by_the_jwks_key_with_nonce_and_groups() {
    let (tenant, secret) = ready().await;
    let (user_id, group_id) = tenant.user_in_new_group("Ada Lovelace", ADA, "Console admins");
    tenant.browser_sign_in(ADA).await;
    let (code, verifier) = tenant.authorization_code("n-123").await;
    let answer = redeem(&tenant, &secret, &code, Some(&verifier), REDIRECT_URI).await;
    assert_eq!(answer.0, 200, "{}", answer.1);
    let id_token = answer.1["id_token"].as_str().expect("id_token");

    // Verified with the key the emulator's JWKS publishes under its kid.
    let header = jsonwebtoken::decode_header(id_token).expect("header");
    assert_eq!(header.alg, Algorithm::RS256);
    let jwks = tenant
        .jwks(&format!("/{}/discovery/v2.0/keys", tenant.tenant_id))
        .await;
    let key = jwks["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .find(|key| key["kid"].as_str() == header.kid.as_deref())
        .expect("kid in JWKS");
    let decoding = DecodingKey::from_rsa_components(
        key["n"].as_str().expect("n"),
        key["e"].as_str().expect("e"),
    )
    .expect("decoding key");
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[tenant.client_id.as_str()]);
    validation.set_issuer(&[format!("{}/{}/v2.0", tenant.base, tenant.tenant_id)]);
    let claims = jsonwebtoken::decode::<Value>(id_token, &decoding, &validation)
        .expect("valid id token")
        .claims;
    assert_eq!(claims["nonce"], "n-123");
    assert_eq!(claims["tid"], tenant.tenant_id.to_string());
    assert_eq!(claims["oid"], user_id);
    assert_eq!(claims["preferred_username"], ADA);
    assert_eq!(claims["name"], "Ada Lovelace");
    assert_eq!(claims["groups"], json!([group_id.to_string()]));
    assert!(claims["nbf"].as_i64() <= claims["iat"].as_i64());
    assert!(claims["exp"].as_i64() > claims["iat"].as_i64());
    assert!(answer.1["scope"]
        .as_str()
        .expect("scope")
        .split(' ')
        .any(|scope| scope == "openid"));
    // The access token is the user's delegated token for Graph.
    assert_eq!(
        jwt_claims(answer.1["access_token"].as_str().expect("at"))["upn"],
        ADA
    );
}

#[tokio::test]
async fn a_code_works_once_for_its_client_redirect_uri_and_verifier_and_expires() {
    let (tenant, secret) = ready().await;
    tenant.user_in_new_group("Ada Lovelace", ADA, "Console admins");
    tenant.browser_sign_in(ADA).await;

    let (code, verifier) = tenant.authorization_code("n").await;
    let (other_verifier, _) = pkce_pair();
    let wrong = redeem(&tenant, &secret, &code, Some(&other_verifier), REDIRECT_URI).await;
    assert_entra_error(&wrong, 400, "invalid_grant", 50148);
    // A failed redemption spends the code too.
    let after = redeem(&tenant, &secret, &code, Some(&verifier), REDIRECT_URI).await;
    assert_entra_error(&after, 400, "invalid_grant", 54005);

    let (code, _) = tenant.authorization_code("n").await;
    let missing = redeem(&tenant, &secret, &code, None, REDIRECT_URI).await;
    assert_entra_error(&missing, 400, "invalid_request", 900144);

    let (code, verifier) = tenant.authorization_code("n").await;
    let elsewhere = redeem(
        &tenant,
        &secret,
        &code,
        Some(&verifier),
        "http://127.0.0.1:50061/other",
    )
    .await;
    assert_entra_error(&elsewhere, 400, "invalid_grant", 70000);

    let (code, verifier) = tenant.authorization_code("n").await;
    let first = redeem(&tenant, &secret, &code, Some(&verifier), REDIRECT_URI).await;
    assert_eq!(first.0, 200, "{}", first.1);
    let replay = redeem(&tenant, &secret, &code, Some(&verifier), REDIRECT_URI).await;
    assert_entra_error(&replay, 400, "invalid_grant", 54005);

    let (code, verifier) = tenant.authorization_code("n").await;
    tenant.emulator.state.clock.advance(Duration::seconds(601));
    let late = redeem(&tenant, &secret, &code, Some(&verifier), REDIRECT_URI).await;
    assert_entra_error(&late, 400, "invalid_grant", 70008);

    let (code, verifier) = tenant.authorization_code("n").await;
    let no_secret = tenant
        .token_request(
            &tenant.tenant_id.to_string(),
            &[
                ("grant_type", "authorization_code"),
                ("client_id", tenant.client_id.as_str()),
                ("code", code.as_str()),
                ("redirect_uri", REDIRECT_URI),
                ("code_verifier", verifier.as_str()),
            ],
        )
        .await;
    assert_eq!(no_secret.0, 401, "{}", no_secret.1);
}

#[tokio::test]
async fn authorize_refuses_missing_or_plain_pkce_unregistered_redirects_and_requests_without_openid_or_nonce(
) {
    let (tenant, _secret) = ready().await;
    tenant.user_in_new_group("Ada Lovelace", ADA, "Console admins");
    tenant.browser_sign_in(ADA).await;
    let (_, challenge) = pkce_pair();
    let client_id = tenant.client_id.clone();
    let base = [
        ("client_id", client_id.as_str()),
        ("response_type", "code"),
        ("redirect_uri", REDIRECT_URI),
        ("scope", "openid"),
        ("state", "st"),
        ("nonce", "n"),
    ];
    let with = |extra: &[(&'static str, &'static str)]| {
        let mut parameters: Vec<(&str, String)> = base
            .iter()
            .map(|(key, value)| (*key, (*value).to_owned()))
            .collect();
        for (key, value) in extra {
            parameters.retain(|(existing, _)| existing != key);
            if !value.is_empty() {
                parameters.push((key, (*value).to_owned()));
            }
        }
        parameters
    };
    let challenge: &'static str = Box::leak(challenge.into_boxed_str());
    let cases: Vec<(Vec<(&str, String)>, &str)> = vec![
        (with(&[]), "AADSTS9002325"),
        (
            with(&[
                ("code_challenge", challenge),
                ("code_challenge_method", "plain"),
            ]),
            "AADSTS501481",
        ),
        (with(&[("code_challenge", challenge)]), "AADSTS501481"),
        (
            with(&[
                ("code_challenge", challenge),
                ("code_challenge_method", "S256"),
                ("scope", "profile"),
            ]),
            "AADSTS70011",
        ),
        (
            with(&[
                ("code_challenge", challenge),
                ("code_challenge_method", "S256"),
                ("nonce", ""),
            ]),
            "AADSTS900144",
        ),
        (
            with(&[
                ("code_challenge", challenge),
                ("code_challenge_method", "S256"),
                ("response_type", "token"),
            ]),
            "AADSTS700054",
        ),
    ];
    for (parameters, expected) in cases {
        let borrowed: Vec<(&str, &str)> = parameters
            .iter()
            .map(|(key, value)| (*key, value.as_str()))
            .collect();
        let (status, location) = tenant.authorize(&borrowed).await;
        assert_eq!(status, 302, "{parameters:?}");
        let location = location.expect("redirect back with an error");
        assert!(location.as_str().starts_with(REDIRECT_URI));
        assert!(query_value(&location, "code").is_none());
        assert_eq!(query_value(&location, "state").as_deref(), Some("st"));
        let description = query_value(&location, "error_description").expect("description");
        assert!(
            description.starts_with(expected),
            "{parameters:?}: {description}"
        );
    }

    // An unregistered redirect URI is never redirected to: an error page.
    let response = tenant
        .http
        .get(format!(
            "{}/{}/oauth2/v2.0/authorize",
            tenant.base, tenant.tenant_id
        ))
        .query(&with(&[
            ("code_challenge", challenge),
            ("code_challenge_method", "S256"),
            ("redirect_uri", "https://evil.example/callback"),
        ]))
        .send()
        .await
        .expect("authorize");
    assert_eq!(response.status(), 400);
    assert!(response.headers().get("location").is_none());
    assert!(response.text().await.expect("page").contains("AADSTS50011"));
}

#[tokio::test]
async fn authorize_without_a_signed_in_browser_user_is_interaction_required() {
    let (tenant, _secret) = ready().await;
    let (_, challenge) = pkce_pair();
    let (status, location) = tenant
        .authorize(&[
            ("client_id", tenant.client_id.as_str()),
            ("response_type", "code"),
            ("redirect_uri", REDIRECT_URI),
            ("scope", "openid"),
            ("state", "st"),
            ("nonce", "n"),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ])
        .await;
    assert_eq!(status, 302);
    let location = location.expect("location");
    assert_eq!(
        query_value(&location, "error").as_deref(),
        Some("interaction_required")
    );
}

#[tokio::test]
async fn an_admin_switch_signs_id_tokens_with_a_key_the_jwks_does_not_publish() {
    let (tenant, secret) = ready().await;
    tenant.user_in_new_group("Ada Lovelace", ADA, "Console admins");
    tenant.browser_sign_in(ADA).await;
    let published = tenant
        .jwks(&format!("/{}/discovery/v2.0/keys", tenant.tenant_id))
        .await;
    let published_kids: Vec<String> = published["keys"]
        .as_array()
        .expect("keys")
        .iter()
        .filter_map(|key| key["kid"].as_str().map(str::to_owned))
        .collect();
    let kid_of_new_id_token = |answer: &(u16, Value)| {
        let id_token = answer.1["id_token"].as_str().expect("id_token");
        jsonwebtoken::decode_header(id_token)
            .expect("header")
            .kid
            .expect("kid")
    };

    let answer = sign_in_with_unpublished_key(&tenant, &secret, true).await;
    assert_eq!(answer.0, 200, "{}", answer.1);
    assert!(!published_kids.contains(&kid_of_new_id_token(&answer)));

    let answer = sign_in_with_unpublished_key(&tenant, &secret, false).await;
    assert!(published_kids.contains(&kid_of_new_id_token(&answer)));
}

/// `/logout` ends the browser's session and sends it to a registered
/// `post_logout_redirect_uri`; an unregistered one is refused with an error
/// page and the session stays (never an open redirect).
#[tokio::test]
async fn logout_ends_the_browser_session_and_returns_only_to_a_registered_uri() {
    let (tenant, _secret) = ready().await;
    tenant.user_in_new_group("Ada Lovelace", ADA, "Console admins");
    tenant.browser_sign_in(ADA).await;
    let logout = format!("{}/{}/oauth2/v2.0/logout", tenant.base, tenant.tenant_id);
    let identity = &tenant.emulator.state.identity;

    let refused = tenant
        .http
        .get(&logout)
        .query(&[("post_logout_redirect_uri", "https://evil.example/")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    assert!(refused
        .text()
        .await
        .unwrap()
        .contains("does not match a redirect URI"));
    assert!(identity.browser_signed_in(tenant.tenant_id));

    let signed_out = tenant
        .http
        .get(&logout)
        .query(&[("post_logout_redirect_uri", REDIRECT_URI)])
        .send()
        .await
        .unwrap();
    assert_eq!(signed_out.status(), 302);
    assert_eq!(signed_out.headers()["location"], REDIRECT_URI);
    assert!(!identity.browser_signed_in(tenant.tenant_id));
}
