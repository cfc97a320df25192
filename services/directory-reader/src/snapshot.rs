//! Snapshots: normalised entries sorted by source object id, content-addressed
//! (id = SHA-256 over the entries' protobuf encodings), stored as one blob.
//! Everything here is CPU work for big tenants: callers run it in `spawn_blocking`.

use std::collections::HashMap;

use galsync_proto::v1;
use prost::Message;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::source::SourceUser;

/// A snapshot ready to store.
#[derive(Debug, Clone)]
pub struct BuiltSnapshot {
    pub snapshot_id: String,
    pub entry_count: u64,
    /// A [`v1::SnapshotChunk`] holding every entry, encoded.
    pub blob: Vec<u8>,
}

fn clean(value: Option<&str>) -> String {
    value.map(str::trim).unwrap_or_default().to_owned()
}

/// The entry the contact-writer turns into a contact: values trimmed, empty
/// strings absent, the manager's name from the users already read.
pub fn normalise(
    user: &SourceUser,
    users_by_id: &HashMap<String, SourceUser>,
    photo_hash: Option<&str>,
) -> v1::DirectoryEntry {
    let mut business_phones = Vec::with_capacity(user.business_phones.len());
    for phone in &user.business_phones {
        let trimmed = phone.trim();
        if !trimmed.is_empty() {
            business_phones.push(trimmed.to_owned());
        }
    }
    let address = v1::PostalAddress {
        street: clean(user.street_address.as_deref()),
        city: clean(user.city.as_deref()),
        state: clean(user.state.as_deref()),
        postal_code: clean(user.postal_code.as_deref()),
        country_or_region: clean(user.country.as_deref()),
    };
    let business_address = if address == v1::PostalAddress::default() {
        None
    } else {
        Some(address)
    };
    let manager_display_name = match &user.manager_id {
        Some(manager_id) => match users_by_id.get(manager_id) {
            Some(manager) => clean(manager.display_name.as_deref()),
            None => clean(user.manager_display_name.as_deref()),
        },
        None => String::new(),
    };
    v1::DirectoryEntry {
        source_object_id: user.id.clone(),
        display_name: clean(user.display_name.as_deref()),
        given_name: clean(user.given_name.as_deref()),
        surname: clean(user.surname.as_deref()),
        mail: clean(user.mail.as_deref()),
        user_principal_name: clean(user.user_principal_name.as_deref()),
        business_phones,
        mobile_phone: clean(user.mobile_phone.as_deref()),
        job_title: clean(user.job_title.as_deref()),
        department: clean(user.department.as_deref()),
        company_name: clean(user.company_name.as_deref()),
        office_location: clean(user.office_location.as_deref()),
        business_address,
        manager_display_name,
        photo_hash: photo_hash.unwrap_or_default().to_owned(),
        employee_type: clean(user.employee_type.as_deref()),
        country: clean(user.country.as_deref()),
    }
}

/// Hashes and encodes entries (sorted here by source object id).
pub fn build(mut entries: Vec<v1::DirectoryEntry>) -> BuiltSnapshot {
    entries.sort_by(|left, right| left.source_object_id.cmp(&right.source_object_id));
    let mut hasher = Sha256::new();
    let mut scratch = Vec::new();
    for entry in &entries {
        scratch.clear();
        // Encoding into a Vec cannot fail: it grows as needed.
        let _ = entry.encode(&mut scratch);
        hasher.update((scratch.len() as u64).to_le_bytes());
        hasher.update(&scratch);
    }
    let entry_count = entries.len() as u64;
    let container = v1::SnapshotChunk {
        entries,
        chunk_index: 0,
        last: true,
    };
    BuiltSnapshot {
        snapshot_id: hex::encode(hasher.finalize()),
        entry_count,
        blob: container.encode_to_vec(),
    }
}

/// The entries of a stored blob, in id order.
pub fn decode(blob: &[u8]) -> Result<Vec<v1::DirectoryEntry>> {
    let container = v1::SnapshotChunk::decode(blob)
        .map_err(|error| Error::Internal(format!("a stored snapshot does not decode: {error}")))?;
    Ok(container.entries)
}

/// Ids added, changed and removed from `from` to `to` (both sorted by id).
pub fn diff(from: &[v1::DirectoryEntry], to: &[v1::DirectoryEntry]) -> v1::SnapshotDiff {
    let mut result = v1::SnapshotDiff::default();
    let mut from_index = 0;
    let mut to_index = 0;
    while from_index < from.len() || to_index < to.len() {
        let Some(old) = from.get(from_index) else {
            result.added_ids.push(to[to_index].source_object_id.clone());
            to_index += 1;
            continue;
        };
        let Some(new) = to.get(to_index) else {
            result.removed_ids.push(old.source_object_id.clone());
            from_index += 1;
            continue;
        };
        match old.source_object_id.cmp(&new.source_object_id) {
            std::cmp::Ordering::Less => {
                result.removed_ids.push(old.source_object_id.clone());
                from_index += 1;
            }
            std::cmp::Ordering::Greater => {
                result.added_ids.push(new.source_object_id.clone());
                to_index += 1;
            }
            std::cmp::Ordering::Equal => {
                if old != new {
                    result.changed_ids.push(new.source_object_id.clone());
                }
                from_index += 1;
                to_index += 1;
            }
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(id: &str, name: &str) -> SourceUser {
        SourceUser {
            id: id.to_owned(),
            display_name: Some(name.to_owned()),
            extension_attributes: vec![None; 15],
            ..SourceUser::default()
        }
    }

    #[test]
    fn normalising_trims_phones_drops_empty_values_and_names_the_manager() {
        let mut worker = user("w", "  Worker ");
        worker.business_phones = vec![" +1 555 0100 ".into(), "  ".into()];
        worker.job_title = Some("   ".into());
        worker.manager_id = Some("b".into());
        let mut users = HashMap::new();
        users.insert("b".to_owned(), user("b", "Boss"));
        let entry = normalise(&worker, &users, None);
        assert_eq!(entry.display_name, "Worker");
        assert_eq!(entry.business_phones, ["+1 555 0100"]);
        assert_eq!(entry.job_title, "");
        assert_eq!(entry.manager_display_name, "Boss");
        assert_eq!(entry.business_address, None);
    }

    #[test]
    fn equal_content_in_any_order_has_the_same_id_and_any_change_a_new_one() {
        let users = HashMap::new();
        let first = normalise(&user("a", "A"), &users, None);
        let second = normalise(&user("b", "B"), &users, None);
        let forwards = build(vec![first.clone(), second.clone()]);
        let backwards = build(vec![second.clone(), first.clone()]);
        assert_eq!(forwards.snapshot_id, backwards.snapshot_id);
        let renamed = normalise(&user("b", "B2"), &users, None);
        assert_ne!(
            build(vec![first, renamed]).snapshot_id,
            forwards.snapshot_id
        );
        assert_eq!(decode(&forwards.blob).unwrap().len(), 2);
    }

    #[test]
    fn diff_names_added_changed_and_removed_ids() {
        let users = HashMap::new();
        let from = vec![
            normalise(&user("a", "A"), &users, None),
            normalise(&user("b", "B"), &users, None),
            normalise(&user("c", "C"), &users, None),
        ];
        let to = vec![
            normalise(&user("b", "B2"), &users, None),
            normalise(&user("c", "C"), &users, None),
            normalise(&user("d", "D"), &users, None),
        ];
        let result = diff(&from, &to);
        assert_eq!(result.added_ids, ["d"]);
        assert_eq!(result.changed_ids, ["b"]);
        assert_eq!(result.removed_ids, ["a"]);
    }
}
