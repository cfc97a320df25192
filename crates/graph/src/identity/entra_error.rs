//! Entra ID's OAuth error body
//! `{"error","error_description":"AADSTSnnnnn: …","error_codes":[n],"trace_id","correlation_id"}`
//! as a typed error with the plain-words fix for the well-known codes.

use serde::Deserialize;

/// The well-known AADSTS errors an administrator can fix.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntraErrorKind {
    /// AADSTS90002: the tenant does not exist.
    UnknownTenant,
    /// AADSTS700016: no such application in the tenant.
    AppNotFound,
    /// AADSTS700027: the certificate is not registered or the signature is bad.
    CertificateNotRegistered,
    /// AADSTS700024: the client assertion is outside its time range.
    AssertionTimeRange,
    /// AADSTS7000215: wrong client secret.
    InvalidSecret,
    /// AADSTS7000222: the client secret has expired.
    ExpiredSecret,
    /// AADSTS70011: the scope is not valid.
    InvalidScope,
    /// AADSTS65001: admin consent has not been granted.
    ConsentMissing,
    Other,
}

/// An error response from the Entra ID token (or device code) endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntraError {
    /// HTTP status of the response.
    pub status: u16,
    /// OAuth error, e.g. `invalid_client`.
    pub error: String,
    /// The AADSTS number, e.g. 700027.
    pub code: Option<u32>,
    /// The first sentence of `error_description`, without the AADSTS prefix
    /// and trace ids.
    pub description: String,
    pub trace_id: Option<String>,
    pub correlation_id: Option<String>,
    /// SHA-1 thumbprint (uppercase hex, as the Entra portal shows it) of the
    /// certificate used, when the request was made with one.
    pub certificate_thumbprint: Option<String>,
}

#[derive(Deserialize)]
struct EntraErrorBody {
    error: String,
    #[serde(default)]
    error_description: String,
    #[serde(default)]
    error_codes: Vec<u32>,
    #[serde(default)]
    trace_id: Option<String>,
    #[serde(default)]
    correlation_id: Option<String>,
}

impl EntraError {
    /// Parses an Entra error body; `None` when the body is not one.
    pub fn from_body(status: u16, body: &[u8]) -> Option<Self> {
        let parsed: EntraErrorBody = serde_json::from_slice(body).ok()?;
        let code = parsed
            .error_codes
            .first()
            .copied()
            .or_else(|| aadsts_prefix_code(&parsed.error_description));
        Some(Self {
            status,
            error: parsed.error,
            code,
            description: first_sentence(&parsed.error_description),
            trace_id: parsed.trace_id,
            correlation_id: parsed.correlation_id,
            certificate_thumbprint: None,
        })
    }

    pub fn kind(&self) -> EntraErrorKind {
        match self.code {
            Some(90002) => EntraErrorKind::UnknownTenant,
            Some(700016) => EntraErrorKind::AppNotFound,
            Some(700027) => EntraErrorKind::CertificateNotRegistered,
            Some(700024) => EntraErrorKind::AssertionTimeRange,
            Some(7000215) => EntraErrorKind::InvalidSecret,
            Some(7000222) => EntraErrorKind::ExpiredSecret,
            Some(70011) => EntraErrorKind::InvalidScope,
            Some(65001) => EntraErrorKind::ConsentMissing,
            _ => EntraErrorKind::Other,
        }
    }

    /// What the administrator should do, in plain words, for the well-known codes.
    pub fn hint(&self) -> Option<String> {
        let hint = match self.kind() {
            EntraErrorKind::UnknownTenant => {
                "the tenant was not found: use the Directory (tenant) ID GUID shown on the \
                 Overview page of Microsoft Entra ID, not a name or domain"
                    .to_owned()
            }
            EntraErrorKind::AppNotFound => {
                "the application (client) ID is not registered in this tenant: check the \
                 client id and that the app registration (or its enterprise application) \
                 exists in this tenant"
                    .to_owned()
            }
            EntraErrorKind::CertificateNotRegistered => {
                let thumbprint = match &self.certificate_thumbprint {
                    Some(thumbprint) => format!(" (thumbprint {thumbprint})"),
                    None => String::new(),
                };
                format!(
                    "the certificate{thumbprint} is not registered on the app or the \
                     signature does not match it: upload the .cer file under App \
                     registrations > Certificates & secrets > Certificates"
                )
            }
            EntraErrorKind::AssertionTimeRange => {
                "the client assertion is outside its valid time range: check this \
                 machine's clock (enable NTP time sync)"
                    .to_owned()
            }
            EntraErrorKind::InvalidSecret => {
                "the client secret is wrong: use the secret's Value (not its Secret ID) \
                 from Certificates & secrets, or create a new secret"
                    .to_owned()
            }
            EntraErrorKind::ExpiredSecret => {
                "the client secret has expired: create a new one under Certificates & \
                 secrets and update galsync"
                    .to_owned()
            }
            EntraErrorKind::InvalidScope => {
                "the requested scope is not valid: app-only tokens need the resource's \
                 /.default scope, e.g. https://graph.microsoft.com/.default"
                    .to_owned()
            }
            EntraErrorKind::ConsentMissing => {
                "admin consent is missing: grant admin consent for the app's API \
                 permissions (App registrations > API permissions > Grant admin consent)"
                    .to_owned()
            }
            EntraErrorKind::Other => return None,
        };
        Some(hint)
    }
}

impl std::fmt::Display for EntraError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.code {
            Some(code) => write!(formatter, "entra refused the request: AADSTS{code}")?,
            None => write!(formatter, "entra refused the request")?,
        }
        write!(formatter, " {}: {}", self.error, self.description)
    }
}

impl std::error::Error for EntraError {}

fn aadsts_prefix_code(description: &str) -> Option<u32> {
    let digits: String = description
        .strip_prefix("AADSTS")?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// The first sentence of an Entra description, without the `AADSTSnnn:`
/// prefix and without the trailing `Trace ID: … Correlation ID: … Timestamp: …`.
pub(crate) fn first_sentence(description: &str) -> String {
    let without_prefix = match description.split_once(": ") {
        Some((prefix, rest)) if prefix.starts_with("AADSTS") => rest,
        _ => description,
    };
    let without_trace = match without_prefix.find("Trace ID:") {
        Some(position) => &without_prefix[..position],
        None => without_prefix,
    };
    let without_newlines = without_trace.replace(['\r', '\n'], " ");
    let trimmed = without_newlines.trim();
    match trimmed.find(". ") {
        Some(position) => trimmed[..=position].to_owned(),
        None => trimmed.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_sentence_drops_prefix_and_trace_ids() {
        let description = "AADSTS700016: Application with identifier 'abc' was not found in \
            the directory 'contoso.onmicrosoft.com'. This can happen if the application has \
            not been installed. Trace ID: 1 Correlation ID: 2 Timestamp: 2026-01-01 00:00:00Z";
        assert_eq!(
            first_sentence(description),
            "Application with identifier 'abc' was not found in the directory 'contoso.onmicrosoft.com'."
        );
    }

    #[test]
    fn code_falls_back_to_the_description_prefix() {
        let body = br#"{"error":"invalid_request","error_description":"AADSTS90002: Tenant 'x' not found."}"#;
        let parsed = EntraError::from_body(400, body);
        assert_eq!(parsed.and_then(|error| error.code), Some(90002));
    }

    #[test]
    fn unknown_codes_have_no_hint() {
        let body = br#"{"error":"server_error","error_description":"AADSTS50000: Boom.","error_codes":[50000]}"#;
        let parsed = EntraError::from_body(500, body);
        assert_eq!(parsed.map(|error| error.hint()), Some(None));
    }
}
