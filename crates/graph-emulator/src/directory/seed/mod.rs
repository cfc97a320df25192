//! A deterministic synthetic tenant: the same seed gives the same object ids
//! and data. Users are regular members (licensed ~85 % of all, some
//! unlicensed with or without mail — every other one of those with mail holds
//! Power BI Pro only, a licence without Exchange Online —, ~3 % disabled),
//! guests, and shared / room / equipment mailboxes (disabled, unlicensed but
//! for the first shared one, which holds Exchange Online Plan 2 as shared
//! mailboxes with an archive must). Managers form a tree; groups
//! nest departments inside divisions inside "All Staff".
//!
//! Submodules: [`names`] (the name, office and phone pools people and
//! resources are drawn from), [`groups`] (the group tree).

mod groups;
mod names;

use std::collections::{HashMap, HashSet};

use axum::body::Bytes;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::model::{Group, LicenseSku, MailboxKind, User, UserType};
use super::store::{DirectoryError, DirectoryStore};
use names::Office;

/// Knobs of the generator; every field has a default.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct SeedOptions {
    /// Number of users in all (members, guests and resource mailboxes).
    pub users: usize,
    pub seed: u64,
    /// Verified domain for UPNs and mail (default `contoso.onmicrosoft.com`).
    pub domain: String,
    pub disabled_percent: f64,
    pub no_mail_percent: f64,
    pub guest_percent: f64,
    pub licensed_percent: f64,
    pub photo_percent: f64,
    pub shared_mailboxes: Option<usize>,
    pub room_mailboxes: Option<usize>,
    pub equipment_mailboxes: Option<usize>,
    /// Create the division / department / All Staff groups.
    pub groups: bool,
}

impl Default for SeedOptions {
    fn default() -> Self {
        Self {
            users: 100,
            seed: 1,
            domain: "contoso.onmicrosoft.com".to_owned(),
            disabled_percent: 3.0,
            no_mail_percent: 2.0,
            guest_percent: 2.0,
            licensed_percent: 85.0,
            photo_percent: 40.0,
            shared_mailboxes: None,
            room_mailboxes: None,
            equipment_mailboxes: None,
            groups: true,
        }
    }
}

/// One seeded group.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SeededGroup {
    pub id: Uuid,
    pub display_name: String,
    /// `all`, `division` or `department`.
    pub kind: String,
    pub direct_members: usize,
}

/// What a seed produced, by category.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct SeedSummary {
    pub users: usize,
    pub members: usize,
    pub licensed: usize,
    pub unlicensed_with_mail: usize,
    /// Of `unlicensed_with_mail`: members holding Power BI Pro only.
    pub power_bi_only: usize,
    pub disabled: usize,
    pub no_mail: usize,
    pub guests: usize,
    pub shared: usize,
    pub rooms: usize,
    pub equipment: usize,
    pub with_photo: usize,
    pub with_manager: usize,
    /// Users galsync includes by default: enabled members with mail that are
    /// not shared/room/equipment mailboxes.
    pub default_included: usize,
    pub groups: Vec<SeededGroup>,
    pub all_staff_group_id: Option<Uuid>,
    /// Up to 20 enabled licensed members (targets for mailbox tests).
    pub licensed_user_ids: Vec<Uuid>,
}

/// splitmix64: tiny, fast and stable across crate versions.
pub(super) struct SeedRng(u64);

impl SeedRng {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut mixed = self.0;
        mixed = (mixed ^ (mixed >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        mixed = (mixed ^ (mixed >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        mixed ^ (mixed >> 31)
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next_u64() % bound.max(1) as u64) as usize
    }

    fn percent(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 * 100.0
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    pub(super) fn uuid(&mut self) -> Uuid {
        let high = self.next_u64().to_be_bytes();
        let low = self.next_u64().to_be_bytes();
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&high);
        bytes[8..].copy_from_slice(&low);
        uuid::Builder::from_random_bytes(bytes).into_uuid()
    }
}

fn resource_count(explicit: Option<usize>, users: usize, per_mille: usize) -> usize {
    explicit.unwrap_or((users * per_mille).div_ceil(1000).min(users / 20))
}

/// A small JPEG-framed blob, deterministic per user.
fn photo_bytes(rng: &mut SeedRng) -> Bytes {
    let mut bytes = vec![
        0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x10, b'J', b'F', b'I', b'F', 0x00, 0x01, 0x01, 0x00, 0x00,
        0x01, 0x00, 0x01, 0x00, 0x00,
    ];
    let length = 64 + rng.below(448);
    for _ in 0..length / 8 {
        bytes.extend_from_slice(&rng.next_u64().to_le_bytes());
    }
    bytes.extend_from_slice(&[0xFF, 0xD9]);
    Bytes::from(bytes)
}

#[derive(Clone, Copy, PartialEq)]
enum Category {
    Member,
    Guest,
    Resource(MailboxKind),
}

/// Hands out unique mail nicknames: `anna.smith`, then `anna.smith2`, `anna.smith3`, …
/// in O(1) per name (a suffix counter per base, the taken set guards the rare clash).
#[derive(Default)]
struct Nicknames {
    taken: HashSet<String>,
    next_suffix: HashMap<String, usize>,
}

impl Nicknames {
    fn unique(&mut self, base: &str) -> String {
        let suffix = self.next_suffix.entry(base.to_owned()).or_insert(1);
        loop {
            let candidate = if *suffix == 1 {
                base.to_owned()
            } else {
                format!("{base}{suffix}")
            };
            *suffix += 1;
            if self.taken.insert(candidate.clone()) {
                return candidate;
            }
        }
    }
}

fn apply_office(user: &mut User, office: &Office) {
    user.office_location = Some(office.location.to_owned());
    user.street_address = Some(office.street.to_owned());
    user.city = Some(office.city.to_owned());
    user.state = office.state.map(str::to_owned);
    user.postal_code = Some(office.postal_code.to_owned());
    user.country = Some(office.country.to_owned());
    user.usage_location = Some(office.usage_location.to_owned());
    user.preferred_language = Some(office.language.to_owned());
}

/// Builds the users and groups of a seed without touching any store.
pub fn generate(options: &SeedOptions) -> (Vec<User>, Vec<Group>, SeedSummary) {
    let mut rng = SeedRng(options.seed ^ 0x6a15_5eed);
    let total = options.users;
    let shared = resource_count(options.shared_mailboxes, total, 5);
    let rooms = resource_count(options.room_mailboxes, total, 5);
    let equipment = resource_count(options.equipment_mailboxes, total, 2);
    let resources = (shared + rooms + equipment).min(total);
    let guests =
        ((total as f64 * options.guest_percent / 100.0).round() as usize).min(total - resources);
    let members = total - resources - guests;
    // Licences are counted over all users; only members hold them.
    let member_license_percent = if members == 0 {
        0.0
    } else {
        (options.licensed_percent * total as f64 / members as f64).min(100.0)
    };

    let mut summary = SeedSummary {
        users: total,
        members,
        guests,
        ..SeedSummary::default()
    };
    let mut nicknames = Nicknames::default();
    let mut users = Vec::with_capacity(total);
    let mut member_ids: Vec<Uuid> = Vec::with_capacity(members);
    let mut departments_of_members: Vec<usize> = Vec::with_capacity(members);
    let created = chrono::DateTime::from_timestamp(1_600_000_000, 0).unwrap_or_default();

    for index in 0..total {
        let category = if index < members {
            Category::Member
        } else if index < members + guests {
            Category::Guest
        } else {
            let resource_index = index - members - guests;
            if resource_index < shared {
                Category::Resource(MailboxKind::Shared)
            } else if resource_index < shared + rooms {
                Category::Resource(MailboxKind::Room)
            } else {
                Category::Resource(MailboxKind::Equipment)
            }
        };
        let id = rng.uuid();
        let office = rng.pick(names::OFFICES);
        let mut user = match category {
            Category::Resource(kind) => {
                let name = names::resource_name(kind, index, office);
                let nickname = nicknames.unique(&names::ascii_nickname(&name));
                let upn = format!("{nickname}@{}", options.domain);
                let mut user = User::with_id(id, &name, &upn, created);
                user.mail = Some(upn);
                user.mailbox = kind;
                user.account_enabled = false;
                apply_office(&mut user, office);
                if kind == MailboxKind::Shared && summary.shared == 0 {
                    user.other_licenses = vec![LicenseSku::ExchangeOnlinePlan2];
                }
                match kind {
                    MailboxKind::Shared => summary.shared += 1,
                    MailboxKind::Room => summary.rooms += 1,
                    _ => summary.equipment += 1,
                }
                user
            }
            Category::Member | Category::Guest => {
                let person = names::person(&mut || rng.next_u64());
                let nickname = nicknames.unique(&person.nickname);
                let mut user = if category == Category::Guest {
                    let external = format!("{nickname}@{}", rng.pick(names::GUEST_DOMAINS));
                    let upn = format!("{}#EXT#@{}", external.replace('@', "_"), options.domain);
                    let mut guest = User::with_id(id, &person.display_name, &upn, created);
                    guest.mail = Some(external);
                    guest.user_type = UserType::Guest;
                    guest.company_name = Some("Partner".to_owned());
                    guest
                } else {
                    let upn = format!("{nickname}@{}", options.domain);
                    User::with_id(id, &person.display_name, &upn, created)
                };
                user.mail_nickname = nickname;
                user.given_name = Some(person.given_name);
                user.surname = Some(person.surname);
                user
            }
        };

        if category == Category::Member {
            let department_index = rng.below(names::DEPARTMENTS.len());
            let department = &names::DEPARTMENTS[department_index];
            user.department = Some(department.name.to_owned());
            user.job_title = Some((*rng.pick(department.titles)).to_owned());
            user.company_name = Some((*rng.pick(names::COMPANIES)).to_owned());
            user.employee_id = Some(format!("{:06}", 100_000 + index));
            user.employee_type = Some(
                match rng.below(50) {
                    0 => "Intern",
                    1..=4 => "Contractor",
                    _ => "Employee",
                }
                .to_owned(),
            );
            apply_office(&mut user, office);
            user.business_phones = names::business_phones(&mut || rng.next_u64(), office);
            if rng.percent() < 70.0 {
                user.mobile_phone = Some(names::mobile_phone(&mut || rng.next_u64(), office));
            }
            if rng.percent() < 60.0 {
                user.extension_attributes[0] = Some(format!("CC-{:04}", 1000 + rng.below(9000)));
            }
            user.extension_attributes[9] = Some(office.region.to_owned());
            let draw = rng.percent();
            if draw < options.no_mail_percent {
                summary.no_mail += 1;
            } else if draw < options.no_mail_percent + member_license_percent {
                user.licensed = true;
                user.mailbox = MailboxKind::User;
                user.mail = Some(user.user_principal_name.clone());
                summary.licensed += 1;
            } else {
                user.mail = Some(user.user_principal_name.clone());
                // Counted, not drawn, so the random sequence stays as it was.
                if summary.unlicensed_with_mail.is_multiple_of(2) {
                    user.other_licenses = vec![LicenseSku::PowerBiPro];
                    summary.power_bi_only += 1;
                }
                summary.unlicensed_with_mail += 1;
            }
            if rng.percent() < options.disabled_percent {
                user.account_enabled = false;
                summary.disabled += 1;
            }
            if user.licensed && rng.percent() < options.photo_percent {
                let bytes = photo_bytes(&mut rng);
                user.photo = Some(std::sync::Arc::new(super::model::Photo::new(
                    bytes,
                    "image/jpeg",
                )));
                summary.with_photo += 1;
            }
            // A tree: member i reports to member (i - 1) / 8.
            if let Some(manager) = member_ids
                .get(index.saturating_sub(1) / 8)
                .filter(|_| index > 0)
            {
                user.manager_id = Some(*manager);
                summary.with_manager += 1;
            }
            if user.account_enabled && user.mail.is_some() {
                summary.default_included += 1;
                if user.licensed && summary.licensed_user_ids.len() < 20 {
                    summary.licensed_user_ids.push(user.id);
                }
            }
            member_ids.push(user.id);
            departments_of_members.push(department_index);
        }
        users.push(user);
    }

    let mut groups = if options.groups {
        groups::build_groups(
            &mut rng,
            &options.domain,
            &member_ids,
            &departments_of_members,
            &mut summary,
        )
    } else {
        Vec::new()
    };
    for group in &mut groups {
        group.created = created;
    }
    (users, groups, summary)
}

impl DirectoryStore {
    /// Seeds a tenant's directory (added to what is there; same seed twice
    /// collides on ids and fails).
    pub fn seed(
        &self,
        tenant_id: Uuid,
        options: &SeedOptions,
    ) -> Result<SeedSummary, DirectoryError> {
        let (users, groups, summary) = generate(options);
        self.add_users(tenant_id, users)?;
        for group in groups {
            self.create_group(tenant_id, group)?;
        }
        Ok(summary)
    }
}
