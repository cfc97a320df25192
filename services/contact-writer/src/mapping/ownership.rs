//! Ownership: the extended property on every contact galsync writes, whose
//! value names the profile and the source user the contact stands for.

/// The fixed GUID of galsync's extended property set.
pub const GALSYNC_PROPERTY_GUID: &str = "66f5a359-4659-4830-9070-00047ec6ac6e";

/// `String {guid} Name SourceObjectId`: the Entra object id on every contact galsync owns.
pub fn source_property_id() -> String {
    galsync_graph::models::source_object_id_property_id(GALSYNC_PROPERTY_GUID)
}

/// The ownership property's value: the profile that wrote the contact and
/// its source user, `{profile_id}/{source_object_id}`. Two profiles writing
/// one folder never take each other's contacts for their own.
pub fn owner_value(profile_id: &str, source_id: &str) -> String {
    format!("{profile_id}/{source_id}")
}

/// Who owns a contact, read from the ownership property's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// `None` for a contact written before values named their profile: the
    /// profile whose store knows it, or whichever finds it, owns it.
    pub profile_id: Option<String>,
    pub source_id: String,
}

impl Owner {
    pub fn parse(value: &str) -> Option<Owner> {
        let value = value.trim();
        if value.is_empty() {
            return None;
        }
        // Source ids are Entra object ids (GUIDs) and profile ids hold no
        // '/': the last '/' separates them.
        Some(match value.rsplit_once('/') {
            Some((profile_id, source_id)) if !source_id.is_empty() => Owner {
                profile_id: Some(profile_id.to_owned()),
                source_id: source_id.to_owned(),
            },
            _ => Owner {
                profile_id: None,
                source_id: value.to_owned(),
            },
        })
    }

    /// Whether a contact owned so may be taken by `profile_id`.
    pub fn belongs_to(&self, profile_id: &str) -> bool {
        self.profile_id
            .as_deref()
            .is_none_or(|owner| owner == profile_id)
    }
}
