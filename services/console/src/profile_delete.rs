//! Deleting a profile (admin): its schedule and runs stop; the contacts it
//! wrote stay in the mailboxes. The form asks for that to be understood,
//! and the scheduler refuses while a run of the profile is in progress.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::Form;

use crate::html::Page;
use crate::session::Role;
use crate::web::{csrf_refusal, error_page, refused_below, status_page, SignedIn};
use crate::AppState;

/// What deleting leaves behind, said beside the form and on a refusal.
const WHAT_STAYS: &str = "Deleting the profile stops its schedule and its runs. The contacts it already wrote stay in the mailboxes' folder: to take them out first, edit its targets so no mailbox is left and run it once.";

/// The delete form, for admins.
pub(crate) fn delete_form(body: &mut Page, signed_in: &SignedIn, profile_id: &str) {
    if signed_in.session.role < Role::Admin {
        return;
    }
    body.markup("<section aria-labelledby=\"delete-heading\"><h2 id=\"delete-heading\">Delete this profile</h2>\n<p>")
        .text(WHAT_STAYS)
        .markup("</p>\n<form method=\"post\" action=\"/profiles/")
        .text(profile_id)
        .markup("/delete\"><input type=\"hidden\" name=\"csrf_token\" value=\"")
        .text(signed_in.session.csrf_token())
        .markup("\"><p><input type=\"checkbox\" id=\"confirm-delete\" name=\"confirm\" required> <label for=\"confirm-delete\">I understand the contacts stay</label></p><button class=\"danger\" type=\"submit\">Delete profile</button></form></section>\n");
}

#[derive(serde::Deserialize)]
pub struct DeleteForm {
    #[serde(default)]
    csrf_token: String,
    /// `on` when the box was ticked.
    #[serde(default)]
    confirm: String,
}

pub async fn delete(
    State(state): State<Arc<AppState>>,
    Path(profile_id): Path<String>,
    signed_in: SignedIn,
    Form(form): Form<DeleteForm>,
) -> Response {
    if let Some(refused) = csrf_refusal(&signed_in, &form.csrf_token) {
        return refused;
    }
    if let Some(refused) = refused_below(&signed_in, Role::Admin, "Deleting a profile") {
        return refused;
    }
    if form.confirm != "on" {
        return error_page(
            StatusCode::BAD_REQUEST,
            "Not deleted",
            &format!("Tick \"I understand the contacts stay\" to delete the profile. {WHAT_STAYS}"),
            Some(signed_in.header()),
        );
    }
    match state
        .api
        .delete_profile(&signed_in.session, &profile_id)
        .await
    {
        Ok(()) => {
            tracing::info!(person = %signed_in.session.person, profile_id = %profile_id, "profile deleted");
            Redirect::to("/profiles").into_response()
        }
        Err(status) => status_page(&status, &signed_in),
    }
}
