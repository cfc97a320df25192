//! The scheduler's public API as the console uses it: every call carries the
//! signed-in person and their role (see the scheduler's `on_behalf` module),
//! over mTLS with the console's own identity.

use galsync_proto::v1;
use galsync_proto::v1::scheduler_client::SchedulerClient;
use tonic::transport::Channel;

use crate::session::Session;

/// How many runs the pages list.
const RUNS_LISTED: u32 = 50;

#[derive(Clone)]
pub struct Api {
    client: SchedulerClient<Channel>,
}

impl Api {
    pub fn new(channel: Channel) -> Self {
        Self {
            client: SchedulerClient::new(channel),
        }
    }

    fn request<T>(&self, person: &Session, message: T) -> Result<tonic::Request<T>, tonic::Status> {
        on_behalf_request(person, message)
    }

    pub async fn profiles(&self, person: &Session) -> Result<Vec<v1::Profile>, tonic::Status> {
        let request = self.request(person, v1::ListProfilesRequest::default())?;
        let response = self.client.clone().list_profiles(request).await?;
        Ok(response.into_inner().profiles)
    }

    /// The profiles that sync `tenant_id`.
    pub async fn profiles_of_tenant(
        &self,
        person: &Session,
        tenant_id: &str,
    ) -> Result<Vec<v1::Profile>, tonic::Status> {
        let message = v1::ListProfilesRequest {
            tenant_id: tenant_id.to_owned(),
        };
        let request = self.request(person, message)?;
        let response = self.client.clone().list_profiles(request).await?;
        Ok(response.into_inner().profiles)
    }

    pub async fn profile(
        &self,
        person: &Session,
        profile_id: &str,
    ) -> Result<v1::Profile, tonic::Status> {
        let message = v1::GetProfileRequest {
            profile_id: profile_id.to_owned(),
        };
        let request = self.request(person, message)?;
        Ok(self.client.clone().get_profile(request).await?.into_inner())
    }

    /// INVALID_ARGUMENT names the first invalid field of `spec`.
    pub async fn create_profile(
        &self,
        person: &Session,
        spec: v1::ProfileSpec,
    ) -> Result<v1::Profile, tonic::Status> {
        let message = v1::CreateProfileRequest { spec: Some(spec) };
        let request = self.request(person, message)?;
        Ok(self
            .client
            .clone()
            .create_profile(request)
            .await?
            .into_inner())
    }

    /// FAILED_PRECONDITION when the profile changed since `expected_version`.
    pub async fn update_profile(
        &self,
        person: &Session,
        profile_id: &str,
        spec: v1::ProfileSpec,
        expected_version: u64,
    ) -> Result<v1::Profile, tonic::Status> {
        let message = v1::UpdateProfileRequest {
            profile_id: profile_id.to_owned(),
            spec: Some(spec),
            expected_version,
        };
        let request = self.request(person, message)?;
        Ok(self
            .client
            .clone()
            .update_profile(request)
            .await?
            .into_inner())
    }

    pub async fn explain_profile(
        &self,
        person: &Session,
        profile_id: &str,
    ) -> Result<v1::ExplainProfileResponse, tonic::Status> {
        let message = v1::ExplainProfileRequest {
            profile_id: profile_id.to_owned(),
        };
        let request = self.request(person, message)?;
        Ok(self
            .client
            .clone()
            .explain_profile(request)
            .await?
            .into_inner())
    }

    /// Starts a run now; a dry run's writers plan and change nothing.
    /// FAILED_PRECONDITION while a run of the profile is in progress.
    pub async fn start_run(
        &self,
        person: &Session,
        profile_id: &str,
        dry_run: bool,
    ) -> Result<v1::Run, tonic::Status> {
        let message = v1::RunProfileRequest {
            profile_id: profile_id.to_owned(),
            dry_run,
            full_read: false,
        };
        let request = self.request(person, message)?;
        Ok(self.client.clone().run_profile(request).await?.into_inner())
    }

    /// FAILED_PRECONDITION while a run of the profile is in progress.
    pub async fn delete_profile(
        &self,
        person: &Session,
        profile_id: &str,
    ) -> Result<(), tonic::Status> {
        let message = v1::DeleteProfileRequest {
            profile_id: profile_id.to_owned(),
        };
        let request = self.request(person, message)?;
        self.client.clone().delete_profile(request).await?;
        Ok(())
    }

    /// The first `page_size` changes a dry run planned.
    pub async fn planned_changes(
        &self,
        person: &Session,
        run_id: &str,
        page_size: u32,
        page_token: &str,
    ) -> Result<v1::ListPlannedChangesResponse, tonic::Status> {
        let message = v1::ListPlannedChangesRequest {
            run_id: run_id.to_owned(),
            mailbox_id: String::new(),
            page_size,
            page_token: page_token.to_owned(),
        };
        let request = self.request(person, message)?;
        Ok(self
            .client
            .clone()
            .list_planned_changes(request)
            .await?
            .into_inner())
    }

    /// The newest runs first.
    pub async fn runs(&self, person: &Session) -> Result<Vec<v1::Run>, tonic::Status> {
        let message = v1::ListRunsRequest {
            profile_id: String::new(),
            limit: RUNS_LISTED,
        };
        let request = self.request(person, message)?;
        let response = self.client.clone().list_runs(request).await?;
        Ok(response.into_inner().runs)
    }

    /// The newest `limit` runs of one profile (the API allows 1000 at most).
    pub async fn runs_of(
        &self,
        person: &Session,
        profile_id: &str,
        limit: u32,
    ) -> Result<Vec<v1::Run>, tonic::Status> {
        let message = v1::ListRunsRequest {
            profile_id: profile_id.to_owned(),
            limit,
        };
        let request = self.request(person, message)?;
        let response = self.client.clone().list_runs(request).await?;
        Ok(response.into_inner().runs)
    }

    pub async fn run(&self, person: &Session, run_id: &str) -> Result<v1::Run, tonic::Status> {
        let message = v1::GetRunRequest {
            run_id: run_id.to_owned(),
        };
        let request = self.request(person, message)?;
        Ok(self.client.clone().get_run(request).await?.into_inner())
    }

    pub async fn cancel_run(
        &self,
        person: &Session,
        run_id: &str,
    ) -> Result<v1::Run, tonic::Status> {
        let message = v1::CancelRunRequest {
            run_id: run_id.to_owned(),
        };
        let request = self.request(person, message)?;
        Ok(self.client.clone().cancel_run(request).await?.into_inner())
    }

    /// Releases the deletes the deletion guard held in a run awaiting
    /// approval; the run goes back to writing.
    pub async fn approve_deletions(
        &self,
        person: &Session,
        run_id: &str,
    ) -> Result<v1::Run, tonic::Status> {
        let message = v1::ApproveDeletionsRequest {
            run_id: run_id.to_owned(),
        };
        let request = self.request(person, message)?;
        Ok(self
            .client
            .clone()
            .approve_deletions(request)
            .await?
            .into_inner())
    }

    /// Every API key, newest first, revoked ones included (admin only).
    pub async fn api_keys(&self, person: &Session) -> Result<Vec<v1::ApiKey>, tonic::Status> {
        let request = self.request(person, v1::ListApiKeysRequest {})?;
        let response = self.client.clone().list_api_keys(request).await?;
        Ok(response.into_inner().keys)
    }

    /// A new key; its secret is in the answer, and nowhere ever again.
    pub async fn create_api_key(
        &self,
        person: &Session,
        message: v1::CreateApiKeyRequest,
    ) -> Result<v1::ApiKey, tonic::Status> {
        let request = self.request(person, message)?;
        Ok(self
            .client
            .clone()
            .create_api_key(request)
            .await?
            .into_inner())
    }

    pub async fn revoke_api_key(
        &self,
        person: &Session,
        key_id: &str,
    ) -> Result<v1::ApiKey, tonic::Status> {
        let message = v1::RevokeApiKeyRequest {
            key_id: key_id.to_owned(),
        };
        let request = self.request(person, message)?;
        Ok(self
            .client
            .clone()
            .revoke_api_key(request)
            .await?
            .into_inner())
    }

    /// A page of the scheduler's audit log, newest first (admin only).
    pub async fn audit_log(
        &self,
        person: &Session,
        message: v1::ListAuditLogRequest,
    ) -> Result<v1::ListAuditLogResponse, tonic::Status> {
        let request = self.request(person, message)?;
        Ok(self
            .client
            .clone()
            .list_audit_log(request)
            .await?
            .into_inner())
    }

    pub async fn watch_run(
        &self,
        person: &Session,
        run_id: &str,
    ) -> Result<tonic::Streaming<v1::RunEvent>, tonic::Status> {
        let message = v1::WatchRunRequest {
            run_id: run_id.to_owned(),
        };
        let request = self.request(person, message)?;
        Ok(self.client.clone().watch_run(request).await?.into_inner())
    }
}

/// A request the console makes for `person`: the two on-behalf-of entries
/// (`galsync_platform::on_behalf`) that the scheduler and the auth-broker
/// believe only from the console's identity.
pub(crate) fn on_behalf_request<T>(
    person: &Session,
    message: T,
) -> Result<tonic::Request<T>, tonic::Status> {
    let mut request = tonic::Request::new(message);
    galsync_platform::on_behalf::attach(&mut request, &person.person, person.role)
        .map_err(tonic::Status::invalid_argument)?;
    Ok(request)
}
