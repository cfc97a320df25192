//! Graph resources galsync reads and writes, with Graph's camelCase names.
//! Absent fields deserialize to `None`/empty and are not serialized, so a
//! value built here only sends what it sets.

mod contact;
mod user;

use serde::{Deserialize, Serialize};

pub use contact::{
    source_object_id_property_id, with_cleared_fields, Contact, ContactFolder, EmailAddress,
    PhysicalAddress, SingleValueExtendedProperty,
};
pub use user::{
    DirectoryObjectRef, Group, OnPremisesExtensionAttributes, Removed, User, USER_SELECT,
};

/// One page of a collection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page<T> {
    #[serde(default = "Vec::new")]
    pub value: Vec<T>,
    /// The next page, to be followed verbatim.
    #[serde(
        rename = "@odata.nextLink",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub next_link: Option<String>,
    /// On the last page of a delta round: the link for the next round.
    #[serde(
        rename = "@odata.deltaLink",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub delta_link: Option<String>,
}

impl<T> Default for Page<T> {
    fn default() -> Self {
        Self {
            value: Vec::new(),
            next_link: None,
            delta_link: None,
        }
    }
}
