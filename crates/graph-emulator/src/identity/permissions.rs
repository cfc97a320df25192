//! The one table of Microsoft Graph permissions the emulator knows, with
//! Microsoft's ids, and the Entra directory roles it models.
//!
//! Permission ids are Microsoft Graph's own, the same in every tenant
//! (https://learn.microsoft.com/graph/permissions-reference): the `id` of an
//! app role (application permission) or of an `oauth2PermissionScope`
//! (delegated permission) on Microsoft Graph's service principal. Role
//! template ids are Entra's
//! (https://learn.microsoft.com/entra/identity/role-based-access-control/permissions-reference).

use std::collections::BTreeSet;

use uuid::Uuid;

use super::access_token::GRAPH_APP_ID;
use super::model::{RequiredResourceAccess, ResourceAccess};

/// One Microsoft Graph permission: its name and, where it exists in that
/// form, its application (app role) id and its delegated (scope) id.
#[derive(Debug, Clone, Copy)]
pub struct GraphPermission {
    pub name: &'static str,
    pub app_role_id: Option<&'static str>,
    pub scope_id: Option<&'static str>,
    /// What the consent screen shows for the app role.
    pub app_role_display_name: &'static str,
}

const fn both(
    name: &'static str,
    app_role_id: &'static str,
    scope_id: &'static str,
    app_role_display_name: &'static str,
) -> GraphPermission {
    GraphPermission {
        name,
        app_role_id: Some(app_role_id),
        scope_id: Some(scope_id),
        app_role_display_name,
    }
}

const fn app_only(
    name: &'static str,
    app_role_id: &'static str,
    app_role_display_name: &'static str,
) -> GraphPermission {
    GraphPermission {
        name,
        app_role_id: Some(app_role_id),
        scope_id: None,
        app_role_display_name,
    }
}

/// The Microsoft Graph permissions galsync and its provisioning use.
pub const GRAPH_PERMISSIONS: &[GraphPermission] = &[
    app_only(
        "User.Read.All",
        "df021288-bdef-4463-88db-98f22de89214",
        "Read all users' full profiles",
    ),
    app_only(
        "User.ReadWrite.All",
        "741f803b-c850-494e-b5df-cde7c675a1ca",
        "Read and write all users' full profiles",
    ),
    app_only(
        "Group.Read.All",
        "5b567255-7703-4780-807c-7be8301ae99b",
        "Read all groups",
    ),
    app_only(
        "Group.ReadWrite.All",
        "62a82d76-70ea-41e2-9197-370581804d09",
        "Read and write all groups",
    ),
    app_only(
        "GroupMember.Read.All",
        "98830695-27a2-44f7-8c18-0c3ebc9698f6",
        "Read all group memberships",
    ),
    both(
        "Directory.Read.All",
        "7ab1d382-f21e-4acd-a863-ba3e13f7da61",
        "06da0dbc-49e2-44d2-8312-53f166ab848a",
        "Read directory data",
    ),
    both(
        "Directory.ReadWrite.All",
        "19dbc75e-c2e2-444c-a770-ec69d8559fc7",
        "c5366453-9fb0-48a5-a156-24f0c49a4b84",
        "Read and write directory data",
    ),
    both(
        "MailboxSettings.Read",
        "40f97065-369a-49f4-947c-6a255697ae91",
        "87f447af-9fa4-4c32-9dfa-4a57a73d18ce",
        "Read all user mailbox settings",
    ),
    both(
        "Contacts.Read",
        "089fe4d0-434a-44c5-8827-41ba8a0b17f5",
        "ff74d97f-43af-4b68-9f2a-b77ee6968c5d",
        "Read contacts in all mailboxes",
    ),
    both(
        "Contacts.ReadWrite",
        "6918b873-d17a-4dc1-b314-35f528134491",
        "d56682ec-c09e-4743-aaf4-1a3aac4caa21",
        "Read and write contacts in all mailboxes",
    ),
    app_only(
        "Place.Read.All",
        "913b9306-0ce1-42b8-9137-6a7df690a760",
        "Read all company places",
    ),
    both(
        "Application.Read.All",
        "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30",
        "c79f8feb-a9db-4090-85f9-90d820caa0eb",
        "Read all applications",
    ),
    both(
        "Application.ReadWrite.All",
        "1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9",
        "bdfbf15f-ee85-4955-8675-146e8e5296b5",
        "Read and write all applications",
    ),
    app_only(
        "Application.ReadWrite.OwnedBy",
        "18a4783c-866b-4cc7-a460-3d5e5662c884",
        "Manage apps that this app creates or owns",
    ),
    app_only(
        "AppRoleAssignment.ReadWrite.All",
        "06b708a9-e830-4db3-a914-8e69da51d44f",
        "Manage app permission grants and app role assignments",
    ),
];

/// The Graph permission with this name (case-insensitive, as Entra compares them).
pub fn permission_by_name(name: &str) -> Option<&'static GraphPermission> {
    GRAPH_PERMISSIONS
        .iter()
        .find(|permission| permission.name.eq_ignore_ascii_case(name))
}

/// The Graph application permission whose app role id is `id`.
pub fn app_role_by_id(id: Uuid) -> Option<&'static GraphPermission> {
    GRAPH_PERMISSIONS.iter().find(|permission| {
        permission
            .app_role_id
            .and_then(|known| known.parse::<Uuid>().ok())
            == Some(id)
    })
}

/// The Graph delegated permission whose scope id is `id`.
pub fn scope_by_id(id: Uuid) -> Option<&'static GraphPermission> {
    GRAPH_PERMISSIONS.iter().find(|permission| {
        permission
            .scope_id
            .and_then(|known| known.parse::<Uuid>().ok())
            == Some(id)
    })
}

/// `signInAudience` of an app registered through the admin API.
pub fn sign_in_audience(multi_tenant: bool) -> &'static str {
    if multi_tenant {
        "AzureADMultipleOrgs"
    } else {
        "AzureADMyOrg"
    }
}

/// Microsoft Graph's `requiredResourceAccess` entry for permissions named in
/// the admin API (names the table does not know are left out).
pub fn required_resource_access_for(
    roles: &BTreeSet<String>,
    scopes: &BTreeSet<String>,
) -> Vec<RequiredResourceAccess> {
    let mut resource_access = Vec::new();
    for role in roles {
        if let Some(id) = permission_by_name(role).and_then(|known| known.app_role_id) {
            if let Ok(id) = id.parse() {
                resource_access.push(ResourceAccess {
                    id,
                    kind: "Role".to_owned(),
                });
            }
        }
    }
    for scope in scopes {
        if let Some(id) = permission_by_name(scope).and_then(|known| known.scope_id) {
            if let Ok(id) = id.parse() {
                resource_access.push(ResourceAccess {
                    id,
                    kind: "Scope".to_owned(),
                });
            }
        }
    }
    if resource_access.is_empty() {
        return Vec::new();
    }
    vec![RequiredResourceAccess {
        resource_app_id: GRAPH_APP_ID.to_owned(),
        resource_access,
    }]
}

/// The Microsoft Graph app roles and scopes named in a `requiredResourceAccess`
/// (ids of other resources, and ids the table does not know, are kept only
/// in the raw list).
pub fn graph_permissions_requested(
    required: &[RequiredResourceAccess],
) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut roles = BTreeSet::new();
    let mut scopes = BTreeSet::new();
    for resource in required {
        if !resource.resource_app_id.eq_ignore_ascii_case(GRAPH_APP_ID) {
            continue;
        }
        for access in &resource.resource_access {
            if access.kind == "Role" {
                if let Some(permission) = app_role_by_id(access.id) {
                    roles.insert(permission.name.to_owned());
                }
            } else if let Some(permission) = scope_by_id(access.id) {
                scopes.insert(permission.name.to_owned());
            }
        }
    }
    (roles, scopes)
}

/// The Entra built-in directory roles the emulator models, with their role
/// template ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DirectoryRole {
    GlobalAdministrator,
    PrivilegedRoleAdministrator,
    ApplicationAdministrator,
    CloudApplicationAdministrator,
    ApplicationDeveloper,
    SecurityAdministrator,
    UserAdministrator,
}

pub const DIRECTORY_ROLES: &[(DirectoryRole, &str, &str)] = &[
    (
        DirectoryRole::GlobalAdministrator,
        "Global Administrator",
        "62e90394-69f5-4237-9190-012177145e10",
    ),
    (
        DirectoryRole::PrivilegedRoleAdministrator,
        "Privileged Role Administrator",
        "e8611ab8-c189-46e8-94e1-60213ab1f814",
    ),
    (
        DirectoryRole::ApplicationAdministrator,
        "Application Administrator",
        "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
    ),
    (
        DirectoryRole::CloudApplicationAdministrator,
        "Cloud Application Administrator",
        "158c047a-c907-4556-b7ef-446551a6b5f7",
    ),
    (
        DirectoryRole::ApplicationDeveloper,
        "Application Developer",
        "cf1c38e5-3621-4004-a7cb-879624dced7c",
    ),
    (
        DirectoryRole::SecurityAdministrator,
        "Security Administrator",
        "194ae4cb-b126-40b2-bd5b-6091b380977d",
    ),
    (
        DirectoryRole::UserAdministrator,
        "User Administrator",
        "fe930be7-5e62-47db-91af-98c3a49a38b1",
    ),
];

impl DirectoryRole {
    /// A role by display name or role template id (case-insensitive).
    pub fn parse(text: &str) -> Option<DirectoryRole> {
        let wanted = text.trim();
        DIRECTORY_ROLES
            .iter()
            .find(|(_, name, template_id)| {
                name.eq_ignore_ascii_case(wanted) || template_id.eq_ignore_ascii_case(wanted)
            })
            .map(|(role, _, _)| *role)
    }

    pub fn display_name(self) -> &'static str {
        DIRECTORY_ROLES
            .iter()
            .find(|(role, _, _)| *role == self)
            .map(|(_, name, _)| *name)
            .unwrap_or_default()
    }

    pub fn template_id(self) -> &'static str {
        DIRECTORY_ROLES
            .iter()
            .find(|(role, _, _)| *role == self)
            .map(|(_, _, template_id)| *template_id)
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_id_is_a_guid_and_names_are_unique() {
        let mut names = BTreeSet::new();
        for permission in GRAPH_PERMISSIONS {
            assert!(names.insert(permission.name), "{} twice", permission.name);
            for id in [permission.app_role_id, permission.scope_id]
                .into_iter()
                .flatten()
            {
                assert!(id.parse::<Uuid>().is_ok(), "{id} of {}", permission.name);
            }
        }
        for (_, name, template_id) in DIRECTORY_ROLES {
            assert!(template_id.parse::<Uuid>().is_ok(), "{name}");
        }
    }

    #[test]
    fn required_resource_access_round_trips_through_names() {
        let roles: BTreeSet<String> = ["Contacts.ReadWrite".to_owned(), "User.Read.All".to_owned()]
            .into_iter()
            .collect();
        let scopes: BTreeSet<String> = ["Application.ReadWrite.All".to_owned()].into();
        let required = required_resource_access_for(&roles, &scopes);
        assert_eq!(graph_permissions_requested(&required), (roles, scopes));
    }
}
