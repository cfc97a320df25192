//! Applying a `/users/delta` entry to the user the reader holds.
//!
//! user-delta: an updated user carries "at least the properties that have
//! been updated" — possibly nothing but its id and one property. So an entry
//! is merged, never taken as the whole user: a property present in the JSON
//! overwrites (a `null` clears it), an absent property keeps the stored value.
//! Only `@removed` removes a user (handled by the caller). The manager comes
//! as `manager@delta` (the manager's id) when `$select` names `manager`
//! (delta-query-users); its name is resolved from the users held.

use std::collections::HashMap;

use galsync_graph::GraphError;
use serde_json::{Map, Value};

use crate::source::{has_exchange_plan, GraphUser, SourceUser};

/// A delta entry as Graph sent it: merged property by property.
pub type DeltaEntry = Map<String, Value>;

/// Why an entry could not be applied.
#[derive(Debug, thiserror::Error)]
#[error("a delta entry for user {user_id} does not decode: {source}")]
pub struct EntryError {
    pub user_id: String,
    #[source]
    pub source: serde_json::Error,
}

/// The entry's object id, if it has one.
pub fn entry_id(entry: &Map<String, Value>) -> Option<&str> {
    entry.get("id").and_then(Value::as_str)
}

/// Whether the entry says the user left the directory (or the scope).
pub fn is_removal(entry: &Map<String, Value>) -> bool {
    entry.contains_key("@removed")
}

/// The manager named by `manager@delta`: `Some(None)` when it was removed,
/// `None` when the entry says nothing about the manager.
fn manager_change(entry: &Map<String, Value>) -> Option<Option<String>> {
    let managers = entry.get("manager@delta")?.as_array()?;
    let current = managers
        .iter()
        .filter(|manager| manager.get("@removed").is_none())
        .find_map(|manager| manager.get("id").and_then(Value::as_str));
    Some(current.map(str::to_owned))
}

/// Merges `entry` into `user` (a blank user for one not held yet).
pub fn merge_entry(user: &mut SourceUser, entry: &Map<String, Value>) -> Result<(), EntryError> {
    let graph: GraphUser =
        serde_json::from_value(Value::Object(entry.clone())).map_err(|source| EntryError {
            user_id: entry_id(entry).unwrap_or_default().to_owned(),
            source,
        })?;
    let present = |key: &str| entry.contains_key(key);
    user.id = graph.id.clone();
    macro_rules! overwrite {
        ($($key:literal => $field:ident),+ $(,)?) => {
            $(if present($key) {
                user.$field = graph.$field.clone();
            })+
        };
    }
    overwrite!(
        "displayName" => display_name,
        "givenName" => given_name,
        "surname" => surname,
        "mail" => mail,
        "userPrincipalName" => user_principal_name,
        "mobilePhone" => mobile_phone,
        "jobTitle" => job_title,
        "department" => department,
        "companyName" => company_name,
        "officeLocation" => office_location,
        "streetAddress" => street_address,
        "city" => city,
        "state" => state,
        "postalCode" => postal_code,
        "country" => country,
        "employeeType" => employee_type,
    );
    if present("businessPhones") {
        user.business_phones = graph.business_phones.clone().unwrap_or_default();
    }
    if present("accountEnabled") {
        // Graph sends the selected accountEnabled; null means the caller could
        // not read it, and enabled is the safer guess (as in full reads).
        user.account_enabled = graph.account_enabled.unwrap_or(true);
    }
    if present("userType") {
        user.is_guest = graph
            .user_type
            .as_deref()
            .is_some_and(|user_type| user_type.eq_ignore_ascii_case("guest"));
    }
    if present("assignedPlans") {
        user.licensed = graph
            .assigned_plans
            .as_deref()
            .is_some_and(has_exchange_plan);
    }
    if present("onPremisesExtensionAttributes") {
        let mut attributes = Vec::with_capacity(15);
        for number in 1..=15u8 {
            let value = graph
                .on_premises_extension_attributes
                .as_ref()
                .and_then(|all| all.get(number))
                .map(str::to_owned);
            attributes.push(value);
        }
        user.extension_attributes = attributes;
    }
    if let Some(manager_id) = manager_change(entry) {
        if user.manager_id != manager_id {
            // The name of a new manager is resolved from the users held.
            user.manager_display_name = None;
        }
        user.manager_id = manager_id;
    }
    if user.extension_attributes.len() != 15 {
        user.extension_attributes.resize(15, None);
    }
    Ok(())
}

/// What a delta round changes in the users held.
#[derive(Debug, Default)]
pub struct MergedRound {
    /// Users whose merged state differs from the one held (or new ones).
    pub upserts: Vec<SourceUser>,
    /// Held users the round removed.
    pub removals: Vec<String>,
    /// Changed users whose membership of a pre-filtered scope is unknown.
    pub unsure_ids: Vec<String>,
}

/// Merges a round's entries in order: a user may come several times in one
/// round (the later entry merges over the earlier) and again in later rounds
/// (a replay merges to the same state and changes nothing).
pub fn merge_round(
    held: &HashMap<String, SourceUser>,
    entries: &[DeltaEntry],
) -> std::result::Result<MergedRound, GraphError> {
    let mut merged: HashMap<String, Option<SourceUser>> = HashMap::new();
    let mut order: Vec<String> = Vec::new();
    for entry in entries {
        let Some(user_id) = entry_id(entry) else {
            continue;
        };
        if !merged.contains_key(user_id) {
            order.push(user_id.to_owned());
        }
        if is_removal(entry) {
            merged.insert(user_id.to_owned(), None);
            continue;
        }
        let base = match merged.get(user_id) {
            Some(Some(user)) => user.clone(),
            Some(None) | None => held.get(user_id).cloned().unwrap_or_default(),
        };
        let mut user = base;
        merge_entry(&mut user, entry).map_err(|error| GraphError::Decode {
            path: format!("/users/delta (the entry of user {})", error.user_id),
            source: error.source,
        })?;
        merged.insert(user_id.to_owned(), Some(user));
    }
    let mut round = MergedRound::default();
    for user_id in order {
        let previous = held.get(&user_id);
        match merged.remove(&user_id).flatten() {
            None if previous.is_some() => round.removals.push(user_id),
            None => {}
            Some(user) if previous == Some(&user) => {}
            Some(mut user) => {
                // A changed user's mailbox purpose is read again (crate::purpose).
                user.mailbox_purpose = None;
                round.unsure_ids.push(user_id);
                round.upserts.push(user);
            }
        }
    }
    Ok(round)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn entry(value: Value) -> Map<String, Value> {
        value.as_object().expect("an object").clone()
    }

    fn stored() -> SourceUser {
        let mut user = SourceUser {
            id: "u1".into(),
            display_name: Some("Ada".into()),
            mail: Some("ada@contoso.com".into()),
            mobile_phone: Some("+1 555 0100".into()),
            department: Some("Research".into()),
            account_enabled: true,
            licensed: true,
            manager_id: Some("m1".into()),
            ..SourceUser::default()
        };
        user.extension_attributes = vec![None; 15];
        user
    }

    #[test]
    fn a_present_property_overwrites_and_an_absent_one_is_kept() {
        let mut user = stored();
        merge_entry(
            &mut user,
            &entry(json!({"id": "u1", "mobilePhone": "+1 555 0199"})),
        )
        .expect("merged");
        assert_eq!(user.mobile_phone.as_deref(), Some("+1 555 0199"));
        assert_eq!(user.mail.as_deref(), Some("ada@contoso.com"));
        assert!(user.licensed, "absent assignedPlans keeps the licence");
        assert_eq!(user.manager_id.as_deref(), Some("m1"));
    }

    #[test]
    fn null_clears_and_manager_delta_sets_or_removes_the_manager() {
        let mut user = stored();
        let change = json!({"id": "u1", "department": null, "manager@delta": [{"id": "m2"}]});
        merge_entry(&mut user, &entry(change)).expect("merged");
        assert_eq!(user.department, None);
        assert_eq!(user.manager_id.as_deref(), Some("m2"));
        let removed =
            json!({"id": "u1", "manager@delta": [{"id": "m2", "@removed": {"reason": "deleted"}}]});
        merge_entry(&mut user, &entry(removed)).expect("merged");
        assert_eq!(user.manager_id, None);
        merge_entry(
            &mut user,
            &entry(json!({"id": "u1", "manager@delta": [{"id": "m3"}]})),
        )
        .expect("merged");
        merge_entry(&mut user, &entry(json!({"id": "u1", "manager@delta": []}))).expect("merged");
        assert_eq!(user.manager_id, None);
    }

    #[test]
    fn a_wrongly_typed_property_is_an_error_naming_the_user() {
        let mut user = stored();
        let error = merge_entry(
            &mut user,
            &entry(json!({"id": "u1", "accountEnabled": "yes"})),
        )
        .expect_err("a string is not a boolean");
        assert!(error.to_string().contains("user u1"), "{error}");
    }
}
