//! Who gets which console role: Entra group object ids (`--role-group`,
//! compared case-insensitively, as GUIDs are) and values of the console
//! app's app roles (`--role-app-role`, compared exactly, as Entra writes
//! them in the ID token's `roles`) mapped to viewer, operator or admin.

use crate::session::Role;

/// Entra group object ids, and values of the console app's app roles,
/// mapped to console roles.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RoleGroups {
    groups: Vec<(Role, String)>,
    app_roles: Vec<(Role, String)>,
}

/// `viewer=…`, `operator=…` or `admin=…`: the role and the trimmed rest.
fn parse_mapping<'a>(mapping: &'a str, what: &str) -> Result<(Role, &'a str), String> {
    let (role, mapped) = mapping
        .split_once('=')
        .ok_or_else(|| format!("{mapping:?}: expected role={what}"))?;
    let role = match role.trim() {
        "viewer" => Role::Viewer,
        "operator" => Role::Operator,
        "admin" => Role::Admin,
        other => return Err(format!("unknown role {other:?}: viewer, operator or admin")),
    };
    let mapped = mapped.trim();
    if mapped.is_empty() {
        return Err(format!("{mapping:?}: the {what} is empty"));
    }
    Ok((role, mapped))
}

impl RoleGroups {
    /// Parses one `role=group-id` flag value.
    pub fn add(&mut self, mapping: &str) -> Result<(), String> {
        let (role, group) = parse_mapping(mapping, "group-object-id")?;
        self.groups.push((role, group.to_ascii_lowercase()));
        Ok(())
    }

    /// Parses one `role=app-role-value` flag value, e.g. `admin=GalSync.Admin`.
    pub fn add_app_role(&mut self, mapping: &str) -> Result<(), String> {
        let (role, value) = parse_mapping(mapping, "app-role-value")?;
        if value.contains(char::is_whitespace) {
            return Err(format!(
                "{mapping:?}: an app role value has no spaces (the Value column of the app registration's App roles)"
            ));
        }
        self.app_roles.push((role, value.to_owned()));
        Ok(())
    }

    /// The highest role any of `groups` maps to; None when none is mapped.
    pub fn role_of(&self, groups: &[String]) -> Option<Role> {
        self.groups
            .iter()
            .filter(|(_, mapped)| {
                groups
                    .iter()
                    .any(|group| group.eq_ignore_ascii_case(mapped))
            })
            .map(|(role, _)| *role)
            .max()
    }

    /// The highest role any of the token's app role values maps to (values
    /// compare exactly, as Entra writes them).
    pub fn role_of_app_roles(&self, roles: &[String]) -> Option<Role> {
        self.app_roles
            .iter()
            .filter(|(_, mapped)| roles.iter().any(|role| role == mapped))
            .map(|(role, _)| *role)
            .max()
    }

    /// Every mapped group object id, once each: what the console asks
    /// Microsoft Graph about on the groups overage.
    pub fn group_ids(&self) -> Vec<String> {
        let mut ids: Vec<String> = self.groups.iter().map(|(_, id)| id.clone()).collect();
        ids.sort();
        ids.dedup();
        ids
    }

    pub fn is_empty(&self) -> bool {
        self.groups.is_empty() && self.app_roles.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_map_to_the_highest_role_and_unmapped_users_get_none() {
        let mut roles = RoleGroups::default();
        roles.add("viewer=g-view").expect("viewer");
        roles.add("admin=G-Admin").expect("admin");
        assert!(roles.add("root=g").is_err());
        assert!(roles.add("admin").is_err());
        assert_eq!(
            roles.role_of(&["g-view".to_owned(), "g-admin".to_owned()]),
            Some(Role::Admin)
        );
        assert_eq!(roles.role_of(&["G-VIEW".to_owned()]), Some(Role::Viewer));
        assert_eq!(roles.role_of(&["other".to_owned()]), None);
    }

    #[test]
    fn app_role_values_map_exactly() {
        let mut roles = RoleGroups::default();
        assert!(roles.is_empty());
        roles
            .add_app_role("operator=GalSync.Operator")
            .expect("operator");
        roles.add_app_role("admin=GalSync.Admin").expect("admin");
        assert!(roles.add_app_role("admin=").is_err());
        assert!(roles.add_app_role("admin=Gal Sync").is_err());
        assert!(!roles.is_empty());
        let held =
            |values: &[&str]| -> Vec<String> { values.iter().map(|v| v.to_string()).collect() };
        assert_eq!(
            roles.role_of_app_roles(&held(&["GalSync.Operator", "GalSync.Admin"])),
            Some(Role::Admin)
        );
        assert_eq!(roles.role_of_app_roles(&held(&["galsync.admin"])), None);
        assert_eq!(roles.group_ids(), Vec::<String>::new());
    }
}
