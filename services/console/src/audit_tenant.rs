//! The audit log's tenant filter. The scheduler's log has no tenant column:
//! an entry names what it acted on (`target`: a profile, run or API key id)
//! and says more in `detail` (`profile {id} (…)` for a run started, `… for
//! tenant {id}` for a key made). The console finds a tenant's entries by
//! those: the tenant's profiles, their newest 1000 runs each, and the API
//! keys scoped to it, all read from the scheduler's API; then it reads the
//! log in pages of 500 and keeps the entries naming one of them.

use std::collections::HashSet;

use galsync_proto::v1;

use crate::api::Api;
use crate::session::Session;

/// Runs read per profile (the API's most).
const RUNS_PER_PROFILE: u32 = 1000;
/// Entries read from the scheduler per call while filtering (the API's most).
const SCAN_PAGE: u32 = 500;
/// Calls of [`SCAN_PAGE`] one page view makes at most; past them the page
/// offers older entries from where the scan stopped.
const SCAN_PAGES: usize = 10;

/// The ids a tenant's audit entries name.
pub struct TenantTargets {
    tenant_id: String,
    ids: HashSet<String>,
    profile_ids: Vec<String>,
}

impl TenantTargets {
    pub async fn load(api: &Api, person: &Session, tenant_id: &str) -> Result<Self, tonic::Status> {
        let mut ids = HashSet::new();
        let mut profile_ids = Vec::new();
        for profile in api.profiles(person).await? {
            let of_tenant = profile
                .spec
                .as_ref()
                .is_some_and(|spec| spec.tenant_id.eq_ignore_ascii_case(tenant_id));
            if !of_tenant {
                continue;
            }
            for run in api
                .runs_of(person, &profile.profile_id, RUNS_PER_PROFILE)
                .await?
            {
                ids.insert(run.run_id);
            }
            ids.insert(profile.profile_id.clone());
            profile_ids.push(profile.profile_id);
        }
        for key in api.api_keys(person).await? {
            if key.tenant_id.eq_ignore_ascii_case(tenant_id) {
                ids.insert(key.key_id);
            }
        }
        Ok(Self {
            tenant_id: tenant_id.to_owned(),
            ids,
            profile_ids,
        })
    }

    /// Whether `entry` is about the tenant.
    pub fn matches(&self, entry: &v1::AuditLogEntry) -> bool {
        if self.ids.contains(&entry.target) {
            return true;
        }
        let detail = entry.detail.to_ascii_lowercase();
        if detail.contains(&format!("tenant {}", self.tenant_id.to_ascii_lowercase())) {
            return true;
        }
        self.profile_ids
            .iter()
            .any(|profile_id| entry.detail.contains(&format!("profile {profile_id}")))
    }
}

/// Up to `wanted` entries of the tenant, newest first, from `before_id`
/// (0: the newest), with the `before_id` of the next page (0: none older).
pub async fn entries_of_tenant(
    api: &Api,
    person: &Session,
    targets: &TenantTargets,
    mut message: v1::ListAuditLogRequest,
    wanted: usize,
) -> Result<v1::ListAuditLogResponse, tonic::Status> {
    message.limit = SCAN_PAGE;
    let mut entries = Vec::new();
    for _ in 0..SCAN_PAGES {
        let answer = api.audit_log(person, message.clone()).await?;
        for entry in answer.entries {
            if !targets.matches(&entry) {
                continue;
            }
            entries.push(entry);
            if entries.len() == wanted {
                let next_before_id = entries.last().map_or(0, |last| last.id);
                return Ok(v1::ListAuditLogResponse {
                    entries,
                    next_before_id,
                });
            }
        }
        if answer.next_before_id == 0 {
            return Ok(v1::ListAuditLogResponse {
                entries,
                next_before_id: 0,
            });
        }
        message.before_id = answer.next_before_id;
    }
    Ok(v1::ListAuditLogResponse {
        entries,
        next_before_id: message.before_id,
    })
}
