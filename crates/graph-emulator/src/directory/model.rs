//! The directory's objects as Entra ID stores them: users (with their mailbox
//! kind, licence and photo) and groups (with direct members).
//!
//! Mailbox kinds follow Exchange Online: a licensed user has a `user` mailbox;
//! shared, room and equipment mailboxes exist without a licence and, as in real
//! tenants, their accounts are disabled (`accountEnabled=false`). Graph exposes
//! the kind through `GET /users/{id}/mailboxSettings` → `userPurpose`.

use std::sync::Arc;

use axum::body::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The SKU id of Microsoft 365 E3, assigned to licensed users.
pub const LICENSE_SKU_ID: &str = "05e9a617-0261-4cee-bb44-138d3ef5d965";

/// One service plan of a licence, as `assignedPlans` lists it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServicePlan {
    pub service_plan_id: &'static str,
    /// assignedplan: "service: The name of the service; for example, exchange."
    pub service: &'static str,
}

/// A licence (product SKU) a user may hold besides Microsoft 365 E3, with the
/// service plans it assigns. Ids from "Product names and service plan
/// identifiers for licensing" (learn.microsoft.com/entra/identity/users/licensing-service-plan-reference).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LicenseSku {
    /// Microsoft 365 E3 (SPE_E3): Exchange Online, SharePoint, Office, Teams.
    Microsoft365E3,
    /// Power BI Pro (POWER_BI_PRO): no Exchange Online plan, so no mailbox.
    PowerBiPro,
    /// Exchange Online (Plan 2) (EXCHANGEENTERPRISE), e.g. on a shared
    /// mailbox that needs an archive or more than 50 GB.
    ExchangeOnlinePlan2,
}

const E3_PLANS: &[ServicePlan] = &[
    ServicePlan {
        service_plan_id: "efb87545-963c-4e0d-99df-69c6916d9eb0",
        service: "exchange",
    },
    ServicePlan {
        service_plan_id: "5dbe027f-2339-4123-9542-606e4d348a72",
        service: "SharePoint",
    },
    ServicePlan {
        service_plan_id: "43de0ff5-c92c-492b-9116-175376d08c38",
        service: "MicrosoftOffice",
    },
    ServicePlan {
        service_plan_id: "57ff2da0-773e-42df-b2af-ffb7a2317929",
        service: "TeamspaceAPI",
    },
];

const POWER_BI_PRO_PLANS: &[ServicePlan] = &[ServicePlan {
    service_plan_id: "70d33638-9c74-4d01-bfd3-562de28bd4ba",
    service: "PowerBI",
}];

const EXCHANGE_PLAN_2_PLANS: &[ServicePlan] = &[ServicePlan {
    service_plan_id: "efb87545-963c-4e0d-99df-69c6916d9eb0",
    service: "exchange",
}];

impl LicenseSku {
    pub fn sku_id(self) -> &'static str {
        match self {
            LicenseSku::Microsoft365E3 => LICENSE_SKU_ID,
            LicenseSku::PowerBiPro => "f8a1db68-be16-40ed-86d5-cb42ce701560",
            LicenseSku::ExchangeOnlinePlan2 => "19ec0d23-8335-4cbd-94ac-6050e30712fa",
        }
    }

    pub fn service_plans(self) -> &'static [ServicePlan] {
        match self {
            LicenseSku::Microsoft365E3 => E3_PLANS,
            LicenseSku::PowerBiPro => POWER_BI_PRO_PLANS,
            LicenseSku::ExchangeOnlinePlan2 => EXCHANGE_PLAN_2_PLANS,
        }
    }
}

/// The Exchange Online mailbox behind a user object, if any.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum MailboxKind {
    /// No Exchange Online mailbox.
    #[default]
    None,
    /// A user mailbox (needs a licence).
    User,
    /// A shared mailbox (no licence, account disabled).
    Shared,
    /// A room mailbox (no licence, account disabled).
    Room,
    /// An equipment mailbox (no licence, account disabled).
    Equipment,
}

impl MailboxKind {
    /// The value of `mailboxSettings.userPurpose`.
    pub fn user_purpose(self) -> Option<&'static str> {
        match self {
            MailboxKind::None => None,
            MailboxKind::User => Some("user"),
            MailboxKind::Shared => Some("shared"),
            MailboxKind::Room => Some("room"),
            MailboxKind::Equipment => Some("equipment"),
        }
    }

    pub fn is_resource(self) -> bool {
        matches!(
            self,
            MailboxKind::Shared | MailboxKind::Room | MailboxKind::Equipment
        )
    }
}

/// Member or Guest, Graph's `userType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum UserType {
    #[default]
    Member,
    Guest,
}

impl UserType {
    pub fn as_str(self) -> &'static str {
        match self {
            UserType::Member => "Member",
            UserType::Guest => "Guest",
        }
    }
}

/// A profile photo as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct Photo {
    pub bytes: Bytes,
    pub content_type: String,
    /// The media ETag without quotes, e.g. `BA09D118`.
    pub etag: String,
    pub width: u32,
    pub height: u32,
}

impl Photo {
    /// A photo whose ETag is derived from its content.
    pub fn new(bytes: Bytes, content_type: &str) -> Photo {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(&bytes);
        Photo {
            bytes,
            content_type: content_type.to_owned(),
            etag: hex::encode_upper(&digest[..4]),
            width: 96,
            height: 96,
        }
    }
}

/// A user object. Field names map one to one onto Graph's property names.
#[derive(Debug, Clone, PartialEq)]
pub struct User {
    pub id: Uuid,
    pub display_name: String,
    pub given_name: Option<String>,
    pub surname: Option<String>,
    pub mail: Option<String>,
    pub user_principal_name: String,
    pub mail_nickname: String,
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
    pub usage_location: Option<String>,
    pub preferred_language: Option<String>,
    pub employee_id: Option<String>,
    pub employee_type: Option<String>,
    pub account_enabled: bool,
    pub user_type: UserType,
    /// `onPremisesExtensionAttributes.extensionAttribute1..15`.
    pub extension_attributes: [Option<String>; 15],
    pub manager_id: Option<Uuid>,
    pub mailbox: MailboxKind,
    /// Holds Microsoft 365 E3, which includes Exchange Online.
    pub licensed: bool,
    /// Licences held besides the E3 `licensed` stands for, e.g. Power BI Pro
    /// alone (no mailbox) or Exchange Online Plan 2 on a shared mailbox.
    pub other_licenses: Vec<LicenseSku>,
    pub photo: Option<Arc<Photo>>,
    pub created: DateTime<Utc>,
    /// Set while the user is soft-deleted.
    pub deleted: Option<DateTime<Utc>>,
}

impl User {
    /// A minimal enabled member without a mailbox; set the other fields directly.
    pub fn new(display_name: &str, user_principal_name: &str) -> User {
        User::with_id(
            Uuid::new_v4(),
            display_name,
            user_principal_name,
            Utc::now(),
        )
    }

    /// Like `new`, with a given object id and creation time (no randomness, no clock).
    pub fn with_id(
        id: Uuid,
        display_name: &str,
        user_principal_name: &str,
        created: DateTime<Utc>,
    ) -> User {
        let nickname = user_principal_name
            .split('@')
            .next()
            .unwrap_or(user_principal_name)
            .to_owned();
        User {
            id,
            display_name: display_name.to_owned(),
            given_name: None,
            surname: None,
            mail: None,
            user_principal_name: user_principal_name.to_owned(),
            mail_nickname: nickname,
            business_phones: Vec::new(),
            mobile_phone: None,
            job_title: None,
            department: None,
            company_name: None,
            office_location: None,
            street_address: None,
            city: None,
            state: None,
            postal_code: None,
            country: None,
            usage_location: None,
            preferred_language: None,
            employee_id: None,
            employee_type: None,
            account_enabled: true,
            user_type: UserType::Member,
            extension_attributes: Default::default(),
            manager_id: None,
            mailbox: MailboxKind::None,
            licensed: false,
            other_licenses: Vec::new(),
            photo: None,
            created,
            deleted: None,
        }
    }

    /// A licensed member with a user mailbox and `mail` = UPN.
    pub fn new_licensed(display_name: &str, user_principal_name: &str) -> User {
        let mut user = User::new(display_name, user_principal_name);
        user.mail = Some(user_principal_name.to_owned());
        user.licensed = true;
        user.mailbox = MailboxKind::User;
        user
    }

    /// Every licence the user holds, E3 first.
    pub fn licenses(&self) -> Vec<LicenseSku> {
        let mut licenses = Vec::with_capacity(1 + self.other_licenses.len());
        if self.licensed {
            licenses.push(LicenseSku::Microsoft365E3);
        }
        for license in &self.other_licenses {
            if !licenses.contains(license) {
                licenses.push(*license);
            }
        }
        licenses
    }

    /// Whether the contact writer can address this user's mailbox.
    pub fn has_mailbox(&self) -> bool {
        self.mailbox != MailboxKind::None
    }
}

/// What a group member is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "type", content = "id", rename_all = "lowercase")]
pub enum MemberRef {
    User(Uuid),
    Group(Uuid),
}

/// A group object with its direct members in insertion order.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub id: Uuid,
    pub display_name: String,
    pub description: Option<String>,
    pub mail: Option<String>,
    pub mail_nickname: String,
    pub mail_enabled: bool,
    pub security_enabled: bool,
    /// e.g. `["Unified"]` for Microsoft 365 groups, empty for security groups.
    pub group_types: Vec<String>,
    pub members: Vec<MemberRef>,
    pub created: DateTime<Utc>,
}

impl Group {
    /// A security group without mail.
    pub fn new_security(display_name: &str) -> Group {
        let nickname: String = display_name
            .chars()
            .filter(|character| character.is_ascii_alphanumeric())
            .collect();
        Group {
            id: Uuid::new_v4(),
            display_name: display_name.to_owned(),
            description: None,
            mail: None,
            mail_nickname: if nickname.is_empty() {
                "group".to_owned()
            } else {
                nickname
            },
            mail_enabled: false,
            security_enabled: true,
            group_types: Vec::new(),
            members: Vec::new(),
            created: Utc::now(),
        }
    }
}
