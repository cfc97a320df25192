//! The emulated Microsoft 365 tenant of the demo: a seeded directory, an app
//! registration as an administrator would create it, a group of target
//! mailboxes, and the directory changes between the two syncs.

use galsync_graph_emulator::registration::AppRegistrationRequest;
use galsync_graph_emulator::seeding::{MemberRef, User};
use galsync_graph_emulator::seeding::{SeedOptions, SeedSummary};
use galsync_graph_emulator::Emulator;
use uuid::Uuid;

pub const DOMAIN: &str = "contoso.onmicrosoft.com";
pub const TARGET_GROUP: &str = "galsync demo targets";
pub const APP_ROLES: &[&str] = &[
    "User.Read.All",
    "Group.Read.All",
    "MailboxSettings.Read",
    "Contacts.ReadWrite",
];

pub struct DemoTenant {
    pub tenant_id: Uuid,
    pub client_id: String,
    pub target_group_id: Uuid,
    pub targets: Vec<Uuid>,
    pub seed: SeedSummary,
}

/// Seeds the directory, registers the app (nothing granted yet) and makes a
/// group of `mailboxes` licensed, enabled members as the sync targets.
pub fn create(
    emulator: &Emulator,
    users: usize,
    mailboxes: usize,
    seed: u64,
    redirect_uri: &str,
) -> anyhow::Result<DemoTenant> {
    let tenant_id = Uuid::new_v4();
    let state = &emulator.state;
    state
        .identity
        .create_tenant(tenant_id, vec![DOMAIN.to_owned()]);
    let options = SeedOptions {
        users,
        seed,
        domain: DOMAIN.to_owned(),
        ..SeedOptions::default()
    };
    let summary = state
        .directory
        .seed(tenant_id, &options)
        .map_err(|error| anyhow::anyhow!("seeding the emulated directory failed: {error}"))?;
    let app = state
        .identity
        .register_app(
            tenant_id,
            AppRegistrationRequest {
                client_id: None,
                display_name: "galsync".to_owned(),
                requested_roles: APP_ROLES.iter().map(|role| role.to_string()).collect(),
                requested_scopes: Vec::new(),
                redirect_uris: vec![redirect_uri.to_owned()],
                multi_tenant: false,
                public_client: false,
            },
        )
        .map_err(|error| anyhow::anyhow!("registering the app failed: {error}"))?;

    let candidates: Vec<Uuid> = state
        .directory
        .list_users(tenant_id, false)
        .iter()
        .filter(|user| is_mailbox_user(user))
        .map(|user| user.id)
        .collect();
    if candidates.len() < mailboxes {
        anyhow::bail!(
            "invalid --mailboxes {mailboxes}: the {users}-user tenant has only {} licensed members; raise --users",
            candidates.len()
        );
    }
    let targets: Vec<Uuid> = candidates.into_iter().take(mailboxes).collect();
    let group = galsync_graph_emulator::seeding::Group::new_security(TARGET_GROUP);
    let target_group_id = state
        .directory
        .create_group(tenant_id, group)
        .map_err(|error| anyhow::anyhow!("creating the target group failed: {error}"))?;
    for user_id in &targets {
        state
            .directory
            .add_group_member(tenant_id, target_group_id, MemberRef::User(*user_id))
            .map_err(|error| anyhow::anyhow!("adding a target failed: {error}"))?;
    }
    Ok(DemoTenant {
        tenant_id,
        client_id: app.client_id.clone(),
        target_group_id,
        targets,
        seed: summary,
    })
}

/// Users galsync syncs by default: enabled members with mail that are not
/// shared, room or equipment mailboxes.
pub fn is_synced_by_default(user: &User) -> bool {
    use galsync_graph_emulator::seeding::{MailboxKind, UserType};
    user.deleted.is_none()
        && user.account_enabled
        && user.mail.as_deref().is_some_and(|mail| !mail.is_empty())
        && user.user_type == UserType::Member
        && matches!(user.mailbox, MailboxKind::None | MailboxKind::User)
}

fn is_mailbox_user(user: &User) -> bool {
    use galsync_graph_emulator::seeding::MailboxKind;
    is_synced_by_default(user) && user.licensed && user.mailbox == MailboxKind::User
}

/// What the demo changed in the directory, by object id.
#[derive(Debug, Default)]
pub struct Changes {
    pub changed: Vec<Uuid>,
    pub added: Vec<Uuid>,
    pub disabled: Vec<Uuid>,
    pub deleted: Vec<Uuid>,
}

/// Changes 10 users' job titles and phones, adds 5, disables 3 and deletes 2
/// — none of them a target mailbox, so every mailbox keeps receiving.
pub fn change_directory(emulator: &Emulator, tenant: &DemoTenant) -> anyhow::Result<Changes> {
    let directory = &emulator.state.directory;
    let synced: Vec<Uuid> = directory
        .list_users(tenant.tenant_id, false)
        .iter()
        .filter(|user| is_synced_by_default(user) && !tenant.targets.contains(&user.id))
        .map(|user| user.id)
        .collect();
    if synced.len() < 15 {
        anyhow::bail!("the demo tenant is too small to change 15 users; raise --users");
    }
    let mut changes = Changes::default();
    for (index, user_id) in synced.iter().take(10).enumerate() {
        directory
            .modify_user(tenant.tenant_id, *user_id, |user| {
                user.job_title = Some(format!(
                    "Senior {}",
                    user.job_title
                        .clone()
                        .unwrap_or_else(|| "Consultant".to_owned())
                ));
                user.business_phones = vec![format!("+1 425 555 {:04}", 9000 + index)];
            })
            .map_err(|error| anyhow::anyhow!("changing a user failed: {error}"))?;
        changes.changed.push(*user_id);
    }
    for index in 0..5 {
        let upn = format!("new.hire{index}@{DOMAIN}");
        let mut user = User::new(&format!("New Hire {index}"), &upn);
        user.given_name = Some("New".to_owned());
        user.surname = Some(format!("Hire {index}"));
        user.mail = Some(upn.clone());
        user.job_title = Some("Analyst".to_owned());
        user.department = Some("Finance".to_owned());
        user.business_phones = vec![format!("+1 425 555 {:04}", 8000 + index)];
        let id = directory
            .add_user(tenant.tenant_id, user)
            .map_err(|error| anyhow::anyhow!("adding a user failed: {error}"))?;
        changes.added.push(id);
    }
    for user_id in synced.iter().skip(10).take(3) {
        directory
            .set_account_enabled(tenant.tenant_id, *user_id, false)
            .map_err(|error| anyhow::anyhow!("disabling a user failed: {error}"))?;
        changes.disabled.push(*user_id);
    }
    for user_id in synced.iter().skip(13).take(2) {
        directory
            .delete_user(tenant.tenant_id, *user_id)
            .map_err(|error| anyhow::anyhow!("deleting a user failed: {error}"))?;
        changes.deleted.push(*user_id);
    }
    Ok(changes)
}

/// Gives one synced person (not a target) a new job title; returns their name.
pub fn change_one_title(emulator: &Emulator, tenant: &DemoTenant) -> anyhow::Result<String> {
    let directory = &emulator.state.directory;
    let user = directory
        .list_users(tenant.tenant_id, false)
        .into_iter()
        .find(|user| is_synced_by_default(user) && !tenant.targets.contains(&user.id))
        .ok_or_else(|| anyhow::anyhow!("the tenant has no synced person to change"))?;
    directory
        .modify_user(tenant.tenant_id, user.id, |user| {
            user.job_title = Some("Chief Benchmark Officer".to_owned());
        })
        .map_err(|error| anyhow::anyhow!("changing a user failed: {error}"))?;
    Ok(user.display_name.clone())
}
