//! Directory objects: users and groups.

use serde::{Deserialize, Serialize};

/// The `$select` of exactly the user fields galsync maps or filters on.
pub const USER_SELECT: &str = "id,displayName,givenName,surname,mail,userPrincipalName,\
businessPhones,mobilePhone,jobTitle,department,companyName,officeLocation,streetAddress,\
city,state,postalCode,country,employeeType,accountEnabled,userType,\
onPremisesExtensionAttributes";

/// Marks an entry of a delta response as removed (`"@removed":{"reason":…}`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Removed {
    /// `changed` (moved out of scope, may come back) or `deleted`.
    #[serde(default)]
    pub reason: String,
}

/// `extensionAttribute1` … `extensionAttribute15` synced from on-premises AD.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OnPremisesExtensionAttributes {
    pub extension_attribute1: Option<String>,
    pub extension_attribute2: Option<String>,
    pub extension_attribute3: Option<String>,
    pub extension_attribute4: Option<String>,
    pub extension_attribute5: Option<String>,
    pub extension_attribute6: Option<String>,
    pub extension_attribute7: Option<String>,
    pub extension_attribute8: Option<String>,
    pub extension_attribute9: Option<String>,
    pub extension_attribute10: Option<String>,
    pub extension_attribute11: Option<String>,
    pub extension_attribute12: Option<String>,
    pub extension_attribute13: Option<String>,
    pub extension_attribute14: Option<String>,
    pub extension_attribute15: Option<String>,
}

impl OnPremisesExtensionAttributes {
    /// `extensionAttribute{number}` for 1..=15.
    pub fn get(&self, number: u8) -> Option<&str> {
        let value = match number {
            1 => &self.extension_attribute1,
            2 => &self.extension_attribute2,
            3 => &self.extension_attribute3,
            4 => &self.extension_attribute4,
            5 => &self.extension_attribute5,
            6 => &self.extension_attribute6,
            7 => &self.extension_attribute7,
            8 => &self.extension_attribute8,
            9 => &self.extension_attribute9,
            10 => &self.extension_attribute10,
            11 => &self.extension_attribute11,
            12 => &self.extension_attribute12,
            13 => &self.extension_attribute13,
            14 => &self.extension_attribute14,
            15 => &self.extension_attribute15,
            _ => return None,
        };
        value.as_deref()
    }
}

/// A reference to another directory object (e.g. an expanded `manager`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DirectoryObjectRef {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

/// A Graph `user`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub given_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub surname: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_principal_name: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub business_phones: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mobile_phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub department: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub office_location: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employee_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_enabled: Option<bool>,
    /// `Member` or `Guest`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_premises_extension_attributes: Option<OnPremisesExtensionAttributes>,
    /// Present when expanded (`$expand=manager($select=id,displayName)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager: Option<DirectoryObjectRef>,
    /// Set on delta entries for users deleted or moved out of scope.
    #[serde(rename = "@removed", default, skip_serializing_if = "Option::is_none")]
    pub removed: Option<Removed>,
}

/// A Graph `group`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mail_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(rename = "@removed", default, skip_serializing_if = "Option::is_none")]
    pub removed: Option<Removed>,
}
