//! Importing an existing certificate with its private key for an app: a
//! PKCS#12 (`.pfx`) file with its password, or a PEM certificate and PEM
//! private key, sent to the broker's `ImportCertificate` (admins only; the
//! broker checks the same and audits the person). The password and the key
//! pass through: never logged, never in an error, never shown again.

use std::sync::Arc;

use axum::extract::{Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use galsync_proto::v1;
use galsync_proto::v1::import_certificate_request::Material;

use crate::html::Page;
use crate::pages::page;
use crate::session::Role;
use crate::tenant_view::certificate_page;
use crate::tenant_view::{broker_page, no_broker_page};
use crate::web::{csrf_refusal, refused_below, SignedIn};
use crate::AppState;

/// The import form for the app at `app_path`, with `error` above its button.
pub(crate) fn import_form(
    body: &mut Page,
    signed_in: &SignedIn,
    app_path: &str,
    client_id: &str,
    error: Option<&str>,
) {
    let id = |name: &str| format!("import-{name}-{client_id}");
    body.markup("<details class=\"import\"")
        .markup(if error.is_some() { " open" } else { "" })
        .markup("><summary>Import an existing certificate</summary>\n<form method=\"post\" enctype=\"multipart/form-data\" action=\"")
        .text(app_path)
        .markup("/certificates/import\" class=\"fields\"><input type=\"hidden\" name=\"csrf_token\" value=\"")
        .text(signed_in.session.csrf_token())
        .markup("\">\n<p class=\"span\">A PKCS#12 file with its password, or a PEM certificate with its unencrypted PEM private key (RSA). The broker seals the key; it is never shown again.</p>\n<label for=\"")
        .text(&id("pfx"))
        .markup("\">PKCS#12 file (.pfx, .p12)</label> <input type=\"file\" id=\"")
        .text(&id("pfx"))
        .markup("\" name=\"pfx\" accept=\".pfx,.p12,application/x-pkcs12\">\n<label for=\"")
        .text(&id("password"))
        .markup("\">Its password</label> <input type=\"password\" autocomplete=\"off\" id=\"")
        .text(&id("password"))
        .markup("\" name=\"password\">\n<label for=\"")
        .text(&id("certificate"))
        .markup("\">Or a PEM certificate</label> <textarea id=\"")
        .text(&id("certificate"))
        .markup("\" name=\"certificate_pem\" rows=\"4\" spellcheck=\"false\"></textarea>\n<label for=\"")
        .text(&id("key"))
        .markup("\">and its PEM private key</label> <textarea id=\"")
        .text(&id("key"))
        .markup("\" name=\"private_key_pem\" rows=\"4\" spellcheck=\"false\" autocomplete=\"off\"></textarea>\n");
    if let Some(message) = error {
        body.markup("<p class=\"error\" id=\"import-error\" role=\"alert\">")
            .text(message)
            .markup("</p>\n");
    }
    body.markup("<button type=\"submit\">Import certificate</button></form></details>\n");
}

/// The form as posted. Its Debug names which parts were given, not them.
#[derive(Default)]
struct ImportForm {
    csrf_token: String,
    pfx: Vec<u8>,
    password: String,
    certificate_pem: String,
    private_key_pem: String,
}

impl std::fmt::Debug for ImportForm {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("ImportForm")
            .field("pfx_bytes", &self.pfx.len())
            .field("has_certificate_pem", &!self.certificate_pem.is_empty())
            .finish_non_exhaustive()
    }
}

impl ImportForm {
    async fn read(multipart: &mut Multipart) -> Result<Self, String> {
        let unreadable = |error: axum::extract::multipart::MultipartError| {
            format!(
                "the form could not be read ({}); reload the page and send it again",
                error.body_text()
            )
        };
        let mut form = Self::default();
        while let Some(field) = multipart.next_field().await.map_err(unreadable)? {
            let name = field.name().unwrap_or_default().to_owned();
            let bytes = field.bytes().await.map_err(unreadable)?;
            let text = || String::from_utf8_lossy(&bytes).into_owned();
            match name.as_str() {
                "csrf_token" => form.csrf_token = text(),
                "pfx" => form.pfx = bytes.to_vec(),
                "password" => form.password = text(),
                "certificate_pem" => form.certificate_pem = text().trim().to_owned(),
                "private_key_pem" => form.private_key_pem = text().trim().to_owned(),
                _ => {}
            }
        }
        Ok(form)
    }

    /// What to send the broker, or what the person should change.
    fn material(self) -> Result<Material, &'static str> {
        let has_pem = !self.certificate_pem.is_empty() || !self.private_key_pem.is_empty();
        match (self.pfx.is_empty(), has_pem) {
            (false, true) => Err("give either a .pfx file or the PEM certificate and key, not both"),
            (false, false) => Ok(Material::Pkcs12(v1::Pkcs12Bundle {
                der: self.pfx,
                password: self.password,
            })),
            (true, true) if self.certificate_pem.is_empty() => {
                Err("certificate_pem is empty: paste the PEM certificate that goes with the key")
            }
            (true, true) if self.private_key_pem.is_empty() => {
                Err("private_key_pem is empty: paste the certificate's PEM private key")
            }
            (true, true) => Ok(Material::Pem(v1::PemBundle {
                certificate_pem: self.certificate_pem,
                private_key_pem: self.private_key_pem,
            })),
            (true, false) => Err(
                "nothing to import: choose a .pfx file (with its password) or paste the PEM certificate and key",
            ),
        }
    }
}

/// Imports the posted certificate for the app and shows it as Generate
/// does; a refusal comes back above the (emptied) form.
pub async fn import(
    State(state): State<Arc<AppState>>,
    Path((tenant_id, client_id)): Path<(String, String)>,
    signed_in: SignedIn,
    mut multipart: Multipart,
) -> Response {
    let app_path = format!("/tenants/{tenant_id}/apps/{client_id}");
    let form = match ImportForm::read(&mut multipart).await {
        Ok(form) => form,
        Err(message) => {
            return refused_below(&signed_in, Role::Admin, "Importing a certificate")
                .unwrap_or_else(|| refused(&signed_in, &app_path, &client_id, &message))
        }
    };
    if let Some(refused) = csrf_refusal(&signed_in, &form.csrf_token) {
        return refused;
    }
    if let Some(refused) = refused_below(&signed_in, Role::Admin, "Importing a certificate") {
        return refused;
    }
    let Some(broker) = state.broker.as_ref() else {
        return no_broker_page(&signed_in, "Tenant");
    };
    let material = match form.material() {
        Ok(material) => material,
        Err(message) => return refused(&signed_in, &app_path, &client_id, message),
    };
    let message = v1::ImportCertificateRequest {
        tenant_id: tenant_id.clone(),
        client_id: client_id.clone(),
        material: Some(material),
    };
    let person = &signed_in.session;
    match broker.import_certificate(person, message).await {
        Ok(certificate) => {
            tracing::info!(person = %person.person, tenant = %tenant_id, thumbprint = %certificate.thumbprint_sha1, "certificate imported");
            certificate_page("Certificate imported", &certificate, &tenant_id, &signed_in)
        }
        Err(status) if status.code() == tonic::Code::InvalidArgument => {
            refused(&signed_in, &app_path, &client_id, status.message())
        }
        Err(status) => broker_page(&status, &signed_in),
    }
}

/// The import form again (nothing of the secret parts refilled) with what
/// to change, and the way back.
fn refused(signed_in: &SignedIn, app_path: &str, client_id: &str, message: &str) -> Response {
    let mut body = Page::default();
    import_form(&mut body, signed_in, app_path, client_id, Some(message));
    let tenant_path = app_path.split("/apps/").next().unwrap_or("/tenants");
    body.markup("<p><a href=\"")
        .text(tenant_path)
        .markup("\">Back to the tenant</a></p>\n");
    (
        StatusCode::BAD_REQUEST,
        page("Import a certificate", signed_in, body, false),
    )
        .into_response()
}
