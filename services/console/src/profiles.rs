//! Profiles: the list per tenant, the editor (create and update, validated
//! by the scheduler), Explain and Dry run; one profile's spec is in
//! [`crate::profile_show`].

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;
use galsync_proto::v1;

use crate::html::Page;
use crate::pages::page;
use crate::profile_form::{Editor, FieldError, ProfileForm, Typed};
use crate::session::Role;
use crate::web::{csrf_refusal, refused_below, status_page, SignedIn};
use crate::AppState;

#[derive(serde::Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf_token: String,
}

pub async fn list(State(state): State<Arc<AppState>>, signed_in: SignedIn) -> Response {
    let profiles = match state.api.profiles(&signed_in.session).await {
        Ok(profiles) => profiles,
        Err(status) => return status_page(&status, &signed_in),
    };
    let mut tenants: BTreeMap<String, Vec<&v1::Profile>> = BTreeMap::new();
    for profile in &profiles {
        let tenant_id = profile
            .spec
            .as_ref()
            .map_or("", |spec| spec.tenant_id.as_str());
        tenants
            .entry(tenant_id.to_owned())
            .or_default()
            .push(profile);
    }
    let mut body = Page::default();
    if signed_in.session.role >= Role::Admin {
        body.markup("<p><a href=\"/profiles/new\">New profile</a></p>\n");
    }
    if tenants.is_empty() {
        body.markup("<p>No profile yet.</p>\n");
    }
    for (tenant_id, tenant_profiles) in &tenants {
        body.markup("<h2>Tenant ")
            .text(tenant_id)
            .markup("</h2>\n<ul>\n");
        for profile in tenant_profiles {
            let spec = profile.spec.clone().unwrap_or_default();
            body.markup("<li><a href=\"/profiles/")
                .text(&profile.profile_id)
                .markup("\">")
                .text(&spec.name)
                .markup("</a>")
                .markup(if spec.enabled { "" } else { " (disabled)" })
                .markup("</li>\n");
        }
        body.markup("</ul>\n");
    }
    page("Profiles", &signed_in, body, false)
}

fn editor_page(
    signed_in: &SignedIn,
    title: &str,
    action: &str,
    spec: &v1::ProfileSpec,
    expected_version: u64,
    error: Option<&FieldError>,
    typed: Option<&Typed>,
) -> Response {
    let mut body = Page::default();
    let editor = Editor {
        action,
        csrf_token: signed_in.session.csrf_token(),
        expected_version,
        tenant_editable: expected_version == 0,
        error,
        typed,
    };
    editor.render(&mut body, spec);
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    (status, page(title, signed_in, body, false)).into_response()
}

pub async fn new_form(signed_in: SignedIn) -> Response {
    if let Some(refused) = refused_below(&signed_in, Role::Admin, "Creating a profile") {
        return refused;
    }
    let spec = v1::ProfileSpec {
        enabled: true,
        ..Default::default()
    };
    editor_page(
        &signed_in,
        "New profile",
        "/profiles/new",
        &spec,
        0,
        None,
        None,
    )
}

pub async fn create(
    State(state): State<Arc<AppState>>,
    signed_in: SignedIn,
    Form(form): Form<ProfileForm>,
) -> Response {
    if let Some(refused) = csrf_refusal(&signed_in, &form.csrf_token) {
        return refused;
    }
    if let Some(refused) = refused_below(&signed_in, Role::Admin, "Creating a profile") {
        return refused;
    }
    let typed = form.typed();
    let spec = match form.into_spec(v1::ProfileSpec::default()) {
        Ok(spec) => spec,
        Err(refused) => {
            return editor_page(
                &signed_in,
                "New profile",
                "/profiles/new",
                &refused.spec,
                0,
                Some(&refused.error),
                Some(&typed),
            );
        }
    };
    match state
        .api
        .create_profile(&signed_in.session, spec.clone())
        .await
    {
        Ok(profile) => Redirect::to(&format!("/profiles/{}", profile.profile_id)).into_response(),
        Err(status)
            if status.code() == tonic::Code::InvalidArgument
                || status.code() == tonic::Code::AlreadyExists =>
        {
            let error = FieldError::from_status(&status);
            editor_page(
                &signed_in,
                "New profile",
                "/profiles/new",
                &spec,
                0,
                Some(&error),
                Some(&typed),
            )
        }
        Err(status) => status_page(&status, &signed_in),
    }
}

pub async fn edit_form(
    State(state): State<Arc<AppState>>,
    Path(profile_id): Path<String>,
    signed_in: SignedIn,
) -> Response {
    if let Some(refused) = refused_below(&signed_in, Role::Admin, "Changing a profile") {
        return refused;
    }
    let profile = match state.api.profile(&signed_in.session, &profile_id).await {
        Ok(profile) => profile,
        Err(status) => return status_page(&status, &signed_in),
    };
    let spec = profile.spec.clone().unwrap_or_default();
    let action = format!("/profiles/{}/edit", profile.profile_id);
    editor_page(
        &signed_in,
        &format!("Edit profile {}", spec.name),
        &action,
        &spec,
        profile.version,
        None,
        None,
    )
}

pub async fn update(
    State(state): State<Arc<AppState>>,
    Path(profile_id): Path<String>,
    signed_in: SignedIn,
    Form(form): Form<ProfileForm>,
) -> Response {
    if let Some(refused) = csrf_refusal(&signed_in, &form.csrf_token) {
        return refused;
    }
    if let Some(refused) = refused_below(&signed_in, Role::Admin, "Changing a profile") {
        return refused;
    }
    let profile = match state.api.profile(&signed_in.session, &profile_id).await {
        Ok(profile) => profile,
        Err(status) => return status_page(&status, &signed_in),
    };
    let stored = profile.spec.clone().unwrap_or_default();
    let action = format!("/profiles/{}/edit", profile.profile_id);
    let title = format!("Edit profile {}", stored.name);
    let expected_version = form.expected_version;
    let typed = form.typed();
    let spec = match form.into_spec(stored.clone()) {
        Ok(spec) => spec,
        Err(refused) => {
            return editor_page(
                &signed_in,
                &title,
                &action,
                &refused.spec,
                expected_version,
                Some(&refused.error),
                Some(&typed),
            )
        }
    };
    match state
        .api
        .update_profile(
            &signed_in.session,
            &profile.profile_id,
            spec.clone(),
            expected_version,
        )
        .await
    {
        Ok(updated) => Redirect::to(&format!("/profiles/{}", updated.profile_id)).into_response(),
        Err(status)
            if status.code() == tonic::Code::InvalidArgument
                || status.code() == tonic::Code::AlreadyExists =>
        {
            let error = FieldError::from_status(&status);
            editor_page(
                &signed_in,
                &title,
                &action,
                &spec,
                expected_version,
                Some(&error),
                Some(&typed),
            )
        }
        Err(status) => status_page(&status, &signed_in),
    }
}

/// Who the source filter keeps and drops, rule by rule, and the targets.
pub async fn explain(
    State(state): State<Arc<AppState>>,
    Path(profile_id): Path<String>,
    signed_in: SignedIn,
) -> Response {
    let profile = match state.api.profile(&signed_in.session, &profile_id).await {
        Ok(profile) => profile,
        Err(status) => return status_page(&status, &signed_in),
    };
    let explained = match state
        .api
        .explain_profile(&signed_in.session, &profile_id)
        .await
    {
        Ok(explained) => explained,
        Err(status) => return status_page(&status, &signed_in),
    };
    let filter = explained.filter.clone().unwrap_or_default();
    let name = profile.spec.as_ref().map_or("", |spec| spec.name.as_str());
    let mut body = Page::default();
    body.markup("<p><strong>")
        .number(filter.users_kept)
        .markup("</strong> of ")
        .number(filter.users_read)
        .markup(" users read are kept.</p>\n");
    rule_counts(
        &mut body,
        &filter.rules,
        "Users dropped",
        "Users each rule drops",
    );
    body.markup("<h2>Targets</h2>\n<p><strong>")
        .number(explained.target_mailboxes)
        .markup("</strong> target mailboxes resolve.</p>\n");
    rule_counts(
        &mut body,
        &explained.target_rules,
        "Mailboxes dropped",
        "Target mailboxes each rule drops",
    );
    if explained.unresolved_targets.is_empty() {
        body.markup("<p>Every target resolved.</p>\n");
    } else {
        body.markup("<p>Unresolved, with the reason:</p>\n<ul class=\"error\">\n");
        for unresolved in &explained.unresolved_targets {
            body.markup("<li>").text(unresolved).markup("</li>\n");
        }
        body.markup("</ul>\n");
    }
    body.markup("<p><a href=\"/profiles/")
        .text(&profile.profile_id)
        .markup("\">Back to the profile</a></p>\n");
    page(&format!("Explain {name}"), &signed_in, body, false)
}

/// A table of how many each rule dropped, as the directory-reader counted
/// them; nothing when there is no rule.
fn rule_counts(body: &mut Page, rules: &[v1::FilterRuleCount], dropped_heading: &str, label: &str) {
    if rules.is_empty() {
        return;
    }
    body.markup("<div class=\"table-wrap\" tabindex=\"0\" role=\"region\" aria-label=\"")
        .text(label)
        .markup("\"><table><thead><tr><th scope=\"col\">Rule</th><th scope=\"col\">")
        .text(dropped_heading)
        .markup("</th></tr></thead><tbody>\n");
    for rule in rules {
        body.markup("<tr><td>")
            .text(&rule.rule)
            .markup("</td><td>")
            .number(rule.dropped)
            .markup("</td></tr>\n");
    }
    body.markup("</tbody></table></div>\n");
}

/// Starts a dry run and opens its run page, where its plan shows.
pub async fn dry_run(
    State(state): State<Arc<AppState>>,
    Path(profile_id): Path<String>,
    signed_in: SignedIn,
    Form(form): Form<CsrfForm>,
) -> Response {
    start_run(&state, &profile_id, &signed_in, &form, true).await
}

/// Starts a run that writes now and opens its run page, where its progress
/// shows live.
pub async fn run_now(
    State(state): State<Arc<AppState>>,
    Path(profile_id): Path<String>,
    signed_in: SignedIn,
    Form(form): Form<CsrfForm>,
) -> Response {
    start_run(&state, &profile_id, &signed_in, &form, false).await
}

async fn start_run(
    state: &AppState,
    profile_id: &str,
    signed_in: &SignedIn,
    form: &CsrfForm,
    dry_run: bool,
) -> Response {
    if let Some(refused) = csrf_refusal(signed_in, &form.csrf_token) {
        return refused;
    }
    let what = if dry_run {
        "Starting a dry run"
    } else {
        "Starting a run"
    };
    if let Some(refused) = refused_below(signed_in, Role::Operator, what) {
        return refused;
    }
    match state
        .api
        .start_run(&signed_in.session, profile_id, dry_run)
        .await
    {
        Ok(run) => {
            tracing::info!(person = %signed_in.session.person, run_id = %run.run_id, dry_run, "run started");
            Redirect::to(&format!("/runs/{}", run.run_id)).into_response()
        }
        Err(status) => status_page(&status, signed_in),
    }
}
