//! One folder per mailbox: a profile may not write the folder another
//! profile of its tenant writes on a mailbox both may target.

use galsync_proto::v1;

use super::{echo, invalid, DEFAULT_FOLDER_NAME};
use crate::error::SchedulerError;

/// Whether two target selectors may name one mailbox. Without reading the
/// directory only two lists of explicit users with no entry in common are
/// known apart (a user named by UPN in one and by object id in the other is
/// not caught here; the writer's per-profile ownership still keeps each
/// profile's contacts apart).
pub fn may_share_targets(first: &v1::TargetSelector, second: &v1::TargetSelector) -> bool {
    let explicit_only = |selector: &v1::TargetSelector| {
        !selector.all_mailboxes && selector.group_ids.is_empty() && !selector.users.is_empty()
    };
    if !explicit_only(first) || !explicit_only(second) {
        return true;
    }
    let named: std::collections::HashSet<String> = first
        .users
        .iter()
        .map(|user| user.trim().to_lowercase())
        .collect();
    second
        .users
        .iter()
        .any(|user| named.contains(&user.trim().to_lowercase()))
}

/// Refuses a spec whose folder is another profile's folder on a mailbox
/// both may target: two profiles writing one folder would each see the
/// other's contacts. Exchange compares folder names without case.
/// `others` are the tenant's other profiles as (id, spec).
pub fn refuse_shared_folder(
    spec: &v1::ProfileSpec,
    others: &[(String, v1::ProfileSpec)],
) -> Result<(), SchedulerError> {
    let folder_of = |spec: &v1::ProfileSpec| {
        let name = spec
            .write
            .as_ref()
            .map(|write| write.folder_name.trim())
            .unwrap_or_default();
        if name.is_empty() {
            DEFAULT_FOLDER_NAME.to_lowercase()
        } else {
            name.to_lowercase()
        }
    };
    let folder = folder_of(spec);
    let no_targets = v1::TargetSelector::default();
    let targets = spec.targets.as_ref().unwrap_or(&no_targets);
    for (other_id, other) in others {
        if other.tenant_id != spec.tenant_id || folder_of(other) != folder {
            continue;
        }
        if may_share_targets(targets, other.targets.as_ref().unwrap_or(&no_targets)) {
            return Err(invalid(
                "spec.write.folder_name",
                format!(
                    "\"{}\" is already written by profile \"{}\" ({other_id}) on mailboxes this profile may target; choose another folder name, or targets the other profile does not have",
                    echo(spec.write.as_ref().map(|write| write.folder_name.as_str()).unwrap_or_default()),
                    echo(&other.name)
                ),
            ));
        }
    }
    Ok(())
}
