//! Secrets never show up in `Debug` output or errors.

use std::sync::Arc;

use chrono::Utc;
use galsync_graph::identity::{
    AssertionAlgorithm, CachedTokenSource, ClientCredential, DelegatedTokens, DeviceCode,
    PrivateKey,
};
use galsync_graph::{AccessToken, StaticTokenSource};
use secrecy::SecretString;

use crate::identity::{certificate_credential, identity_client};
use crate::support::{graph_client, spawn_server, test_certificate};
use crate::token_server::{spawn_token_server, CLIENT_ID};

const SECRET: &str = "s3cr3t-value-do-not-print";

/// A run of the private key's base64 that any leak of the key would contain.
fn private_key_fragment() -> String {
    let pem = &test_certificate().private_key_pem;
    let body: String = pem
        .lines()
        .filter(|line| !line.starts_with("-----"))
        .collect();
    body[40..80].to_owned()
}

fn assert_redacted(rendered: &str) {
    assert!(!rendered.contains(SECRET), "secret leaked: {rendered}");
    assert!(
        !rendered.contains(&private_key_fragment()),
        "private key leaked: {rendered}"
    );
}

#[tokio::test]
async fn credentials_and_tokens_never_print_their_secrets() {
    let (login_base, _server) = spawn_token_server().await;
    let identity = identity_client(&login_base, "tenant");
    let secret_credential = ClientCredential::Secret(SecretString::from(SECRET));
    let certificate = certificate_credential(AssertionAlgorithm::Rs256);
    let private_key = PrivateKey::from_pem(&test_certificate().private_key_pem).expect("key");
    let access_token = AccessToken::new(SecretString::from(SECRET), Utc::now());
    let delegated = DelegatedTokens {
        access_token: access_token.clone(),
        refresh_token: Some(SecretString::from(SECRET)),
    };
    let device_code = DeviceCode {
        device_code: SecretString::from(SECRET),
        user_code: "ABCD".to_owned(),
        verification_uri: "https://microsoft.com/devicelogin".to_owned(),
        message: None,
        expires_at: Utc::now(),
        interval: std::time::Duration::from_secs(5),
    };
    let cached = CachedTokenSource::new(identity.clone(), CLIENT_ID, secret_credential.clone());
    let server = spawn_server(axum::Router::new()).await;
    let graph = graph_client(
        &server,
        Arc::new(StaticTokenSource::new(access_token.clone())),
    );

    let rendered = [
        format!("{secret_credential:?}"),
        format!("{:?}", ClientCredential::Certificate(certificate.clone())),
        format!("{certificate:?}"),
        format!("{private_key:?}"),
        format!("{access_token:?}"),
        format!("{delegated:?}"),
        format!("{device_code:?}"),
        format!("{cached:?}"),
        format!("{identity:?}"),
        format!("{graph:?}"),
    ];

    for text in rendered {
        assert_redacted(&text);
    }
    assert!(format!("{certificate:?}").contains(&certificate.thumbprint_sha1_hex()));
}

#[tokio::test]
async fn errors_of_a_refused_secret_do_not_contain_it() {
    let (login_base, _server) = spawn_token_server().await;
    let identity = identity_client(&login_base, "aadsts-7000215");
    let credential = ClientCredential::Secret(SecretString::from(SECRET));

    let error = identity
        .client_credentials(CLIENT_ID, &credential)
        .await
        .expect_err("invalid secret");

    assert_redacted(&format!("{error:?}"));
    assert_redacted(&error.to_string());
    assert_redacted(&error.hint().unwrap_or_default());
}

#[tokio::test]
async fn graph_errors_do_not_contain_the_bearer_token() {
    let server = spawn_server(axum::Router::new()).await;
    let token = AccessToken::new(SecretString::from(SECRET), Utc::now());
    let graph = graph_client(&server, Arc::new(StaticTokenSource::new(token)));

    let error = graph
        .get_json::<serde_json::Value>("/users/nobody")
        .await
        .expect_err("404 from an empty server");

    assert_eq!(error.status(), Some(404));
    assert_redacted(&format!("{error:?}"));
    assert_redacted(&error.to_string());
}
