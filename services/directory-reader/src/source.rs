//! Directory users as Graph sends them and as the reader keeps them between
//! rounds: exactly the fields galsync maps or filters on.

use galsync_graph::models::{DirectoryObjectRef, OnPremisesExtensionAttributes};
use serde::{Deserialize, Serialize};

/// The `$select` of every user read: the mapped fields plus what the default
/// exclusions and the targets need (`accountEnabled`, `userType`,
/// `assignedPlans` for the Exchange Online plan).
pub const READ_SELECT: &str = "id,displayName,givenName,surname,mail,userPrincipalName,\
businessPhones,mobilePhone,jobTitle,department,companyName,officeLocation,streetAddress,\
city,state,postalCode,country,employeeType,accountEnabled,userType,\
onPremisesExtensionAttributes,assignedPlans";

/// One entry of `assignedPlans` (assignedplan resource).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssignedPlan {
    #[serde(default)]
    pub service: Option<String>,
    #[serde(default)]
    pub capability_status: Option<String>,
}

/// Holds Exchange Online: a plan of service `exchange` (assignedplan:
/// "service: The name of the service; for example, exchange") whose
/// capabilityStatus is `Enabled`, or `Warning` ("Available for normal use and
/// assignment but is in a grace period"). Any other licence (Power BI alone)
/// gives no mailbox.
pub fn has_exchange_plan(plans: &[AssignedPlan]) -> bool {
    plans.iter().any(|plan| {
        let is_exchange = plan
            .service
            .as_deref()
            .is_some_and(|service| service.eq_ignore_ascii_case("exchange"));
        let usable = plan.capability_status.as_deref().is_some_and(|status| {
            status.eq_ignore_ascii_case("Enabled") || status.eq_ignore_ascii_case("Warning")
        });
        is_exchange && usable
    })
}

/// `/users` reads of a pre-filtered scope expand the manager with its name
/// (the manager may be outside the scope); Graph then pages by 100.
pub const MANAGER_EXPAND: &str = "manager($select=id,displayName)";

/// One user of a `/users` page or a `/users/delta` page.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GraphUser {
    pub id: String,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub given_name: Option<String>,
    #[serde(default)]
    pub surname: Option<String>,
    #[serde(default)]
    pub mail: Option<String>,
    #[serde(default)]
    pub user_principal_name: Option<String>,
    #[serde(default)]
    pub business_phones: Option<Vec<String>>,
    #[serde(default)]
    pub mobile_phone: Option<String>,
    #[serde(default)]
    pub job_title: Option<String>,
    #[serde(default)]
    pub department: Option<String>,
    #[serde(default)]
    pub company_name: Option<String>,
    #[serde(default)]
    pub office_location: Option<String>,
    #[serde(default)]
    pub street_address: Option<String>,
    #[serde(default)]
    pub city: Option<String>,
    #[serde(default)]
    pub state: Option<String>,
    #[serde(default)]
    pub postal_code: Option<String>,
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub employee_type: Option<String>,
    #[serde(default)]
    pub account_enabled: Option<bool>,
    #[serde(default)]
    pub user_type: Option<String>,
    #[serde(default)]
    pub on_premises_extension_attributes: Option<OnPremisesExtensionAttributes>,
    #[serde(default)]
    pub assigned_plans: Option<Vec<AssignedPlan>>,
    /// Expanded in full reads.
    #[serde(default)]
    pub manager: Option<DirectoryObjectRef>,
    /// In delta rounds, only when the manager changed: `[]` = no manager now.
    #[serde(default, rename = "manager@delta")]
    pub manager_delta: Option<Vec<DirectoryObjectRef>>,
}

/// A user as the reader stores it between rounds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SourceUser {
    pub id: String,
    pub display_name: Option<String>,
    pub given_name: Option<String>,
    pub surname: Option<String>,
    pub mail: Option<String>,
    pub user_principal_name: Option<String>,
    pub business_phones: Vec<String>,
    pub mobile_phone: Option<String>,
    pub job_title: Option<String>,
    pub department: Option<String>,
    pub company_name: Option<String>,
    pub office_location: Option<String>,
    pub street_address: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
    pub employee_type: Option<String>,
    pub account_enabled: bool,
    pub is_guest: bool,
    /// Holds an enabled Exchange Online service plan (`assignedPlans`).
    pub licensed: bool,
    /// `extensionAttribute1..15`, index 0 = 1.
    pub extension_attributes: Vec<Option<String>>,
    pub manager_id: Option<String>,
    /// The manager's name as the last full read expanded it; used only when
    /// the manager is not among the users read (e.g. outside the pre-filter).
    pub manager_display_name: Option<String>,
    /// `mailboxSettings.userPurpose`, read after the round that added or
    /// changed the user (`crate::purpose`); `None` until then.
    #[serde(default)]
    pub mailbox_purpose: Option<MailboxPurpose>,
}

impl SourceUser {
    /// The user from a full read or a delta entry; a delta entry without
    /// `manager@delta` keeps the manager of `previous`.
    pub fn from_graph(user: GraphUser, previous: Option<&SourceUser>) -> SourceUser {
        let (manager_id, manager_display_name) = match (&user.manager, &user.manager_delta) {
            (Some(manager), _) => (Some(manager.id.clone()), manager.display_name.clone()),
            (None, Some(managers)) => match managers.first() {
                Some(manager) => {
                    let known_name = previous
                        .filter(|previous| previous.manager_id.as_deref() == Some(&manager.id))
                        .and_then(|previous| previous.manager_display_name.clone());
                    (Some(manager.id.clone()), known_name)
                }
                None => (None, None),
            },
            (None, None) => match previous {
                Some(previous) => (
                    previous.manager_id.clone(),
                    previous.manager_display_name.clone(),
                ),
                None => (None, None),
            },
        };
        let mut extension_attributes = Vec::with_capacity(15);
        for number in 1..=15u8 {
            let value = user
                .on_premises_extension_attributes
                .as_ref()
                .and_then(|attributes| attributes.get(number))
                .map(str::to_owned);
            extension_attributes.push(value);
        }
        SourceUser {
            id: user.id,
            display_name: user.display_name,
            given_name: user.given_name,
            surname: user.surname,
            mail: user.mail,
            user_principal_name: user.user_principal_name,
            business_phones: user.business_phones.unwrap_or_default(),
            mobile_phone: user.mobile_phone,
            job_title: user.job_title,
            department: user.department,
            company_name: user.company_name,
            office_location: user.office_location,
            street_address: user.street_address,
            city: user.city,
            state: user.state,
            postal_code: user.postal_code,
            country: user.country,
            employee_type: user.employee_type,
            // Graph always returns the selected accountEnabled; absent means
            // the caller could not read it, and enabled is the safer guess.
            account_enabled: user.account_enabled.unwrap_or(true),
            is_guest: user
                .user_type
                .as_deref()
                .is_some_and(|user_type| user_type.eq_ignore_ascii_case("guest")),
            licensed: user
                .assigned_plans
                .as_deref()
                .is_some_and(has_exchange_plan),
            extension_attributes,
            manager_id,
            manager_display_name,
            // New or changed: crate::purpose reads it again.
            mailbox_purpose: None,
        }
    }

    /// A person's mailbox galsync can write to: an Exchange Online plan, mail,
    /// a member, and Graph's `userPurpose` says `user` or `linked` (a shared
    /// mailbox may hold an Exchange licence too).
    pub fn has_user_mailbox(&self) -> bool {
        self.licensed
            && !is_blank(self.mail.as_deref())
            && !self.is_guest
            && self
                .mailbox_purpose
                .is_some_and(|purpose| purpose.is_personal())
    }

    /// A shared mailbox with an address, as `mailboxSettings.userPurpose` says.
    pub fn is_shared_mailbox(&self) -> bool {
        !self.is_guest
            && !is_blank(self.mail.as_deref())
            && self.mailbox_purpose == Some(MailboxPurpose::Shared)
    }

    /// A shared, room or equipment mailbox, as `mailboxSettings.userPurpose` says.
    pub fn is_resource_mailbox(&self) -> bool {
        self.mailbox_purpose
            .is_some_and(|purpose| purpose.is_resource())
    }

    /// The value of a filterable attribute by its Graph name (case-insensitive).
    pub fn attribute(&self, name: &str) -> Option<&str> {
        let lowered = name.to_ascii_lowercase();
        let value = match lowered.as_str() {
            "department" => &self.department,
            "companyname" => &self.company_name,
            "officelocation" => &self.office_location,
            "country" => &self.country,
            "jobtitle" => &self.job_title,
            "employeetype" => &self.employee_type,
            _ => {
                let number = lowered
                    .strip_prefix("onpremisesextensionattributes/")
                    .unwrap_or(&lowered)
                    .strip_prefix("extensionattribute")?
                    .parse::<usize>()
                    .ok()?;
                self.extension_attributes.get(number.checked_sub(1)?)?
            }
        };
        value.as_deref()
    }
}

/// Whether `name` is an attribute rules may test.
pub fn is_known_attribute(name: &str) -> bool {
    let present = Some(String::new());
    let probe = SourceUser {
        department: present.clone(),
        company_name: present.clone(),
        office_location: present.clone(),
        country: present.clone(),
        job_title: present.clone(),
        employee_type: present.clone(),
        extension_attributes: vec![present; 15],
        ..SourceUser::default()
    };
    probe.attribute(name).is_some()
}

pub fn is_blank(value: Option<&str>) -> bool {
    value.is_none_or(|text| text.trim().is_empty())
}

/// A user's mailbox kind, `mailboxSettings.userPurpose`, or no mailbox at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MailboxPurpose {
    /// "A user account with a mailbox in your local forest."
    User,
    /// "A mailbox linked to a user account in another forest."
    Linked,
    /// "A mailbox shared by two or more user accounts."
    Shared,
    /// "A mailbox that represents a conference room."
    Room,
    /// "A mailbox that represents a piece of equipment."
    Equipment,
    /// "Mailbox was found but the user purpose is different from the ones
    /// specified in the previous scenarios."
    Others,
    /// A value Graph added after this was written.
    UnknownFutureValue,
    /// Graph answered 404: no Exchange Online mailbox (MailboxNotEnabledForRESTAPI:
    /// unlicensed, a guest, soft-deleted or hosted on-premises).
    NoMailbox,
}

impl MailboxPurpose {
    /// The purpose from Graph's `value`; an unknown value is a future one.
    pub fn from_graph(value: &str) -> MailboxPurpose {
        match value {
            "user" => MailboxPurpose::User,
            "linked" => MailboxPurpose::Linked,
            "shared" => MailboxPurpose::Shared,
            "room" => MailboxPurpose::Room,
            "equipment" => MailboxPurpose::Equipment,
            "others" => MailboxPurpose::Others,
            _ => MailboxPurpose::UnknownFutureValue,
        }
    }

    /// Shared, room and equipment mailboxes: not people, never targets.
    pub fn is_resource(self) -> bool {
        matches!(
            self,
            MailboxPurpose::Shared | MailboxPurpose::Room | MailboxPurpose::Equipment
        )
    }

    /// A mailbox that belongs to one person (local or linked account).
    pub fn is_personal(self) -> bool {
        matches!(self, MailboxPurpose::User | MailboxPurpose::Linked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_found_case_insensitively_with_extension_numbers() {
        let mut user = SourceUser {
            department: Some("Sales".into()),
            extension_attributes: vec![None; 15],
            ..SourceUser::default()
        };
        user.extension_attributes[9] = Some("EMEA".into());
        assert_eq!(user.attribute("Department"), Some("Sales"));
        assert_eq!(user.attribute("extensionAttribute10"), Some("EMEA"));
        assert_eq!(user.attribute("extensionAttribute16"), None);
        assert!(is_known_attribute("extensionAttribute15"));
        assert!(!is_known_attribute("extensionAttribute16"));
        assert!(!is_known_attribute("manager"));
    }

    fn plan(service: &str, status: &str) -> AssignedPlan {
        AssignedPlan {
            service: Some(service.to_owned()),
            capability_status: Some(status.to_owned()),
        }
    }

    #[test]
    fn only_an_enabled_exchange_plan_makes_a_user_licensed() {
        assert!(!has_exchange_plan(&[plan("PowerBI", "Enabled")]));
        assert!(!has_exchange_plan(&[plan("exchange", "Suspended")]));
        assert!(!has_exchange_plan(&[plan("exchange", "Deleted")]));
        assert!(has_exchange_plan(&[
            plan("PowerBI", "Enabled"),
            plan("exchange", "Enabled")
        ]));
        assert!(has_exchange_plan(&[plan("Exchange", "Warning")]));
    }

    /// The purpose module reads exactly the users without a purpose: a user
    /// a round adds or changes must come out of that round without one.
    #[test]
    fn a_changed_user_has_its_mailbox_purpose_read_again() {
        let previous = SourceUser {
            id: "u".into(),
            mailbox_purpose: Some(MailboxPurpose::User),
            ..SourceUser::default()
        };
        let entry = GraphUser {
            id: "u".into(),
            mobile_phone: Some("+1 425 555 0100".into()),
            ..GraphUser::default()
        };
        let changed = SourceUser::from_graph(entry, Some(&previous));
        assert_eq!(changed.mailbox_purpose, None);
    }

    #[test]
    fn a_delta_entry_without_manager_delta_keeps_the_manager() {
        let previous = SourceUser {
            id: "u".into(),
            manager_id: Some("m".into()),
            manager_display_name: Some("Boss".into()),
            ..SourceUser::default()
        };
        let entry = GraphUser {
            id: "u".into(),
            ..GraphUser::default()
        };
        let user = SourceUser::from_graph(entry, Some(&previous));
        assert_eq!(user.manager_id.as_deref(), Some("m"));
        let cleared = GraphUser {
            id: "u".into(),
            manager_delta: Some(Vec::new()),
            ..GraphUser::default()
        };
        assert_eq!(
            SourceUser::from_graph(cleared, Some(&previous)).manager_id,
            None
        );
    }
}
