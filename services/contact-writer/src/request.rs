//! What a writer request asks for, checked once where it comes in — an RPC
//! or a leased work item — so the use cases ([`crate::sync`],
//! [`crate::reconcile`], [`crate::purge`]) take checked values, never the
//! raw protobuf messages. Every error names the field at fault.

use galsync_proto::v1;

use crate::error::Error;
use crate::reconcile::{MailboxJob, DEFAULT_FOLDER_NAME};

/// The profile a request naming none writes as.
const DEFAULT_PROFILE: &str = "default";

/// One mailbox's work from a `SyncMailboxRequest`.
#[derive(Debug, Clone)]
pub enum MailboxWork {
    /// Make the mailbox's folder equal to the snapshot's entries.
    Reconcile {
        job: MailboxJob,
        snapshot_id: String,
    },
    /// The mailbox left the profile's targets: remove what the profile wrote.
    Purge(PurgeJob),
}

impl MailboxWork {
    /// Checks `request`; a dry run (`PlanMailbox`, or a run's plan) never
    /// purges.
    pub fn parse(request: &v1::SyncMailboxRequest, dry_run: bool) -> Result<Self, Error> {
        if request.purge {
            if dry_run {
                return Err(Error::InvalidRequest(
                    "a purge is not planned: dry runs do not purge removed targets".to_owned(),
                ));
            }
            let folder_name = request
                .policy
                .as_ref()
                .map(|policy| policy.folder_name.as_str())
                .unwrap_or_default();
            return PurgeJob::new(
                &request.tenant_id,
                &request.mailbox_id,
                &request.profile_id,
                folder_name,
            )
            .map(MailboxWork::Purge);
        }
        let (tenant_id, mailbox_id) =
            tenant_and_mailbox(&request.tenant_id, &request.mailbox_id, |field| {
                Error::InvalidRequest(format!("{field} is required"))
            })?;
        if request.snapshot_id.is_empty() {
            return Err(Error::InvalidRequest("snapshot_id is required".to_owned()));
        }
        Ok(MailboxWork::Reconcile {
            job: MailboxJob {
                tenant_id,
                mailbox_id,
                profile_id: profile_or_default(&request.profile_id).to_owned(),
                policy: request.policy.clone().unwrap_or_default(),
                dry_run,
            },
            snapshot_id: request.snapshot_id.clone(),
        })
    }
}

/// A purge, checked: whose contacts go from which mailbox's folder.
#[derive(Debug, Clone)]
pub struct PurgeJob {
    pub tenant_id: String,
    pub mailbox_id: String,
    /// `None`: the request named no profile, so every galsync contact goes.
    pub profile_id: Option<String>,
    /// The folder, the default name when the request named none.
    pub folder_name: String,
}

impl PurgeJob {
    /// Checks a `PurgeMailboxRequest`.
    pub fn from_request(request: &v1::PurgeMailboxRequest) -> Result<Self, Error> {
        PurgeJob::new(
            &request.tenant_id,
            &request.mailbox_id,
            &request.profile_id,
            &request.folder_name,
        )
    }

    fn new(
        tenant_id: &str,
        mailbox_id: &str,
        profile_id: &str,
        folder_name: &str,
    ) -> Result<Self, Error> {
        let (tenant_id, mailbox_id) = tenant_and_mailbox(tenant_id, mailbox_id, |_| {
            Error::InvalidRequest("tenant_id and mailbox_id are required".to_owned())
        })?;
        let folder_name = folder_name.trim();
        Ok(PurgeJob {
            tenant_id,
            mailbox_id,
            profile_id: (!profile_id.is_empty()).then(|| profile_id.to_owned()),
            folder_name: if folder_name.is_empty() {
                DEFAULT_FOLDER_NAME
            } else {
                folder_name
            }
            .to_owned(),
        })
    }

    /// The profile whose stored state the purge reads and forgets.
    pub fn store_profile(&self) -> &str {
        profile_or_default(self.profile_id.as_deref().unwrap_or_default())
    }
}

/// The tenant and mailbox a request names, trimmed, the mailbox checked to
/// be an object id or a user principal name; `missing(field)` is the error
/// for a field left empty.
fn tenant_and_mailbox(
    tenant_id: &str,
    mailbox_id: &str,
    missing: impl Fn(&str) -> Error,
) -> Result<(String, String), Error> {
    let (tenant_id, mailbox_id) = (tenant_id.trim(), mailbox_id.trim());
    if tenant_id.is_empty() {
        return Err(missing("tenant_id"));
    }
    if mailbox_id.is_empty() {
        return Err(missing("mailbox_id"));
    }
    galsync_graph::UserKey::parse("mailbox_id", mailbox_id)
        .map_err(|error| Error::InvalidRequest(error.to_string()))?;
    Ok((tenant_id.to_owned(), mailbox_id.to_owned()))
}

fn profile_or_default(profile_id: &str) -> &str {
    if profile_id.is_empty() {
        DEFAULT_PROFILE
    } else {
        profile_id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sync_request() -> v1::SyncMailboxRequest {
        v1::SyncMailboxRequest {
            tenant_id: " 72f988bf-86f1-41af-91ab-2d7cd011db47 ".to_owned(),
            mailbox_id: " adele@contoso.com ".to_owned(),
            snapshot_id: "s1".to_owned(),
            ..Default::default()
        }
    }

    fn refusal(request: &v1::SyncMailboxRequest, dry_run: bool) -> String {
        match MailboxWork::parse(request, dry_run) {
            Err(Error::InvalidRequest(problem)) => problem,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_sync_request_is_trimmed_and_writes_as_the_default_profile_when_it_names_none() {
        let MailboxWork::Reconcile { job, snapshot_id } =
            MailboxWork::parse(&sync_request(), false).unwrap()
        else {
            panic!("a reconciliation");
        };
        assert_eq!(job.tenant_id, "72f988bf-86f1-41af-91ab-2d7cd011db47");
        assert_eq!(job.mailbox_id, "adele@contoso.com");
        assert_eq!(job.profile_id, "default");
        assert_eq!(snapshot_id, "s1");
    }

    #[test]
    fn each_missing_field_is_named() {
        let mut request = sync_request();
        request.snapshot_id.clear();
        assert_eq!(refusal(&request, false), "snapshot_id is required");
        request.mailbox_id = "  ".to_owned();
        assert_eq!(refusal(&request, false), "mailbox_id is required");
        request.tenant_id.clear();
        assert_eq!(refusal(&request, false), "tenant_id is required");
        let mut request = sync_request();
        request.mailbox_id = "not a mailbox".to_owned();
        assert!(refusal(&request, false).contains("mailbox_id"));
    }

    #[test]
    fn a_purge_is_never_planned_and_names_its_profile_or_none() {
        let mut request = sync_request();
        request.purge = true;
        assert!(refusal(&request, true).starts_with("a purge is not planned"));
        let MailboxWork::Purge(purge) = MailboxWork::parse(&request, false).unwrap() else {
            panic!("a purge");
        };
        assert_eq!(purge.profile_id, None);
        assert_eq!(purge.store_profile(), "default");
        assert_eq!(purge.folder_name, DEFAULT_FOLDER_NAME);
        let purge = PurgeJob::from_request(&v1::PurgeMailboxRequest {
            tenant_id: "t".to_owned(),
            mailbox_id: "adele@contoso.com".to_owned(),
            folder_name: " Staff ".to_owned(),
            profile_id: "support".to_owned(),
        })
        .unwrap();
        assert_eq!(purge.store_profile(), "support");
        assert_eq!(purge.folder_name, "Staff");
        let missing = PurgeJob::from_request(&v1::PurgeMailboxRequest::default()).unwrap_err();
        assert!(
            matches!(missing, Error::InvalidRequest(problem) if problem == "tenant_id and mailbox_id are required")
        );
    }
}
