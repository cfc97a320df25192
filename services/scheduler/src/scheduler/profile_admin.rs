//! Profile administration: create, update and delete a profile (each
//! audited, none sharing another profile's folder), read it as a caller may
//! see it, explain what its filter and targets select.

use chrono::Utc;
use galsync_proto::v1;
use prost::Message;

use super::{decode_spec, now_millis, Scheduler};
use crate::access::Caller;
use crate::error::SchedulerError;
use crate::profiles;
use crate::store::ProfileRow;

impl Scheduler {
    pub async fn create_profile(
        &self,
        caller: &Caller,
        spec: v1::ProfileSpec,
    ) -> Result<ProfileRow, SchedulerError> {
        let spec = profiles::validate(spec)?;
        self.require_registered_tenant("spec.tenant_id", &spec.tenant_id)
            .await?;
        self.refuse_shared_folder(&spec, None).await?;
        let now = Utc::now();
        let row = ProfileRow {
            profile_id: uuid::Uuid::new_v4().to_string(),
            tenant_id: spec.tenant_id.clone(),
            name: spec.name.clone(),
            next_run_at: next_run_millis(&spec, now),
            enabled: spec.enabled,
            spec: spec.encode_to_vec(),
            version: 1,
            last_run_id: String::new(),
            created_at: now.timestamp_millis(),
            updated_at: now.timestamp_millis(),
        };
        if !self.store.insert_profile(&row).await? {
            return Err(SchedulerError::AlreadyExists(format!(
                "tenant {} already has a profile named \"{}\"",
                row.tenant_id, row.name
            )));
        }
        self.audit(caller, "profile.created", &row.profile_id, &row.name)
            .await?;
        Ok(row)
    }

    pub async fn update_profile(
        &self,
        caller: &Caller,
        profile_id: &str,
        spec: v1::ProfileSpec,
        expected_version: u64,
    ) -> Result<ProfileRow, SchedulerError> {
        let current = self.profile(profile_id).await?;
        if expected_version != 0 && expected_version as i64 != current.version {
            return Err(SchedulerError::FailedPrecondition(format!(
                "profile {profile_id} changed since you read it (version {} now, {expected_version} read); read it again",
                current.version
            )));
        }
        let spec = profiles::validate(spec)?;
        if spec.tenant_id != current.tenant_id {
            self.require_registered_tenant("spec.tenant_id", &spec.tenant_id)
                .await?;
        }
        self.refuse_shared_folder(&spec, Some(&current.profile_id))
            .await?;
        let now = Utc::now();
        let row = ProfileRow {
            tenant_id: spec.tenant_id.clone(),
            name: spec.name.clone(),
            next_run_at: next_run_millis(&spec, now),
            enabled: spec.enabled,
            spec: spec.encode_to_vec(),
            version: current.version + 1,
            updated_at: now.timestamp_millis(),
            ..current.clone()
        };
        if !self.store.update_profile(&row, current.version).await? {
            return Err(SchedulerError::FailedPrecondition(format!(
                "profile {profile_id} changed while you updated it; read it again"
            )));
        }
        self.audit(
            caller,
            "profile.updated",
            profile_id,
            &format!("version {}", row.version),
        )
        .await?;
        Ok(row)
    }

    /// See [`profiles::refuse_shared_folder`]; `own_id` is the profile being
    /// updated, which does not collide with itself.
    async fn refuse_shared_folder(
        &self,
        spec: &v1::ProfileSpec,
        own_id: Option<&str>,
    ) -> Result<(), SchedulerError> {
        let mut others = Vec::new();
        for row in self.store.list_profiles(&spec.tenant_id).await? {
            if Some(row.profile_id.as_str()) == own_id {
                continue;
            }
            if row.name == spec.name {
                // The same name is the plainer mistake; say that one.
                return Err(SchedulerError::AlreadyExists(format!(
                    "tenant {} already has a profile named \"{}\"",
                    row.tenant_id, row.name
                )));
            }
            others.push((row.profile_id.clone(), decode_spec(&row)?));
        }
        profiles::refuse_shared_folder(spec, &others)
    }

    pub async fn profile(&self, profile_id: &str) -> Result<ProfileRow, SchedulerError> {
        self.store
            .get_profile(profile_id.trim())
            .await?
            .ok_or_else(|| SchedulerError::NotFound(format!("profile {profile_id} does not exist")))
    }

    pub async fn delete_profile(
        &self,
        caller: &Caller,
        profile_id: &str,
    ) -> Result<(), SchedulerError> {
        if let Some(run_id) = self.store.run_lock_holder(profile_id, now_millis()).await? {
            return Err(SchedulerError::Busy(format!(
                "profile {profile_id} has run {run_id} in progress; cancel it first"
            )));
        }
        if !self.store.delete_profile(profile_id).await? {
            return Err(SchedulerError::NotFound(format!(
                "profile {profile_id} does not exist"
            )));
        }
        self.audit(caller, "profile.deleted", profile_id, "").await
    }

    pub async fn explain_profile(
        &self,
        profile_id: &str,
    ) -> Result<v1::ExplainProfileResponse, SchedulerError> {
        let profile = self.profile(profile_id).await?;
        let spec = decode_spec(&profile)?;
        let filter = self
            .directory
            .explain_filter(&profile.tenant_id, spec.source.clone().unwrap_or_default())
            .await?;
        let targets = self
            .directory
            .resolve_targets(&profile.tenant_id, spec.targets.clone().unwrap_or_default())
            .await?;
        Ok(v1::ExplainProfileResponse {
            filter: Some(filter),
            target_mailboxes: targets.mailbox_ids.len() as u64,
            unresolved_targets: targets.unresolved,
            target_rules: targets.rules,
        })
    }

    /// The profiles of one tenant; every tenant's when `tenant_id` is empty.
    pub async fn list_profiles(&self, tenant_id: &str) -> Result<Vec<ProfileRow>, SchedulerError> {
        Ok(self.store.list_profiles(tenant_id).await?)
    }

    /// The profile, if `caller` may see its tenant: another tenant's profile
    /// is "not found" to a tenant-scoped API key, as if it did not exist.
    pub async fn profile_for(
        &self,
        caller: &Caller,
        profile_id: &str,
    ) -> Result<ProfileRow, SchedulerError> {
        let row = self.profile(profile_id).await?;
        if !caller.sees_tenant(&row.tenant_id) {
            return Err(SchedulerError::NotFound(format!(
                "profile {profile_id} does not exist"
            )));
        }
        Ok(row)
    }
}

fn next_run_millis(spec: &v1::ProfileSpec, now: chrono::DateTime<Utc>) -> Option<i64> {
    if !spec.enabled {
        return None;
    }
    profiles::next_run(spec.schedule.as_ref(), now).map(|at| at.timestamp_millis())
}
