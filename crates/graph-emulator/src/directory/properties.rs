//! Graph's user and group properties: names, which ones `$filter` accepts (and
//! whether only as an advanced query), the default `$select` set, rendering to
//! JSON, and the per-property change mask delta relies on.

use serde_json::{json, Map, Value};

use super::model::User;

/// Whether and how a property can appear in `$filter`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Filterable {
    No,
    /// Plain queries accept it.
    Yes,
    /// Only advanced queries (`ConsistencyLevel: eventual` + `$count=true`).
    AdvancedOnly,
}

/// A modelled user property. The discriminant is its bit in change masks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UserField {
    Id,
    DisplayName,
    GivenName,
    Surname,
    Mail,
    UserPrincipalName,
    MailNickname,
    BusinessPhones,
    MobilePhone,
    JobTitle,
    Department,
    CompanyName,
    OfficeLocation,
    StreetAddress,
    City,
    State,
    PostalCode,
    Country,
    UsageLocation,
    PreferredLanguage,
    EmployeeId,
    EmployeeType,
    AccountEnabled,
    UserType,
    OnPremisesExtensionAttributes,
    AssignedLicenses,
    AssignedPlans,
    ProxyAddresses,
    CreatedDateTime,
    DeletedDateTime,
    /// Not selectable (a navigation property), tracked for `manager@delta`.
    Manager,
}

pub struct FieldInfo {
    pub name: &'static str,
    pub field: UserField,
    pub filter: Filterable,
}

const fn info(name: &'static str, field: UserField, filter: Filterable) -> FieldInfo {
    FieldInfo {
        name,
        field,
        filter,
    }
}

/// Modelled user properties, as Graph spells them.
pub const USER_FIELDS: &[FieldInfo] = &[
    info("id", UserField::Id, Filterable::Yes),
    info("displayName", UserField::DisplayName, Filterable::Yes),
    info("givenName", UserField::GivenName, Filterable::Yes),
    info("surname", UserField::Surname, Filterable::Yes),
    info("mail", UserField::Mail, Filterable::Yes),
    info(
        "userPrincipalName",
        UserField::UserPrincipalName,
        Filterable::Yes,
    ),
    info("mailNickname", UserField::MailNickname, Filterable::Yes),
    info("businessPhones", UserField::BusinessPhones, Filterable::No),
    info(
        "mobilePhone",
        UserField::MobilePhone,
        Filterable::AdvancedOnly,
    ),
    info("jobTitle", UserField::JobTitle, Filterable::Yes),
    info("department", UserField::Department, Filterable::Yes),
    info(
        "companyName",
        UserField::CompanyName,
        Filterable::AdvancedOnly,
    ),
    info(
        "officeLocation",
        UserField::OfficeLocation,
        Filterable::AdvancedOnly,
    ),
    info(
        "streetAddress",
        UserField::StreetAddress,
        Filterable::AdvancedOnly,
    ),
    info("city", UserField::City, Filterable::Yes),
    info("state", UserField::State, Filterable::Yes),
    info(
        "postalCode",
        UserField::PostalCode,
        Filterable::AdvancedOnly,
    ),
    info("country", UserField::Country, Filterable::Yes),
    info("usageLocation", UserField::UsageLocation, Filterable::Yes),
    info(
        "preferredLanguage",
        UserField::PreferredLanguage,
        Filterable::Yes,
    ),
    info("employeeId", UserField::EmployeeId, Filterable::Yes),
    info(
        "employeeType",
        UserField::EmployeeType,
        Filterable::AdvancedOnly,
    ),
    info("accountEnabled", UserField::AccountEnabled, Filterable::Yes),
    info("userType", UserField::UserType, Filterable::Yes),
    info(
        "onPremisesExtensionAttributes",
        UserField::OnPremisesExtensionAttributes,
        Filterable::No,
    ),
    info(
        "assignedLicenses",
        UserField::AssignedLicenses,
        Filterable::No,
    ),
    // assignedPlans can be filtered with any() lambdas in Graph; the emulator
    // does not evaluate lambdas, so it refuses the filter rather than guess.
    info("assignedPlans", UserField::AssignedPlans, Filterable::No),
    info("proxyAddresses", UserField::ProxyAddresses, Filterable::No),
    info(
        "createdDateTime",
        UserField::CreatedDateTime,
        Filterable::AdvancedOnly,
    ),
    info(
        "deletedDateTime",
        UserField::DeletedDateTime,
        Filterable::No,
    ),
];

/// Real Graph user properties the emulator does not model: selecting them is
/// valid and yields `null` (or `[]` for the collections marked true).
pub const UNMODELLED_USER_PROPERTIES: &[(&str, bool)] = &[
    ("aboutMe", false),
    ("ageGroup", false),
    ("consentProvidedForMinor", false),
    ("creationType", false),
    ("employeeHireDate", false),
    ("employeeOrgData", false),
    ("externalUserState", false),
    ("faxNumber", false),
    ("identities", true),
    ("imAddresses", true),
    ("isResourceAccount", false),
    ("lastPasswordChangeDateTime", false),
    ("legalAgeGroupClassification", false),
    ("licenseAssignmentStates", true),
    ("mySite", false),
    ("onPremisesDistinguishedName", false),
    ("onPremisesDomainName", false),
    ("onPremisesImmutableId", false),
    ("onPremisesLastSyncDateTime", false),
    ("onPremisesSamAccountName", false),
    ("onPremisesSecurityIdentifier", false),
    ("onPremisesSyncEnabled", false),
    ("onPremisesUserPrincipalName", false),
    ("otherMails", true),
    ("passwordPolicies", false),
    ("preferredDataLocation", false),
    ("provisionedPlans", true),
    ("securityIdentifier", false),
    ("showInAddressList", false),
    ("signInSessionsValidFromDateTime", false),
];

/// Graph's default property set for users (no `$select`).
pub const DEFAULT_USER_SELECT: &[UserField] = &[
    UserField::BusinessPhones,
    UserField::DisplayName,
    UserField::GivenName,
    UserField::JobTitle,
    UserField::Mail,
    UserField::MobilePhone,
    UserField::OfficeLocation,
    UserField::PreferredLanguage,
    UserField::Surname,
    UserField::UserPrincipalName,
    UserField::Id,
];

impl UserField {
    pub fn bit(self) -> u64 {
        1u64 << (self as u32)
    }

    pub fn name(self) -> &'static str {
        USER_FIELDS
            .iter()
            .find(|info| info.field == self)
            .map(|info| info.name)
            .unwrap_or("manager")
    }
}

/// Finds a modelled user property by name (case-insensitive, as Graph).
pub fn user_field(name: &str) -> Option<&'static FieldInfo> {
    USER_FIELDS
        .iter()
        .find(|info| info.name.eq_ignore_ascii_case(name))
}

/// One entry of a user `$select`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum SelectedUserProperty {
    Field(UserField),
    /// A real Graph property the emulator does not model (name, is collection).
    Unmodelled(&'static str, bool),
}

/// Resolves a user property name for `$select`, or `None` when Graph knows no such property.
pub fn select_user_property(name: &str) -> Option<SelectedUserProperty> {
    if let Some(info) = user_field(name) {
        return Some(SelectedUserProperty::Field(info.field));
    }
    UNMODELLED_USER_PROPERTIES
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(name))
        .map(|(known, collection)| SelectedUserProperty::Unmodelled(known, *collection))
}

pub(super) fn optional(value: &Option<String>) -> Value {
    match value {
        Some(text) => Value::String(text.clone()),
        None => Value::Null,
    }
}

/// The JSON value of one property of `user`.
pub fn user_field_value(user: &User, field: UserField) -> Value {
    match field {
        UserField::Id => Value::String(user.id.to_string()),
        UserField::DisplayName => Value::String(user.display_name.clone()),
        UserField::GivenName => optional(&user.given_name),
        UserField::Surname => optional(&user.surname),
        UserField::Mail => optional(&user.mail),
        UserField::UserPrincipalName => Value::String(user.user_principal_name.clone()),
        UserField::MailNickname => Value::String(user.mail_nickname.clone()),
        UserField::BusinessPhones => json!(user.business_phones),
        UserField::MobilePhone => optional(&user.mobile_phone),
        UserField::JobTitle => optional(&user.job_title),
        UserField::Department => optional(&user.department),
        UserField::CompanyName => optional(&user.company_name),
        UserField::OfficeLocation => optional(&user.office_location),
        UserField::StreetAddress => optional(&user.street_address),
        UserField::City => optional(&user.city),
        UserField::State => optional(&user.state),
        UserField::PostalCode => optional(&user.postal_code),
        UserField::Country => optional(&user.country),
        UserField::UsageLocation => optional(&user.usage_location),
        UserField::PreferredLanguage => optional(&user.preferred_language),
        UserField::EmployeeId => optional(&user.employee_id),
        UserField::EmployeeType => optional(&user.employee_type),
        UserField::AccountEnabled => Value::Bool(user.account_enabled),
        UserField::UserType => Value::String(user.user_type.as_str().to_owned()),
        UserField::OnPremisesExtensionAttributes => {
            let mut attributes = Map::new();
            for (index, value) in user.extension_attributes.iter().enumerate() {
                attributes.insert(format!("extensionAttribute{}", index + 1), optional(value));
            }
            Value::Object(attributes)
        }
        UserField::AssignedLicenses => {
            let mut licenses = Vec::new();
            for license in user.licenses() {
                licenses.push(json!({"disabledPlans": [], "skuId": license.sku_id()}));
            }
            Value::Array(licenses)
        }
        // user resource: assignedPlans "The plans that are assigned to the
        // user"; assignedplan: service "for example, exchange", capabilityStatus
        // Enabled, Warning, Suspended, Deleted, LockedOut.
        UserField::AssignedPlans => {
            let assigned = user
                .created
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
            let mut plans = Vec::new();
            for license in user.licenses() {
                for plan in license.service_plans() {
                    plans.push(json!({
                        "assignedDateTime": assigned,
                        "capabilityStatus": "Enabled",
                        "service": plan.service,
                        "servicePlanId": plan.service_plan_id,
                    }));
                }
            }
            Value::Array(plans)
        }
        UserField::ProxyAddresses => match &user.mail {
            Some(mail) if user.has_mailbox() => json!([format!("SMTP:{mail}")]),
            _ => json!([]),
        },
        UserField::CreatedDateTime => Value::String(
            user.created
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        ),
        UserField::DeletedDateTime => match user.deleted {
            Some(deleted) => {
                Value::String(deleted.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
            }
            None => Value::Null,
        },
        UserField::Manager => Value::Null,
    }
}

/// The bits of every property that differs between `before` and `after`.
pub fn changed_fields(before: &User, after: &User) -> u64 {
    let mut mask = 0u64;
    for info in USER_FIELDS {
        if user_field_value(before, info.field) != user_field_value(after, info.field) {
            mask |= info.field.bit();
        }
    }
    if before.manager_id != after.manager_id {
        mask |= UserField::Manager.bit();
    }
    mask
}

/// Every tracked bit: what a newly created user counts as.
pub fn all_fields_mask() -> u64 {
    let mut mask = UserField::Manager.bit();
    for info in USER_FIELDS {
        mask |= info.field.bit();
    }
    mask
}

/// Renders a user with the given selection (`None` = Graph's default set).
pub fn render_user(user: &User, selection: Option<&[SelectedUserProperty]>) -> Map<String, Value> {
    let mut object = Map::new();
    match selection {
        None => {
            for field in DEFAULT_USER_SELECT {
                object.insert(field.name().to_owned(), user_field_value(user, *field));
            }
        }
        Some(selected) => {
            for property in selected {
                match property {
                    SelectedUserProperty::Field(field) => {
                        object.insert(field.name().to_owned(), user_field_value(user, *field));
                    }
                    SelectedUserProperty::Unmodelled(name, collection) => {
                        let value = if *collection { json!([]) } else { Value::Null };
                        object.insert((*name).to_owned(), value);
                    }
                }
            }
        }
    }
    object
}

/// A user as stored: every modelled Graph property plus the emulator's own state.
pub fn admin_view(user: &User) -> Value {
    let every: Vec<SelectedUserProperty> = USER_FIELDS
        .iter()
        .map(|info| SelectedUserProperty::Field(info.field))
        .collect();
    let mut object = render_user(user, Some(&every));
    object.insert("managerId".to_owned(), json!(user.manager_id));
    object.insert("mailbox".to_owned(), json!(user.mailbox));
    object.insert("licensed".to_owned(), json!(user.licensed));
    object.insert("otherLicenses".to_owned(), json!(user.other_licenses));
    object.insert("softDeleted".to_owned(), json!(user.deleted.is_some()));
    let photo = user.photo.as_ref().map(|photo| {
        json!({"etag": photo.etag, "contentType": photo.content_type, "size": photo.bytes.len()})
    });
    object.insert("photo".to_owned(), json!(photo));
    Value::Object(object)
}
