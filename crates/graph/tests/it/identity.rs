//! Token requests against a local token endpoint: assertion, secrets,
//! refresh, device code, Entra errors with their hints.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use galsync_graph::identity::{
    AssertionAlgorithm, CachedTokenSource, CertificateCredential, ClientCredential, IdentityClient,
    IdentityConfig, IdentityError, PrivateKey,
};
use galsync_graph::TokenSource;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rsa::traits::PublicKeyParts;
use secrecy::{ExposeSecret, SecretString};
use serde_json::Value;
use sha1::Digest;

use crate::support::{test_certificate, RecordingSleeper};
use crate::token_server::{spawn_token_server, CLIENT_ID, TENANT_ID, WELL_KNOWN};

pub fn identity_client(login_base: &str, tenant: &str) -> IdentityClient {
    let mut config = IdentityConfig::new(tenant);
    config.login_base_url = login_base.to_owned();
    config.retry = crate::support::fast_retry_policy();
    IdentityClient::new(reqwest::Client::new(), config).expect("identity client")
}

pub fn certificate_credential(algorithm: AssertionAlgorithm) -> CertificateCredential {
    let certificate = test_certificate();
    let private_key = match algorithm {
        AssertionAlgorithm::Rs256 => PrivateKey::from_pkcs8_der(&certificate.private_key_pkcs8_der),
        AssertionAlgorithm::Ps256 => PrivateKey::from_pem(&certificate.private_key_pem),
    }
    .expect("private key");
    CertificateCredential::new(certificate.certificate_der.clone(), private_key, algorithm)
        .expect("credential")
}

fn decoding_key() -> DecodingKey {
    let public_key = test_certificate().private_key.to_public_key();
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let modulus = engine.encode(public_key.n().to_bytes_be());
    let exponent = engine.encode(public_key.e().to_bytes_be());
    DecodingKey::from_rsa_components(&modulus, &exponent).expect("decoding key")
}

async fn assertion_sent_with(algorithm: AssertionAlgorithm) -> (String, String) {
    let (login_base, server) = spawn_token_server().await;
    let identity = identity_client(&login_base, TENANT_ID);
    let credential = ClientCredential::Certificate(certificate_credential(algorithm));

    let token = identity
        .client_credentials(CLIENT_ID, &credential)
        .await
        .expect("token");

    assert_eq!(token.roles, ["User.Read.All", "Group.Read.All"]);
    assert_eq!(token.tenant_id.as_deref(), Some(TENANT_ID));
    let lifetime = token.expires_at - chrono::Utc::now();
    assert!(
        lifetime > chrono::Duration::minutes(59) && lifetime <= chrono::Duration::seconds(3599)
    );
    let form = server.forms_for(TENANT_ID).remove(0);
    assert_eq!(form["grant_type"], "client_credentials");
    assert_eq!(form["scope"], "https://graph.microsoft.com/.default");
    assert_eq!(
        form["client_assertion_type"],
        "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
    );
    (form["client_assertion"].clone(), identity.token_url())
}

fn verify_assertion(assertion: &str, algorithm: Algorithm, token_url: &str) -> Value {
    let mut validation = Validation::new(algorithm);
    validation.set_audience(&[token_url]);
    validation.set_issuer(&[CLIENT_ID]);
    validation.set_required_spec_claims(&["exp", "nbf", "aud", "iss", "sub"]);
    let decoded = jsonwebtoken::decode::<Value>(assertion, &decoding_key(), &validation)
        .expect("assertion verifies with the certificate's public key");
    let claims = decoded.claims;
    assert_eq!(claims["sub"], CLIENT_ID);
    let not_before = claims["nbf"].as_i64().unwrap_or_default();
    assert_eq!(claims["exp"].as_i64().unwrap_or_default() - not_before, 600);
    assert_eq!(claims["iat"].as_i64(), Some(not_before));
    let jti = claims["jti"].as_str().unwrap_or_default();
    assert_eq!(
        uuid::Uuid::parse_str(jti).map(|id| id.get_version_num()),
        Ok(4)
    );
    claims
}

#[tokio::test]
async fn rs256_assertion_verifies_and_carries_the_sha1_thumbprint() {
    let (assertion, token_url) = assertion_sent_with(AssertionAlgorithm::Rs256).await;

    verify_assertion(&assertion, Algorithm::RS256, &token_url);
    let header = jsonwebtoken::decode_header(&assertion).expect("header");
    let expected = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha1::Sha1::digest(&test_certificate().certificate_der));
    assert_eq!(header.x5t, Some(expected));
    assert_eq!(header.x5t_s256, None);
    assert!(token_url.ends_with(&format!("/{TENANT_ID}/oauth2/v2.0/token")));
}

#[tokio::test]
async fn ps256_assertion_verifies_and_carries_the_sha256_thumbprint() {
    let (assertion, token_url) = assertion_sent_with(AssertionAlgorithm::Ps256).await;

    verify_assertion(&assertion, Algorithm::PS256, &token_url);
    let header = jsonwebtoken::decode_header(&assertion).expect("header");
    let expected = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .encode(sha2::Sha256::digest(&test_certificate().certificate_der));
    assert_eq!(header.x5t_s256, Some(expected));
    assert_eq!(header.x5t, None);
}

#[tokio::test]
async fn a_private_key_of_another_certificate_is_refused() {
    let other_key = rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 1024).expect("key");
    let other_der = rsa::pkcs8::EncodePrivateKey::to_pkcs8_der(&other_key).expect("der");
    let private_key = PrivateKey::from_pkcs8_der(other_der.as_bytes()).expect("private key");

    let result = CertificateCredential::new(
        test_certificate().certificate_der.clone(),
        private_key,
        AssertionAlgorithm::Rs256,
    );

    assert!(
        matches!(result, Err(IdentityError::InvalidKey { .. })),
        "{result:?}"
    );
}

#[tokio::test]
async fn client_secret_is_sent_as_client_secret() {
    let (login_base, server) = spawn_token_server().await;
    let identity = identity_client(&login_base, TENANT_ID);
    let credential = ClientCredential::Secret(SecretString::from("s3cr3t-value"));

    identity
        .client_credentials(CLIENT_ID, &credential)
        .await
        .expect("token");

    let form = server.forms_for(TENANT_ID).remove(0);
    assert_eq!(form["client_secret"], "s3cr3t-value");
    assert_eq!(form["client_id"], CLIENT_ID);
    assert!(!form.contains_key("client_assertion"));
}

#[tokio::test]
async fn each_well_known_entra_error_has_its_code_sentence_and_hint() {
    let (login_base, _server) = spawn_token_server().await;
    let certificate = certificate_credential(AssertionAlgorithm::Rs256);
    let thumbprint = certificate.thumbprint_sha1_hex();
    let credential = ClientCredential::Certificate(certificate);
    for (code, oauth_error, _, first_sentence, hint_fragment) in WELL_KNOWN {
        let identity = identity_client(&login_base, &format!("aadsts-{code}"));

        let error = identity
            .client_credentials(CLIENT_ID, &credential)
            .await
            .expect_err("entra refuses");

        let entra = error.entra().expect("an entra error");
        assert_eq!(entra.code, Some(code));
        assert_eq!(entra.error, oauth_error);
        assert_eq!(entra.description, first_sentence);
        assert_eq!(entra.trace_id.as_deref(), Some("0b5c"));
        let hint = error.hint().unwrap_or_default();
        assert!(hint.contains(hint_fragment), "AADSTS{code}: {hint}");
        assert!(
            error.to_string().contains(&format!("AADSTS{code}")),
            "{error}"
        );
        assert!(!error.to_string().contains("Trace ID"), "{error}");
        if code == 700027 {
            assert!(hint.contains(&thumbprint), "{hint}");
        }
    }
}

#[tokio::test]
async fn a_busy_token_endpoint_is_retried_after_its_retry_after() {
    let (login_base, server) = spawn_token_server().await;
    let identity = identity_client(&login_base, "flaky");
    let credential =
        ClientCredential::Certificate(certificate_credential(AssertionAlgorithm::Rs256));

    identity
        .client_credentials(CLIENT_ID, &credential)
        .await
        .expect("token after retry");

    let forms = server.forms_for("flaky");
    assert_eq!(forms.len(), 2);
    assert!(server.calls.gap_before(1) >= Duration::from_millis(50));
    assert_ne!(
        forms[0]["client_assertion"], forms[1]["client_assertion"],
        "a fresh assertion per attempt"
    );
}

#[tokio::test]
async fn refresh_token_grant_returns_the_rotated_refresh_token() {
    let (login_base, server) = spawn_token_server().await;
    let identity = identity_client(&login_base, TENANT_ID);

    let tokens = identity
        .refresh_token(CLIENT_ID, &SecretString::from("old-refresh-token"), None)
        .await
        .expect("tokens");

    let rotated = tokens
        .refresh_token
        .as_ref()
        .map(|token| token.expose_secret().to_owned());
    assert_eq!(rotated.as_deref(), Some("rotated-refresh-token"));
    let form = server.forms_for(TENANT_ID).remove(0);
    assert_eq!(form["grant_type"], "refresh_token");
    assert_eq!(form["refresh_token"], "old-refresh-token");
    assert_eq!(
        form["scope"],
        "https://graph.microsoft.com/.default offline_access"
    );
}

#[tokio::test]
async fn device_code_polling_waits_slows_down_and_completes() {
    let (login_base, server) = spawn_token_server().await;
    let sleeper = Arc::new(RecordingSleeper::default());
    let identity = identity_client(&login_base, TENANT_ID).with_sleeper(sleeper.clone());

    let device_code = identity
        .start_device_code(CLIENT_ID)
        .await
        .expect("device code");
    let tokens = identity
        .wait_for_device_code(CLIENT_ID, &device_code)
        .await
        .expect("signed in");

    assert_eq!(device_code.user_code, "ABCD-EFGH");
    assert!(tokens.refresh_token.is_some());
    assert_eq!(
        sleeper.recorded(),
        [1, 1, 6].map(Duration::from_secs),
        "interval, then +5 s after slow_down"
    );
    let polls = server.forms_for(TENANT_ID);
    assert_eq!(polls.len(), 3);
    assert_eq!(polls[0]["device_code"], "device-code-secret");
}

#[tokio::test]
async fn declined_and_expired_device_codes_are_distinct_errors() {
    let (login_base, _server) = spawn_token_server().await;
    for (tenant, declined) in [("declined", true), ("expired", false)] {
        let identity = identity_client(&login_base, tenant);
        let device_code = identity
            .start_device_code(CLIENT_ID)
            .await
            .expect("device code");

        let error = identity
            .poll_device_code(CLIENT_ID, &device_code)
            .await
            .expect_err("terminal");

        if declined {
            assert!(
                matches!(error, IdentityError::DeviceCodeDeclined),
                "{error:?}"
            );
        } else {
            assert!(
                matches!(error, IdentityError::DeviceCodeExpired),
                "{error:?}"
            );
        }
    }
}

#[tokio::test]
async fn cached_token_source_makes_one_request_for_concurrent_callers() {
    let (login_base, server) = spawn_token_server().await;
    let identity = identity_client(&login_base, TENANT_ID);
    let credential =
        ClientCredential::Certificate(certificate_credential(AssertionAlgorithm::Rs256));
    let source = Arc::new(CachedTokenSource::new(identity, CLIENT_ID, credential));

    let mut tasks = Vec::new();
    for _ in 0..20 {
        let source = source.clone();
        tasks.push(tokio::spawn(async move {
            source.token().await.map(|token| token.roles)
        }));
    }
    for task in tasks {
        let roles = task.await.expect("join").expect("token");
        assert_eq!(roles.len(), 2);
    }
    assert_eq!(server.calls.count(), 1);

    let reason = galsync_graph::InvalidationReason {
        status: 401,
        code: "InvalidAuthenticationToken".to_owned(),
    };
    source.invalidate(reason).await;
    source.token().await.expect("fresh token");
    assert_eq!(server.calls.count(), 2);
}
