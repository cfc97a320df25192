//! Applying JSON with Graph's user property names to a stored user: what the
//! admin API's add-user and patch-user take. Two admin-only keys extend Graph's
//! names: `mailbox` (`none|user|shared|room|equipment`), `licensed` (Microsoft
//! 365 E3) and `otherLicenses` (`["power-bi-pro", "exchange-online-plan2"]`).

use serde_json::{Map, Value};
use uuid::Uuid;

use super::model::{LicenseSku, MailboxKind, User, UserType};
use super::store::DirectoryError;

fn invalid(property: &str) -> DirectoryError {
    DirectoryError::InvalidValue(format!("invalid value specified for property '{property}'"))
}

/// A string property: a string sets it, `null` or `""` clears it.
fn optional_text(property: &str, value: &Value) -> Result<Option<String>, DirectoryError> {
    match value {
        Value::Null => Ok(None),
        Value::String(text) if text.is_empty() => Ok(None),
        Value::String(text) => Ok(Some(text.clone())),
        _ => Err(invalid(property)),
    }
}

fn required_text(property: &str, value: &Value) -> Result<String, DirectoryError> {
    match value {
        Value::String(text) if !text.trim().is_empty() => Ok(text.clone()),
        _ => Err(invalid(property)),
    }
}

fn boolean(property: &str, value: &Value) -> Result<bool, DirectoryError> {
    value.as_bool().ok_or_else(|| invalid(property))
}

fn extension_attributes(user: &mut User, value: &Value) -> Result<(), DirectoryError> {
    let Some(attributes) = value.as_object() else {
        return Err(invalid("onPremisesExtensionAttributes"));
    };
    for (name, attribute) in attributes {
        let index = name
            .strip_prefix("extensionAttribute")
            .and_then(|number| number.parse::<usize>().ok())
            .filter(|number| (1..=15).contains(number))
            .ok_or_else(|| invalid(name))?;
        user.extension_attributes[index - 1] = optional_text(name, attribute)?;
    }
    Ok(())
}

/// Applies `patch` to `user`; unknown or read-only properties are errors.
pub fn apply_user_patch(user: &mut User, patch: &Map<String, Value>) -> Result<(), DirectoryError> {
    for (name, value) in patch {
        match name.as_str() {
            "displayName" => user.display_name = required_text(name, value)?,
            "userPrincipalName" => user.user_principal_name = required_text(name, value)?,
            "mailNickname" => user.mail_nickname = required_text(name, value)?,
            "givenName" => user.given_name = optional_text(name, value)?,
            "surname" => user.surname = optional_text(name, value)?,
            "mail" => user.mail = optional_text(name, value)?,
            "mobilePhone" => user.mobile_phone = optional_text(name, value)?,
            "jobTitle" => user.job_title = optional_text(name, value)?,
            "department" => user.department = optional_text(name, value)?,
            "companyName" => user.company_name = optional_text(name, value)?,
            "officeLocation" => user.office_location = optional_text(name, value)?,
            "streetAddress" => user.street_address = optional_text(name, value)?,
            "city" => user.city = optional_text(name, value)?,
            "state" => user.state = optional_text(name, value)?,
            "postalCode" => user.postal_code = optional_text(name, value)?,
            "country" => user.country = optional_text(name, value)?,
            "usageLocation" => user.usage_location = optional_text(name, value)?,
            "preferredLanguage" => user.preferred_language = optional_text(name, value)?,
            "employeeId" => user.employee_id = optional_text(name, value)?,
            "employeeType" => user.employee_type = optional_text(name, value)?,
            "accountEnabled" => user.account_enabled = boolean(name, value)?,
            "licensed" => user.licensed = boolean(name, value)?,
            "otherLicenses" => {
                user.other_licenses = serde_json::from_value::<Vec<LicenseSku>>(value.clone())
                    .map_err(|_| invalid(name))?
            }
            "businessPhones" => {
                let Some(list) = value.as_array() else {
                    return Err(invalid(name));
                };
                let mut phones = Vec::new();
                for phone in list {
                    phones.push(phone.as_str().ok_or_else(|| invalid(name))?.to_owned());
                }
                user.business_phones = phones;
            }
            "userType" => {
                user.user_type = match value.as_str() {
                    Some("Member") => UserType::Member,
                    Some("Guest") => UserType::Guest,
                    _ => return Err(invalid(name)),
                }
            }
            "mailbox" => {
                user.mailbox = serde_json::from_value::<MailboxKind>(value.clone())
                    .map_err(|_| invalid(name))?
            }
            "onPremisesExtensionAttributes" => extension_attributes(user, value)?,
            "manager" | "managerId" => {
                user.manager_id = match value {
                    Value::Null => None,
                    Value::String(id) => Some(id.parse::<Uuid>().map_err(|_| invalid(name))?),
                    _ => return Err(invalid(name)),
                }
            }
            _ => {
                return Err(DirectoryError::InvalidValue(format!(
                    "property '{name}' cannot be set"
                )))
            }
        }
    }
    Ok(())
}

/// A new user from admin JSON: `displayName` and `userPrincipalName` are
/// required; `id` is optional; `licensed: true` implies a user mailbox and
/// `mail` = UPN unless given.
pub fn user_from_json(body: &Map<String, Value>) -> Result<User, DirectoryError> {
    let display_name = required_text(
        "displayName",
        body.get("displayName").unwrap_or(&Value::Null),
    )?;
    let upn = required_text(
        "userPrincipalName",
        body.get("userPrincipalName").unwrap_or(&Value::Null),
    )?;
    let mut user = User::new(&display_name, &upn);
    let mut rest = body.clone();
    if let Some(id) = rest.remove("id") {
        user.id = id
            .as_str()
            .and_then(|text| text.parse::<Uuid>().ok())
            .ok_or_else(|| invalid("id"))?;
    }
    apply_user_patch(&mut user, &rest)?;
    if user.licensed && user.mailbox == MailboxKind::None {
        user.mailbox = MailboxKind::User;
    }
    if user.has_mailbox() && user.mail.is_none() && !rest.contains_key("mail") {
        user.mail = Some(upn);
    }
    Ok(user)
}
