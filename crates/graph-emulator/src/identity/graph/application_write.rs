//! An application's write body, as create, update and upsert take it on
//! `/v1.0/applications`: the properties the emulator models, their checks
//! and what they change in the identity store.
//!
//! Pages: https://learn.microsoft.com/graph/api/application-post-applications,
//! https://learn.microsoft.com/graph/api/application-update,
//! https://learn.microsoft.com/graph/api/resources/application.

use axum::body::Bytes;
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::Value;
use uuid::Uuid;

use super::authorization::{may_change, WriteAccess};
use super::bad_request;
use super::keys::{apply_key_credentials, KeyCredentialWrite};
use crate::auth::GraphCaller;
use crate::directory::http::resource_not_found;
use crate::errors::GraphError;
use crate::identity::model::{AppRegistration, GraphApplicationFields, RequiredResourceAccess};
use crate::identity::permissions::graph_permissions_requested;
use crate::identity::{client_key, write};
use crate::AppState;

/// Values `signInAudience` takes (https://learn.microsoft.com/graph/api/resources/application).
const SIGN_IN_AUDIENCES: &[&str] = &[
    "AzureADMyOrg",
    "AzureADMultipleOrgs",
    "AzureADandPersonalMicrosoftAccount",
    "PersonalMicrosoftAccount",
];

/// What Graph sets when a create omits `signInAudience` (the create page's
/// example response).
const DEFAULT_SIGN_IN_AUDIENCE: &str = "AzureADandPersonalMicrosoftAccount";

/// The writable properties the emulator models; others are ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ApplicationWrite {
    display_name: Option<String>,
    sign_in_audience: Option<String>,
    tags: Option<Vec<String>>,
    pub(super) unique_name: Option<String>,
    required_resource_access: Option<Vec<RequiredResourceAccess>>,
    key_credentials: Option<Vec<KeyCredentialWrite>>,
    password_credentials: Option<Vec<Value>>,
    is_fallback_public_client: Option<bool>,
    web: Option<RedirectUris>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct RedirectUris {
    #[serde(default)]
    redirect_uris: Vec<String>,
}

pub(super) fn parse_body(body: &Bytes) -> Result<ApplicationWrite, GraphError> {
    serde_json::from_slice(body).map_err(|error| {
        bad_request(format!(
            "Invalid request body for resource 'Application': {error}"
        ))
    })
}

fn checked_audience(audience: &str) -> Result<String, GraphError> {
    if SIGN_IN_AUDIENCES.contains(&audience) {
        Ok(audience.to_owned())
    } else {
        Err(bad_request(format!(
            "Invalid value specified for property 'signInAudience' of resource 'Application': {audience}."
        )))
    }
}

fn refuse_password_credentials(request: &ApplicationWrite) -> Result<(), GraphError> {
    // "Adding passwordCredential when creating applications is not
    // supported. Use the addPassword method" (create and update pages).
    if request
        .password_credentials
        .as_ref()
        .is_some_and(|credentials| !credentials.is_empty())
    {
        return Err(bad_request(
            "Adding passwordCredential is not supported; use addPassword.",
        ));
    }
    Ok(())
}

fn checked_display_name(display_name: Option<&str>) -> Result<String, GraphError> {
    match display_name.map(str::trim) {
        Some(name) if !name.is_empty() => Ok(name.to_owned()),
        _ => Err(bad_request(
            "A value is required for property 'displayName' of resource 'Application'.",
        )),
    }
}

pub(super) fn insert_application(
    state: &AppState,
    caller: &GraphCaller,
    access: WriteAccess,
    request: ApplicationWrite,
) -> Result<String, GraphError> {
    let display_name = checked_display_name(request.display_name.as_deref())?;
    refuse_password_credentials(&request)?;
    let audience = checked_audience(
        request
            .sign_in_audience
            .as_deref()
            .unwrap_or(DEFAULT_SIGN_IN_AUDIENCE),
    )?;
    let replicated_from_ms = state.identity.replicated_from_ms();
    let certificates = apply_key_credentials(
        &[],
        &request.key_credentials.unwrap_or_default(),
        replicated_from_ms,
    )?;
    let required_resource_access = request.required_resource_access.unwrap_or_default();
    let (requested_roles, requested_scopes) =
        graph_permissions_requested(&required_resource_access);
    let owners = match access {
        WriteAccess::OwnedOnly => vec![caller.claims.oid.clone()],
        WriteAccess::AnyApplication => Vec::new(),
    };
    let client_id = client_key(&Uuid::new_v4().to_string());
    let mut apps = write(&state.identity.apps);
    if let Some(unique_name) = &request.unique_name {
        let taken = apps.values().any(|app| {
            app.home_tenant == caller.tenant_id
                && app.graph.unique_name.as_deref() == Some(unique_name)
        });
        if taken {
            return Err(GraphError::new(
                StatusCode::CONFLICT,
                "Request_MultipleObjectsWithSameKeyValue",
                format!("An application with uniqueName '{unique_name}' already exists."),
            ));
        }
    }
    apps.insert(
        client_id.clone(),
        AppRegistration {
            client_id: client_id.clone(),
            home_tenant: caller.tenant_id,
            display_name,
            requested_roles,
            requested_scopes,
            redirect_uris: request.web.map(|web| web.redirect_uris).unwrap_or_default(),
            multi_tenant: audience != "AzureADMyOrg",
            public_client: request.is_fallback_public_client.unwrap_or(false),
            certificates,
            secrets: Vec::new(),
            graph: GraphApplicationFields {
                object_id: Uuid::new_v4(),
                sign_in_audience: audience,
                tags: request.tags.unwrap_or_default(),
                unique_name: request.unique_name,
                required_resource_access,
                created_at: state.clock.now(),
                owners,
            },
            known_from_ms: replicated_from_ms,
        },
    );
    Ok(client_id)
}

pub(super) fn update_application(
    state: &AppState,
    caller: &GraphCaller,
    access: WriteAccess,
    key: &str,
    request: ApplicationWrite,
) -> Result<(), GraphError> {
    refuse_password_credentials(&request)?;
    let display_name = match &request.display_name {
        Some(name) => Some(checked_display_name(Some(name))?),
        None => None,
    };
    let audience = match &request.sign_in_audience {
        Some(audience) => Some(checked_audience(audience)?),
        None => None,
    };
    let replicated_from_ms = state.identity.replicated_from_ms();
    let mut apps = write(&state.identity.apps);
    let app = apps.get_mut(key).ok_or_else(|| resource_not_found(key))?;
    may_change(access, caller, &app.graph.owners)?;
    if let Some(written) = &request.key_credentials {
        app.certificates = apply_key_credentials(&app.certificates, written, replicated_from_ms)?;
    }
    if let Some(display_name) = display_name {
        app.display_name = display_name;
    }
    if let Some(audience) = audience {
        app.multi_tenant = audience != "AzureADMyOrg";
        app.graph.sign_in_audience = audience;
    }
    if let Some(tags) = request.tags {
        app.graph.tags = tags;
    }
    if let Some(required) = request.required_resource_access {
        let (roles, scopes) = graph_permissions_requested(&required);
        app.requested_roles = roles;
        app.requested_scopes = scopes;
        app.graph.required_resource_access = required;
    }
    if let Some(web) = request.web {
        app.redirect_uris = web.redirect_uris;
    }
    if let Some(public_client) = request.is_fallback_public_client {
        app.public_client = public_client;
    }
    Ok(())
}
