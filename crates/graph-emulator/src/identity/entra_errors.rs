//! The AADSTS errors the emulated login endpoints answer, with the HTTP
//! status, OAuth `error` and message text Entra uses.
//!
//! Where Microsoft documents no code for a check (a replayed `jti`), the
//! emulator's choice is marked and listed in the README.

use axum::http::StatusCode;
use chrono::{DateTime, Utc};

use crate::errors::EntraError;

fn bad_request(error: &'static str, code: u32, description: String) -> EntraError {
    EntraError::new(StatusCode::BAD_REQUEST, error, code, description)
}

fn unauthorized(error: &'static str, code: u32, description: String) -> EntraError {
    EntraError::new(StatusCode::UNAUTHORIZED, error, code, description)
}

pub fn tenant_not_found(tenant: &str) -> EntraError {
    bad_request(
        "invalid_request",
        90002,
        format!("Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud. Check with your subscription administrator, this may happen if there are no active subscriptions for the tenant."),
    )
}

pub fn tenant_malformed(tenant: &str) -> EntraError {
    bad_request(
        "invalid_request",
        900023,
        format!("Specified tenant identifier '{tenant}' is neither a valid DNS name, nor a valid external domain."),
    )
}

pub fn grant_not_supported_on_common() -> EntraError {
    bad_request(
        "invalid_request",
        9001023,
        "The grant type isn't supported over the /common or /consumers endpoints. Please use the /organizations or tenant-specific endpoint.".to_owned(),
    )
}

pub fn app_not_multi_tenant(client_id: &str) -> EntraError {
    bad_request(
        "invalid_request",
        50194,
        format!("Application '{client_id}' is not configured as a multi-tenant application. Usage of the /common endpoint is not supported for such applications created after '10/15/2018'. Use a tenant-specific endpoint or configure the application to be multi-tenant."),
    )
}

pub fn app_not_found(client_id: &str, tenant: &str) -> EntraError {
    bad_request(
        "unauthorized_client",
        700016,
        format!("Application with identifier '{client_id}' was not found in the directory '{tenant}'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant."),
    )
}

pub fn missing_parameter(name: &str) -> EntraError {
    bad_request(
        "invalid_request",
        900144,
        format!("The request body must contain the following parameter: '{name}'."),
    )
}

pub fn unsupported_grant_type(grant_type: &str) -> EntraError {
    bad_request(
        "unsupported_grant_type",
        70003,
        format!("The app requested an unsupported grant type '{grant_type}'."),
    )
}

pub fn invalid_scope(scope: &str) -> EntraError {
    bad_request(
        "invalid_scope",
        70011,
        format!("The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid."),
    )
}

pub fn missing_client_credential() -> EntraError {
    unauthorized(
        "invalid_client",
        7000218,
        "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.".to_owned(),
    )
}

pub fn public_client_with_credential() -> EntraError {
    unauthorized(
        "invalid_client",
        700025,
        "Client is public so neither 'client_assertion' nor 'client_secret' should be presented."
            .to_owned(),
    )
}

pub fn invalid_assertion_type() -> EntraError {
    bad_request(
        "invalid_request",
        90100,
        "client_assertion_type parameter is empty or not valid. Expected 'urn:ietf:params:oauth:client-assertion-type:jwt-bearer'.".to_owned(),
    )
}

pub fn malformed_assertion(reason: &str) -> EntraError {
    bad_request(
        "invalid_request",
        50027,
        format!("JWT token is invalid or malformed. [Reason - {reason}]"),
    )
}

pub fn certificate_not_registered(client_id: &str, thumbprint: &str) -> EntraError {
    unauthorized(
        "invalid_client",
        700027,
        format!("The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Thumbprint of key used by client: '{thumbprint}', Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '{client_id}'.]"),
    )
}

pub fn bad_assertion_signature(client_id: &str) -> EntraError {
    unauthorized(
        "invalid_client",
        700027,
        format!("Client assertion failed signature validation. [Reason - The provided signature value did not match the expected signature value., Thumbprint of key used by client: see x5t, Found key 'Start=…', app Id '{client_id}']"),
    )
}

pub fn assertion_out_of_time_range(now: i64, not_before: i64, expires: i64) -> EntraError {
    bad_request(
        "invalid_client",
        700024,
        format!(
            "Client assertion is not within its valid time range. Current time: {}, assertion valid from {}, expiry time of assertion {}. Review the documentation at https://docs.microsoft.com/azure/active-directory/develop/active-directory-certificate-credentials .",
            entra_time(now),
            entra_time(not_before),
            entra_time(expires)
        ),
    )
}

pub fn assertion_wrong_audience(audience: &str) -> EntraError {
    unauthorized(
        "invalid_client",
        700023,
        format!("Client assertion audience claim does not match Realm issuer. Actual audience: '{audience}'. Review the documentation at https://docs.microsoft.com/azure/active-directory/develop/active-directory-certificate-credentials ."),
    )
}

pub fn assertion_wrong_subject(client_id: &str) -> EntraError {
    unauthorized(
        "invalid_client",
        700021,
        format!("Client assertion application identifier doesn't match 'client_id' parameter '{client_id}'. Review the documentation at https://docs.microsoft.com/azure/active-directory/develop/active-directory-certificate-credentials ."),
    )
}

/// Emulator's choice: Entra documents no code for a replayed assertion; this
/// uses its generic InvalidAssertion code.
pub fn assertion_replayed() -> EntraError {
    unauthorized(
        "invalid_client",
        50013,
        "Assertion is invalid. [Reason - The client assertion's 'jti' was already used. Each client assertion must carry a new jti.]".to_owned(),
    )
}

pub fn invalid_client_secret(client_id: &str) -> EntraError {
    unauthorized(
        "invalid_client",
        7000215,
        format!("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{client_id}'."),
    )
}

pub fn expired_client_secret(client_id: &str) -> EntraError {
    unauthorized(
        "invalid_client",
        7000222,
        format!("The provided client secret keys for app '{client_id}' are expired. Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or consider using certificate credentials for added security: https://aka.ms/certCreds."),
    )
}

pub fn authorization_pending() -> EntraError {
    bad_request(
        "authorization_pending",
        70016,
        "OAuth 2.0 device flow error. Authorization is pending. Continue polling.".to_owned(),
    )
}

pub fn device_code_expired() -> EntraError {
    bad_request(
        "expired_token",
        70019,
        "Verification code expired. Have the user retry the sign-in.".to_owned(),
    )
}

pub fn authorization_declined() -> EntraError {
    bad_request(
        "authorization_declined",
        65004,
        "User declined to consent to access the app.".to_owned(),
    )
}

pub fn bad_verification_code() -> EntraError {
    bad_request(
        "bad_verification_code",
        70018,
        "The provided value for the input parameter 'device_code' is not valid.".to_owned(),
    )
}

pub fn device_code_redeemed() -> EntraError {
    bad_request(
        "invalid_grant",
        70000,
        "The provided value for the 'device_code' is not valid. It was already redeemed."
            .to_owned(),
    )
}

pub fn refresh_token_invalid() -> EntraError {
    bad_request(
        "invalid_grant",
        9002313,
        "Invalid request. Request is malformed or invalid.".to_owned(),
    )
}

pub fn refresh_token_inactive(issued_at: i64, inactive_days: i64) -> EntraError {
    bad_request(
        "invalid_grant",
        700082,
        format!(
            "The refresh token has expired due to inactivity. The token was issued on {} and was inactive for {inactive_days}.00:00:00.",
            entra_time(issued_at)
        ),
    )
}

pub fn refresh_token_revoked(issued_at: i64) -> EntraError {
    bad_request(
        "invalid_grant",
        50173,
        format!(
            "The provided grant has expired due to it being revoked, a fresh auth token is needed. The user might have changed or reset their password. The grant was issued on '{}'.",
            entra_time(issued_at)
        ),
    )
}

pub fn refresh_token_other_client() -> EntraError {
    bad_request(
        "invalid_grant",
        70000,
        "Provided grant is invalid or malformed. The refresh token was issued to a different client.".to_owned(),
    )
}

pub fn consent_missing(client_id: &str) -> EntraError {
    bad_request(
        "invalid_grant",
        65001,
        format!("The user or administrator has not consented to use the application with ID '{client_id}'. Send an interactive authorization request for this user and resource."),
    )
}

fn entra_time(unix_seconds: i64) -> String {
    let time: DateTime<Utc> = DateTime::from_timestamp(unix_seconds, 0).unwrap_or_default();
    format!("{}.0000000Z", time.format("%Y-%m-%dT%H:%M:%S"))
}
