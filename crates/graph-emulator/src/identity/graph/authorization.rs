//! Who may manage applications and grant app roles through Graph: the
//! permission in the token, and for a signed-in admin (delegated token) also
//! a directory role. The strictest reading of each page's Permissions
//! section and its "In delegated scenarios…" role list is taken; the tenant
//! is treated as one where the admin restricted app registration to
//! administrators (members without a role cannot create apps).

use std::collections::BTreeSet;

use crate::auth::GraphCaller;
use crate::errors::GraphError;
use crate::identity::permissions::DirectoryRole;
use crate::AppState;

/// Permissions that allow reading applications and service principals
/// (https://learn.microsoft.com/graph/api/application-list,
/// https://learn.microsoft.com/graph/api/serviceprincipal-list).
pub const APPLICATION_READ: &[&str] = &[
    "Application.Read.All",
    "Application.ReadWrite.All",
    "Application.ReadWrite.OwnedBy",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];

/// The second permission `appRoleAssignedTo` needs next to
/// AppRoleAssignment.ReadWrite.All ("AppRoleAssignment.ReadWrite.All and
/// Application.Read.All", higher: "… and Directory.Read.All").
const ASSIGNMENT_COMPANIONS: &[&str] = &[
    "Application.Read.All",
    "Application.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];

/// How the caller is allowed to write an application.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteAccess {
    /// Any application of the tenant (an administrator, or
    /// Application.ReadWrite.All).
    AnyApplication,
    /// Only applications the caller owns; what it creates, it owns
    /// (Application Developer, or Application.ReadWrite.OwnedBy).
    OwnedOnly,
}

pub fn is_delegated(caller: &GraphCaller) -> bool {
    caller.claims.idtyp == "user"
}

fn delegated_roles(state: &AppState, caller: &GraphCaller) -> BTreeSet<DirectoryRole> {
    state
        .identity
        .directory_roles(caller.tenant_id, &caller.claims.oid)
}

/// Reading applications and service principals.
pub fn require_read(caller: &GraphCaller) -> Result<(), GraphError> {
    caller.require_directory(APPLICATION_READ)
}

/// Creating or updating an application or a service principal.
///
/// https://learn.microsoft.com/graph/api/application-post-applications,
/// https://learn.microsoft.com/graph/api/application-update,
/// https://learn.microsoft.com/graph/api/application-upsert,
/// https://learn.microsoft.com/graph/api/serviceprincipal-post-serviceprincipals:
/// delegated Application.ReadWrite.All; application
/// Application.ReadWrite.OwnedBy or Application.ReadWrite.All; a delegated
/// admin must hold Application Administrator, Cloud Application
/// Administrator, Security Administrator (or Global Administrator), or
/// Application Developer for the apps they create and own.
pub fn require_application_write(
    state: &AppState,
    caller: &GraphCaller,
) -> Result<WriteAccess, GraphError> {
    if !is_delegated(caller) {
        if caller.claims.has_any(&["Application.ReadWrite.All"]) {
            return Ok(WriteAccess::AnyApplication);
        }
        if caller.claims.has_any(&["Application.ReadWrite.OwnedBy"]) {
            return Ok(WriteAccess::OwnedOnly);
        }
        return Err(GraphError::authorization_denied());
    }
    caller.require_directory(&["Application.ReadWrite.All"])?;
    let roles = delegated_roles(state, caller);
    let administrator = [
        DirectoryRole::GlobalAdministrator,
        DirectoryRole::ApplicationAdministrator,
        DirectoryRole::CloudApplicationAdministrator,
        DirectoryRole::SecurityAdministrator,
    ];
    if administrator.iter().any(|role| roles.contains(role)) {
        return Ok(WriteAccess::AnyApplication);
    }
    if roles.contains(&DirectoryRole::ApplicationDeveloper) {
        return Ok(WriteAccess::OwnedOnly);
    }
    Err(GraphError::authorization_denied())
}

/// Whether `access` lets the caller change an application owned by `owners`.
pub fn may_change(
    access: WriteAccess,
    caller: &GraphCaller,
    owners: &[String],
) -> Result<(), GraphError> {
    match access {
        WriteAccess::AnyApplication => Ok(()),
        WriteAccess::OwnedOnly => {
            let owned = owners
                .iter()
                .any(|owner| owner.eq_ignore_ascii_case(&caller.claims.oid));
            if owned {
                Ok(())
            } else {
                Err(GraphError::authorization_denied())
            }
        }
    }
}

/// Granting (or reading grants of) an app role of a resource service principal.
///
/// https://learn.microsoft.com/graph/api/serviceprincipal-post-approleassignedto:
/// AppRoleAssignment.ReadWrite.All and Application.Read.All (or a higher
/// privileged companion), delegated or application; a delegated admin must
/// hold one of the listed roles, and for Microsoft Graph's own app roles the
/// least privileged supported role is Privileged Role Administrator
/// (Application and Cloud Application Administrators cannot grant Microsoft
/// Graph application permissions,
/// https://learn.microsoft.com/entra/identity/role-based-access-control/permissions-reference#application-administrator).
pub fn require_app_role_grant(
    state: &AppState,
    caller: &GraphCaller,
    resource_is_microsoft_graph: bool,
) -> Result<(), GraphError> {
    caller.require_directory(&["AppRoleAssignment.ReadWrite.All"])?;
    caller.require_directory(ASSIGNMENT_COMPANIONS)?;
    if !is_delegated(caller) {
        return Ok(());
    }
    let roles = delegated_roles(state, caller);
    let mut allowed = vec![
        DirectoryRole::GlobalAdministrator,
        DirectoryRole::PrivilegedRoleAdministrator,
    ];
    if !resource_is_microsoft_graph {
        allowed.extend([
            DirectoryRole::ApplicationAdministrator,
            DirectoryRole::CloudApplicationAdministrator,
            DirectoryRole::UserAdministrator,
        ]);
    }
    if allowed.iter().any(|role| roles.contains(role)) {
        Ok(())
    } else {
        Err(GraphError::authorization_denied())
    }
}

/// Reading app role assignments
/// (https://learn.microsoft.com/graph/api/serviceprincipal-list-approleassignedto).
pub fn require_assignment_read(caller: &GraphCaller) -> Result<(), GraphError> {
    let mut permissions = APPLICATION_READ.to_vec();
    permissions.push("AppRoleAssignment.ReadWrite.All");
    caller.require_directory(&permissions)
}
