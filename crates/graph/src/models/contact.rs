//! Exchange contacts and contact folders.

use serde::{Deserialize, Serialize};

use super::user::Removed;

/// `{ "name", "address" }` of a contact's `emailAddresses`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailAddress {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
}

/// A postal address (`businessAddress`, `homeAddress`, `otherAddress`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PhysicalAddress {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country_or_region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
}

/// `{ "id": "String {guid} Name X", "value" }`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SingleValueExtendedProperty {
    pub id: String,
    #[serde(default)]
    pub value: String,
}

/// The extended property id galsync marks its contacts with:
/// `String {<galsync guid>} Name SourceObjectId`.
pub fn source_object_id_property_id(galsync_guid: &str) -> String {
    format!("String {{{galsync_guid}}} Name SourceObjectId")
}

/// A Graph `contact`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    /// Read-only; never sent when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_folder_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_date_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified_date_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub middle_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub surname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nick_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initials: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file_as: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_addresses: Option<Vec<EmailAddress>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_phones: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home_phones: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mobile_phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub office_location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profession: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assistant_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_home_page: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business_address: Option<PhysicalAddress>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub home_address: Option<PhysicalAddress>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub other_address: Option<PhysicalAddress>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub im_addresses: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categories: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personal_notes: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub single_value_extended_properties: Option<Vec<SingleValueExtendedProperty>>,
    /// Set on contacts delta entries for deleted contacts.
    #[serde(rename = "@removed", default, skip_serializing_if = "Option::is_none")]
    pub removed: Option<Removed>,
}

impl Contact {
    /// The value of a single-value extended property. Exchange may echo the
    /// id with a different case, so ids compare case-insensitively.
    pub fn single_value_property(&self, property_id: &str) -> Option<&str> {
        let properties = self.single_value_extended_properties.as_ref()?;
        for property in properties {
            if property.id.eq_ignore_ascii_case(property_id) {
                return Some(property.value.as_str());
            }
        }
        None
    }
}

/// A contact serialized for PATCH, with each of `cleared_fields` (Graph
/// camelCase names, e.g. `jobTitle`) sent as `null` so Graph clears it.
/// Collections are cleared by setting them to an empty `Vec` instead.
pub fn with_cleared_fields(contact: &Contact, cleared_fields: &[&str]) -> serde_json::Value {
    let mut body = serde_json::to_value(contact).unwrap_or_else(|_| serde_json::json!({}));
    if let Some(object) = body.as_object_mut() {
        for field in cleared_fields {
            object.insert((*field).to_owned(), serde_json::Value::Null);
        }
    }
    body
}

/// A Graph `contactFolder`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactFolder {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_folder_id: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn contact_round_trips_graph_names() {
        let body = serde_json::json!({
            "id": "c1",
            "displayName": "Ada Lovelace",
            "emailAddresses": [{"name": "Ada", "address": "ada@contoso.com"}],
            "businessAddress": {"street": "1 Main St", "countryOrRegion": "UK"},
            "singleValueExtendedProperties": [
                {"id": "String {6f3b…} name sourceobjectid", "value": "user-1"}
            ]
        });
        let contact: Contact = serde_json::from_value(body).unwrap_or_default();
        assert_eq!(contact.display_name.as_deref(), Some("Ada Lovelace"));
        let address = contact.business_address.clone().unwrap_or_default();
        assert_eq!(address.country_or_region.as_deref(), Some("UK"));
        let property_id = source_object_id_property_id("6f3b…");
        assert_eq!(contact.single_value_property(&property_id), Some("user-1"));
    }

    #[test]
    fn cleared_fields_are_sent_as_null_and_unset_fields_are_omitted() {
        let contact = Contact {
            display_name: Some("Ada".to_owned()),
            ..Contact::default()
        };
        let body = with_cleared_fields(&contact, &["jobTitle"]);
        assert_eq!(
            body,
            serde_json::json!({"displayName": "Ada", "jobTitle": null})
        );
    }
}
