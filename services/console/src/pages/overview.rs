//! The overview: each tenant with its connection health, its profiles and
//! its last and next run.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use galsync_proto::v1;

use super::{page, state_name, when};
use crate::html::Page;
use crate::web::{status_page, SignedIn};
use crate::AppState;

/// Each tenant — registered at the auth-broker or named by a profile — with
/// its connection health (certificate, consent), its profiles, its newest
/// run and its next.
pub async fn overview(State(state): State<Arc<AppState>>, signed_in: SignedIn) -> Response {
    let person = &signed_in.session;
    let profiles = match state.api.profiles(person).await {
        Ok(profiles) => profiles,
        Err(status) => return status_page(&status, &signed_in),
    };
    let runs = match state.api.runs(person).await {
        Ok(runs) => runs,
        Err(status) => return status_page(&status, &signed_in),
    };
    let registered = match &state.broker {
        // One call for every tenant's health, however many there are.
        Some(broker) => match broker.tenants_with_health(person).await {
            Ok(tenants) => Some(tenants),
            Err(status) => return crate::tenant_view::broker_page(&status, &signed_in),
        },
        None => None,
    };
    let mut tenants: BTreeMap<&str, Vec<&v1::Profile>> = BTreeMap::new();
    for reported in registered.iter().flatten() {
        if let Some(tenant) = &reported.tenant {
            tenants.entry(tenant.tenant_id.as_str()).or_default();
        }
    }
    for profile in &profiles {
        let tenant_id = profile
            .spec
            .as_ref()
            .map_or("", |spec| spec.tenant_id.as_str());
        tenants.entry(tenant_id).or_default().push(profile);
    }
    let mut body = Page::default();
    if registered.is_none() {
        body.markup("<p class=\"notice\">")
            .text(crate::tenant_view::NO_BROKER)
            .markup("</p>\n");
    }
    if tenants.is_empty() {
        body.markup("<p>No tenant yet. <a href=\"/tenants\">Register one</a>, then create a sync profile for it.</p>");
        return page("Overview", &signed_in, body, false);
    }
    body.markup("<div class=\"table-wrap\" tabindex=\"0\" role=\"region\" aria-label=\"Table\"><table><thead><tr><th scope=\"col\">Tenant</th>");
    if registered.is_some() {
        body.markup("<th scope=\"col\">Certificate</th><th scope=\"col\">Client secret</th><th scope=\"col\">Admin consent</th>");
    }
    body.markup("<th scope=\"col\">Profiles</th><th scope=\"col\">Last run</th><th scope=\"col\">Started</th><th scope=\"col\">Next run</th></tr></thead><tbody>\n");
    for (tenant_id, tenant_profiles) in &tenants {
        let last_run = match last_run_of(&state, &signed_in, tenant_profiles, &runs).await {
            Ok(last_run) => last_run,
            Err(status) => return status_page(&status, &signed_in),
        };
        let next_run = tenant_profiles
            .iter()
            .filter_map(|profile| profile.next_run_at.as_ref())
            .min_by_key(|at| (at.seconds, at.nanos));
        let reported = registered.iter().flatten().find(|reported| {
            reported
                .tenant
                .as_ref()
                .is_some_and(|tenant| tenant.tenant_id == *tenant_id)
        });
        let tenant = reported.and_then(|reported| reported.tenant.as_ref());
        body.markup("<tr><td>");
        match tenant {
            Some(tenant) => {
                body.markup("<a href=\"/tenants/")
                    .text(tenant_id)
                    .markup("\">")
                    .text(&tenant.display_name)
                    .markup("</a>");
            }
            None => {
                body.text(tenant_id);
            }
        }
        body.markup("</td>");
        if registered.is_some() {
            match reported {
                Some(reported) => {
                    let health = crate::tenant_view::health(reported);
                    crate::tenant_view::health_cell(
                        &mut body,
                        &health.certificate,
                        health.certificate_needs_action,
                    );
                    crate::tenant_view::health_cell(
                        &mut body,
                        &health.client_secret,
                        health.client_secret_needs_action,
                    );
                    crate::tenant_view::health_cell(
                        &mut body,
                        &health.consent,
                        health.consent_needs_action,
                    );
                }
                None => {
                    crate::tenant_view::health_cell(&mut body, "not registered", true);
                    body.markup("<td>—</td><td>—</td>");
                }
            }
        }
        body.markup("<td>");
        if tenant_profiles.is_empty() {
            body.markup("none yet");
        }
        for (index, profile) in tenant_profiles.iter().enumerate() {
            if index > 0 {
                body.markup(", ");
            }
            let name = profile.spec.as_ref().map_or("", |spec| spec.name.as_str());
            body.text(name);
        }
        body.markup("</td>");
        match &last_run {
            Some(run) => {
                let state_text = state_name(run.state);
                body.markup("<td><a class=\"state-")
                    .text(state_text)
                    .markup("\" href=\"/runs/")
                    .text(&run.run_id)
                    .markup("\">")
                    .text(state_text)
                    .markup("</a></td><td>")
                    .text(&when(run.created_at.as_ref()))
                    .markup("</td>");
            }
            None => {
                body.markup("<td>never run</td><td>—</td>");
            }
        }
        body.markup("<td>")
            .text(&when(next_run))
            .markup("</td></tr>\n");
    }
    body.markup("</tbody></table></div>\n");
    page("Overview", &signed_in, body, false)
}

/// The newest of the last runs of `profiles`: from the listing of recent
/// runs when it is there, else asked for by id (a profile that last ran long
/// ago).
async fn last_run_of(
    state: &AppState,
    signed_in: &SignedIn,
    profiles: &[&v1::Profile],
    recent_runs: &[v1::Run],
) -> Result<Option<v1::Run>, tonic::Status> {
    let mut newest: Option<v1::Run> = None;
    for profile in profiles {
        if profile.last_run_id.is_empty() {
            continue;
        }
        let listed = recent_runs
            .iter()
            .find(|run| run.run_id == profile.last_run_id);
        let run = match listed {
            Some(run) => run.clone(),
            None => {
                state
                    .api
                    .run(&signed_in.session, &profile.last_run_id)
                    .await?
            }
        };
        let started = |run: &v1::Run| run.created_at.map(|at| (at.seconds, at.nanos));
        let is_newer = match &newest {
            Some(current) => started(&run) > started(current),
            None => true,
        };
        if is_newer {
            newest = Some(run);
        }
    }
    Ok(newest)
}
