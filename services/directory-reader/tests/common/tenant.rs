//! A small hand-built tenant with one user of every kind the source filter
//! tells apart, so every rule has an exact expected count.

use galsync_graph_emulator::seeding::{Group, MailboxKind, MemberRef, User, UserType};
use uuid::Uuid;

use super::{member, Harness};

pub struct People {
    pub alice: Uuid,
    pub bob: Uuid,
    pub carol: Uuid,
    pub grace: Uuid,
    pub dave_disabled: Uuid,
    pub erin_without_mail: Uuid,
    pub frank_guest: Uuid,
    pub room: Uuid,
    pub shared: Uuid,
    pub equipment: Uuid,
    pub sales_group: Uuid,
    pub interns_group: Uuid,
}

fn with_profile(
    mut user: User,
    department: &str,
    company: &str,
    country: &str,
    title: &str,
    employee_type: &str,
) -> User {
    user.department = Some(department.to_owned());
    user.company_name = Some(company.to_owned());
    user.country = Some(country.to_owned());
    user.job_title = Some(title.to_owned());
    user.employee_type = Some(employee_type.to_owned());
    user.business_phones = vec!["  +1 425 555 0100 ".to_owned()];
    user
}

fn resource(name: &str, kind: MailboxKind) -> User {
    let mut user = User::new(
        name,
        &format!("{}@contoso.onmicrosoft.com", name.to_lowercase()),
    );
    user.mail = Some(user.user_principal_name.clone());
    user.account_enabled = false;
    user.mailbox = kind;
    user
}

/// alice, bob, carol (enabled licensed members), grace (enabled, mail, no
/// licence), dave (disabled member), erin (no mail), frank (guest), and a
/// room, a shared and an equipment mailbox. Groups: "Sales" = alice + the
/// nested group "Interns" = carol.
pub fn build(harness: &Harness) -> People {
    let mut alice = with_profile(
        member("Alice Adams"),
        "Sales",
        "Contoso",
        "US",
        "Account Executive",
        "Employee",
    );
    alice.office_location = Some("Seattle".to_owned());
    alice.extension_attributes[0] = Some("CC-1000".to_owned());
    let mut bob = with_profile(
        member("Bob Brown"),
        "Support",
        "Fabrikam",
        "UK",
        "Support Engineer",
        "Contractor",
    );
    bob.office_location = Some("London".to_owned());
    bob.extension_attributes[0] = Some("CC-2000".to_owned());
    let carol = with_profile(
        member("Carol Clark"),
        "sales",
        "Contoso",
        "DE",
        "Sales Intern",
        "Intern",
    );
    let mut grace = with_profile(
        User::new("Grace Green", "grace@contoso.onmicrosoft.com"),
        "Legal",
        "Contoso",
        "US",
        "Counsel",
        "Employee",
    );
    grace.mail = Some("grace@contoso.onmicrosoft.com".to_owned());
    let mut dave = with_profile(
        member("Dave Disabled"),
        "Sales",
        "Contoso",
        "US",
        "Former Rep",
        "Employee",
    );
    dave.account_enabled = false;
    let erin = with_profile(
        User::new("Erin Nomail", "erin@contoso.onmicrosoft.com"),
        "Marketing",
        "Contoso",
        "US",
        "Designer",
        "Employee",
    );
    let mut frank = User::new(
        "Frank Guest",
        "frank_partner.example#EXT#@contoso.onmicrosoft.com",
    );
    frank.mail = Some("frank@partner.example".to_owned());
    frank.user_type = UserType::Guest;

    let mut people = People {
        alice: harness.add_user(alice),
        bob: harness.add_user(bob),
        carol: harness.add_user(carol),
        grace: harness.add_user(grace),
        dave_disabled: harness.add_user(dave),
        erin_without_mail: harness.add_user(erin),
        frank_guest: harness.add_user(frank),
        room: harness.add_user(resource("Room1", MailboxKind::Room)),
        shared: harness.add_user(resource("Helpdesk", MailboxKind::Shared)),
        equipment: harness.add_user(resource("Projector", MailboxKind::Equipment)),
        sales_group: Uuid::nil(),
        interns_group: Uuid::nil(),
    };
    let directory = &harness.emulator.state.directory;
    directory
        .set_manager(harness.tenant_id, people.bob, Some(people.alice))
        .unwrap();
    let mut interns = Group::new_security("Interns");
    interns.members.push(MemberRef::User(people.carol));
    people.interns_group = directory
        .create_group(harness.tenant_id, interns.clone())
        .unwrap();
    let mut sales = Group::new_security("Sales");
    sales.members.push(MemberRef::User(people.alice));
    sales.members.push(MemberRef::Group(interns.id));
    people.sales_group = directory.create_group(harness.tenant_id, sales).unwrap();
    people
}

pub fn sorted(ids: &[Uuid]) -> Vec<String> {
    let mut strings: Vec<String> = ids.iter().map(Uuid::to_string).collect();
    strings.sort();
    strings
}
