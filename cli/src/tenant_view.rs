//! How the CLI shows a tenant and its app registrations (tables, JSON,
//! names of the proto's enums), for `tenant`, `tenant update`, `provision`
//! and `check`.

use galsync_proto::v1;
use serde_json::{json, Value};

use crate::output::{json_time, Table};

pub fn print_apps(apps: &[v1::AppRegistration]) {
    let mut table = Table::new(&["  CLIENT ID", "AUTH", "PURPOSES"]);
    for app in apps {
        table.row(vec![
            format!("  {}", app.client_id),
            auth_mode_name(app.auth_mode).to_owned(),
            purposes_text(&app.purposes),
        ]);
    }
    table.print();
}

pub fn auth_mode_name(value: i32) -> &'static str {
    match v1::AuthMode::try_from(value) {
        Ok(v1::AuthMode::Certificate) => "certificate",
        Ok(v1::AuthMode::ClientSecret) => "client-secret",
        _ => "unsupported",
    }
}

pub fn purpose_name(value: i32) -> &'static str {
    match v1::TokenPurpose::try_from(value) {
        Ok(v1::TokenPurpose::Directory) => "directory",
        Ok(v1::TokenPurpose::Contacts) => "contacts",
        _ => "",
    }
}

/// The names of an app's `purposes`, in order.
pub fn purpose_names(purposes: &[i32]) -> Vec<&'static str> {
    purposes
        .iter()
        .map(|purpose| purpose_name(*purpose))
        .collect()
}

pub fn purposes_text(purposes: &[i32]) -> String {
    purpose_names(purposes).join(", ")
}

pub fn tenant_json(tenant: &v1::Tenant) -> Value {
    let apps: Vec<Value> = tenant
        .apps
        .iter()
        .map(|app| {
            json!({
                "client_id": app.client_id,
                "auth_mode": auth_mode_name(app.auth_mode),
                "purposes": purpose_names(&app.purposes),
                "has_client_secret": app.has_client_secret,
            })
        })
        .collect();
    json!({
        "tenant_id": tenant.tenant_id,
        "display_name": tenant.display_name,
        "login_base_url": tenant.login_base_url,
        "graph_base_url": tenant.graph_base_url,
        "created_at": json_time(tenant.created_at.as_ref()),
        "upload_rotated_certificates": tenant.upload_rotated_certificates,
        "apps": apps,
    })
}

/// Whether the broker uploads rotated certificates itself, for people.
pub fn upload_setting_text(allowed: bool) -> String {
    if allowed {
        "on (cert rotate adds the new certificate to the app registration: --upload-rotated-certificates)".to_owned()
    } else {
        "off (upload each rotated .cer by hand; galsync tenant update --upload-rotated-certificates on)"
            .to_owned()
    }
}

/// An `on|off` flag's value (also true/false, yes/no).
pub fn parse_on_off(value: &str) -> Result<bool, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" => Ok(true),
        "off" | "false" | "no" => Ok(false),
        other => Err(format!("`{other}` is neither on nor off; give on or off")),
    }
}
