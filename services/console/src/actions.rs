//! Signing in and out, cancelling a run and approving its held deletes, a
//! run's live progress, and assets.

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::header::{self, HeaderValue};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::Form;
use galsync_proto::v1;
use secrecy::ExposeSecret;

use crate::html::{document, document_redirecting_to_overview, error_page_body, escape};
use crate::pages::{is_active, state_name};
use crate::session::{LinkRefusal, Role};
use crate::web::{
    cleared_session_cookie, csrf_refusal, error_page, refused_below, session_cookie, status_page,
    SignedIn,
};
use crate::AppState;

/// Every form's one field the console checks itself.
#[derive(serde::Deserialize)]
pub struct CsrfForm {
    #[serde(default)]
    csrf_token: String,
}

#[derive(serde::Deserialize)]
pub struct SignInQuery {
    #[serde(default)]
    ended: Option<String>,
}

/// How to sign in; what every anonymous request is sent to.
pub async fn sign_in_page(
    State(state): State<Arc<AppState>>,
    Query(query): Query<SignInQuery>,
) -> Response {
    let mut body = String::new();
    if query.ended.is_some() {
        body.push_str(&format!(
            "<p class=\"notice\">Your session ended after {} minutes without activity, or the console restarted. Sign in again.</p>\n",
            state.session_idle.as_secs().div_ceil(60)
        ));
    }
    if state.entra.is_some() {
        body.push_str(
            "<p><a class=\"button\" href=\"/auth/entra/start\">Sign in with Microsoft</a></p>\n\
             <p>Your role in the console comes from your Entra groups.</p>\n\
             <p>Or open the <strong>one-time administrator link</strong> that <code>galsync-console</code> \
             (or <code>galsync up</code>) printed when it started.</p>\n",
        );
    } else {
        body.push_str(
            "<p>Sign-in with Microsoft Entra ID is not configured on this console (the <code>--entra-…</code> flags).</p>\n\
             <p>To sign in, open the <strong>one-time administrator link</strong> that <code>galsync-console</code> \
             (or <code>galsync up</code>) printed when it started. It works once, for a few minutes. \
             For a new link, restart the console.</p>\n",
        );
    }
    Html(document("Sign in", None, &body, false)).into_response()
}

/// Follows a one-time link: starts a session and opens the overview (at
/// once, by a refresh).
pub async fn redeem_link(
    State(state): State<Arc<AppState>>,
    Path(token): Path<String>,
) -> Response {
    let (session_id, session) = match state.sessions.redeem_link(&token) {
        Ok(started) => started,
        Err(refusal) => {
            let message = match refusal {
                LinkRefusal::Unknown => "This sign-in link was used already (each link works once), or the console restarted since it printed it. Restart the console for a new link.",
                LinkRefusal::Expired => "This sign-in link has expired. Restart the console for a new link.",
            };
            tracing::warn!(?refusal, "refused a sign-in link");
            return error_page(StatusCode::FORBIDDEN, "Sign-in link refused", message, None);
        }
    };
    tracing::info!(person = %session.person, role = session.role.as_str(), "signed in with a one-time link");
    // Not a 303: when the link was opened from another site (a web mail),
    // browsers withhold a SameSite=Strict cookie on every redirect of that
    // navigation, and the used link would land on the sign-in page. A
    // refresh from this page is a navigation this site starts.
    let body = format!(
        "<p>Signed in as {} ({}). <a href=\"/\">Open the overview</a>.</p>",
        escape(&session.person),
        session.role.as_str()
    );
    let mut response = Html(document_redirecting_to_overview("Signed in", &body)).into_response();
    match HeaderValue::from_str(&session_cookie(session_id.expose_secret())) {
        Ok(cookie) => {
            response.headers_mut().insert(header::SET_COOKIE, cookie);
        }
        Err(_) => {
            return error_page(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Sign-in failed",
                "the session cookie could not be made",
                None,
            )
        }
    }
    response
}

pub async fn sign_out(
    State(state): State<Arc<AppState>>,
    signed_in: SignedIn,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Some(refused) = csrf_refusal(&signed_in, &form.csrf_token) {
        return refused;
    }
    state.sessions.end(&signed_in.session_id);
    tracing::info!(person = %signed_in.session.person, "signed out");
    let entra = state.entra.as_ref().filter(|_| signed_in.session.via_entra);
    let mut response = match entra {
        // Signed in by Microsoft: sign out there too, back to sign-in.
        Some(entra) => {
            let logout = entra.logout_url().await;
            let body = format!(
                "<p>Signed out of galsync. Signing you out of Microsoft… <a href=\"{}\">Continue</a>.</p>",
                crate::html::escape(&logout)
            );
            Html(crate::html::document_redirecting(
                "Signed out",
                &body,
                &logout,
            ))
            .into_response()
        }
        None => Redirect::to("/sign-in").into_response(),
    };
    if let Ok(cookie) = HeaderValue::from_str(&cleared_session_cookie()) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

/// Cancels a run (operator); the scheduler checks the role again.
pub async fn cancel_run(
    State(state): State<Arc<AppState>>,
    Path(run_id): Path<String>,
    signed_in: SignedIn,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Some(refused) = csrf_refusal(&signed_in, &form.csrf_token) {
        return refused;
    }
    if let Some(refused) = refused_below(&signed_in, Role::Operator, "Cancelling a run") {
        return refused;
    }
    let run = match state.api.cancel_run(&signed_in.session, &run_id).await {
        Ok(run) => run,
        Err(status) => return status_page(&status, &signed_in),
    };
    tracing::info!(person = %signed_in.session.person, run_id = %run.run_id, "cancel requested");
    // The scheduler's run id (a UUID), never the path's text, goes into
    // the Location header.
    Redirect::to(&format!("/runs/{}", run.run_id)).into_response()
}

/// Approves the deletes a run holds (operator); the scheduler checks the
/// role and the run's state again. Rejecting is cancelling the run: the
/// API has no other way to drop held deletes.
pub async fn approve_deletions(
    State(state): State<Arc<AppState>>,
    Path(run_id): Path<String>,
    signed_in: SignedIn,
    Form(form): Form<CsrfForm>,
) -> Response {
    if let Some(refused) = csrf_refusal(&signed_in, &form.csrf_token) {
        return refused;
    }
    if let Some(refused) = refused_below(&signed_in, Role::Operator, "Approving deletions") {
        return refused;
    }
    let run = match state
        .api
        .approve_deletions(&signed_in.session, &run_id)
        .await
    {
        Ok(run) => run,
        Err(status) => return status_page(&status, &signed_in),
    };
    tracing::info!(person = %signed_in.session.person, run_id = %run.run_id, "deletions approved");
    Redirect::to(&format!("/runs/{}", run.run_id)).into_response()
}

/// How often a page showing held deletes asks whether someone acted on
/// them, once the scheduler's WatchRun has ended (it ends while a run
/// awaits approval).
const APPROVAL_RECHECK: std::time::Duration = std::time::Duration::from_secs(2);

/// Where a run's event stream is.
enum Follow {
    /// The run's numbers now, before any event.
    Start(tonic::Streaming<v1::RunEvent>),
    /// Following the scheduler's WatchRun.
    Watch(tonic::Streaming<v1::RunEvent>),
    /// Asking for the run every [`APPROVAL_RECHECK`].
    Recheck,
}

/// What the page following a run's events shows.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(default)]
pub struct EventsQuery {
    /// `awaiting_approval` when the page shows the held deletes with Approve
    /// and Reject: the stream then goes on until someone (here or anywhere)
    /// acts on them.
    shown: String,
}

/// A run's progress as server-sent `progress` events: the run's numbers now,
/// then again after each event the scheduler's WatchRun reports, until the
/// page must reload: the run ended, or began or stopped awaiting approval.
pub async fn run_events(
    State(state): State<Arc<AppState>>,
    Path(run_id): Path<String>,
    Query(query): Query<EventsQuery>,
    signed_in: SignedIn,
) -> Response {
    let page_awaits_approval = query.shown == state_name(v1::RunState::AwaitingApproval as i32);
    let watch = match state.api.watch_run(&signed_in.session, &run_id).await {
        Ok(watch) => watch,
        Err(status) => return status_page(&status, &signed_in),
    };
    let events = futures::stream::unfold(Some(Follow::Start(watch)), move |follow| {
        let state = state.clone();
        let session = signed_in.session.clone();
        let session_id = signed_in.session_id.clone();
        let run_id = run_id.clone();
        async move {
            let follow = match follow? {
                Follow::Start(watch) => Follow::Watch(watch),
                // Any event means the numbers moved; the run says by how much.
                Follow::Watch(mut watch) => match watch.message().await {
                    Ok(Some(_)) => Follow::Watch(watch),
                    // WatchRun ends where the scheduler stops driving the
                    // run: at its end, or while it awaits approval. A page
                    // showing the held deletes goes on asking for the run.
                    Ok(None) | Err(_) if page_awaits_approval => {
                        tokio::time::sleep(APPROVAL_RECHECK).await;
                        Follow::Recheck
                    }
                    Ok(None) | Err(_) => return None,
                },
                Follow::Recheck => {
                    tokio::time::sleep(APPROVAL_RECHECK).await;
                    Follow::Recheck
                }
            };
            // A session that ended (sign-out, idle) stops its streams.
            if !state.sessions.is_live(&session_id) {
                return None;
            }
            let run = state.api.run(&session, &run_id).await.ok()?;
            // A run that starts waiting for a person to approve its held
            // deletes ends the stream too: the page reloads and shows them
            // with Approve and Reject; and once someone, on any page or
            // through the API, approves or rejects them, that page reloads
            // in turn.
            let awaiting_approval = run.state == v1::RunState::AwaitingApproval as i32;
            let reload = !is_active(run.state) || awaiting_approval != page_awaits_approval;
            let moving = !reload && !awaiting_approval;
            let event = Event::default()
                .event("progress")
                .data(progress_json(&run, reload, moving));
            let next = if reload { None } else { Some(follow) };
            Some((Ok::<Event, Infallible>(event), next))
        }
    });
    Sse::new(events)
        .keep_alive(KeepAlive::default())
        .into_response()
}

/// Numbers, fixed state names and the pace's digits and fixed words only,
/// so no escaping is needed. `ended`: the page is to reload; `moving`: the
/// run is writing, so it has a time left.
fn progress_json(run: &v1::Run, ended: bool, moving: bool) -> String {
    let counts = run.counts.unwrap_or_default();
    let pace = crate::run_pace::pace(run, moving, std::time::SystemTime::now());
    format!(
        "{{\"state\":\"{}\",\"mailboxes_done\":{},\"mailboxes_total\":{},\"created\":{},\"updated\":{},\"deleted\":{},\"rate\":\"{}\",\"eta\":\"{}\",\"ended\":{}}}",
        state_name(run.state),
        run.mailboxes_done,
        run.mailboxes_total,
        counts.created,
        counts.updated,
        counts.deleted,
        pace.rate,
        pace.eta,
        ended
    )
}

pub async fn stylesheet() -> Response {
    asset(
        "text/css; charset=utf-8",
        include_str!("../assets/console.css"),
    )
}

pub async fn script() -> Response {
    asset(
        "text/javascript; charset=utf-8",
        include_str!("../assets/console.js"),
    )
}

fn asset(content_type: &'static str, text: &'static str) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "max-age=300"),
        ],
        text,
    )
        .into_response()
}

pub async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        Html(error_page_body("Not found", "There is no such page.")),
    )
        .into_response()
}
