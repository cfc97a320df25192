//! Who may do what: token purposes per caller identity, and which identities
//! may administer tenants, certificates and consent.

use std::collections::{BTreeMap, BTreeSet};

use galsync_platform::on_behalf::{Person, Role};
use galsync_platform::{AllowedCallers, CallerIdentity};

/// What a Graph token is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Purpose {
    Directory,
    Contacts,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Directory => "directory",
            Purpose::Contacts => "contacts",
        }
    }

    pub fn parse(text: &str) -> Option<Purpose> {
        match text.trim() {
            "directory" => Some(Purpose::Directory),
            "contacts" => Some(Purpose::Contacts),
            _ => None,
        }
    }

    /// App permissions a token for this purpose needs (any one of each group).
    pub fn required_roles(self) -> &'static [&'static [&'static str]] {
        match self {
            Purpose::Directory => &[
                &["User.Read.All", "Directory.Read.All"],
                &[
                    "Group.Read.All",
                    "GroupMember.Read.All",
                    "Directory.Read.All",
                ],
                // user-get-mailboxsettings, Permissions (Application):
                // "MailboxSettings.Read, MailboxSettings.ReadWrite".
                &["MailboxSettings.Read", "MailboxSettings.ReadWrite"],
            ],
            Purpose::Contacts => &[&["Contacts.ReadWrite"]],
        }
    }
}

impl Purpose {
    /// The least-privileged permission of each group of
    /// [`Purpose::required_roles`]: what `ProvisionTenant` grants an app for
    /// this purpose (as Microsoft Graph app role values).
    pub fn provisioned_roles(self) -> Vec<&'static str> {
        self.required_roles()
            .iter()
            .filter_map(|group| group.first().copied())
            .collect()
    }
}

/// One app registration galsync wants in a tenant, the same for
/// `ProvisionTenant` and the scripts of `tenant provision --manual`, so
/// either path finds the apps the other made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppPlan {
    /// The application's `uniqueName`, by which both paths find it
    /// (https://learn.microsoft.com/graph/api/application-upsert).
    pub unique_name: String,
    pub display_name: String,
    pub purposes: Vec<Purpose>,
}

impl AppPlan {
    /// The Microsoft Graph application permissions the app is granted.
    pub fn roles(&self) -> Vec<&'static str> {
        let mut roles = Vec::new();
        for purpose in &self.purposes {
            roles.extend(purpose.provisioned_roles());
        }
        roles
    }
}

/// One app for everything, or (least privilege) a read app and a write app.
pub fn app_plans(tenant_id: &str, tenant_name: &str, two_apps: bool) -> Vec<AppPlan> {
    if !two_apps {
        return vec![AppPlan {
            unique_name: format!("galsync-{tenant_id}"),
            display_name: format!("galsync – {tenant_name}"),
            purposes: vec![Purpose::Directory, Purpose::Contacts],
        }];
    }
    [Purpose::Directory, Purpose::Contacts]
        .into_iter()
        .map(|purpose| AppPlan {
            unique_name: format!("galsync-{purpose}-{tenant_id}"),
            display_name: format!("galsync – {purpose} – {tenant_name}"),
            purposes: vec![purpose],
        })
        .collect()
}

/// What galsync does with a required permission, for Test Connection's advice.
pub fn why_needed(role: &str) -> &'static str {
    match role {
        "User.Read.All" => "reads the users of the directory",
        "Group.Read.All" => "reads the members of include, exclude and target groups",
        "MailboxSettings.Read" => {
            "reads mailboxSettings/userPurpose, which tells people's mailboxes from shared, \
             room and equipment mailboxes"
        }
        "Contacts.ReadWrite" => "writes the contacts into the target mailboxes",
        _ => "",
    }
}

impl std::fmt::Display for Purpose {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.write_str(self.as_str())
    }
}

#[derive(Debug, Clone)]
pub struct Policy {
    token_callers: BTreeMap<Purpose, AllowedCallers>,
    admins: AllowedCallers,
    /// The admin console's identity, the only one believed when it names
    /// the person it calls for (`--console-identity`); `None`: nobody.
    console_identity: Option<String>,
}

impl Policy {
    /// `grants` are `service=purpose` pairs, e.g. `directory-reader=directory`.
    pub fn new(
        grants: &[String],
        admin_services: &[String],
        trust_local_plaintext: bool,
    ) -> Result<Self, String> {
        let mut services_by_purpose: BTreeMap<Purpose, BTreeSet<String>> = BTreeMap::new();
        for purpose in [Purpose::Directory, Purpose::Contacts] {
            services_by_purpose.insert(purpose, BTreeSet::new());
        }
        for grant in grants {
            let Some((service, purpose_text)) = grant.split_once('=') else {
                return Err(format!(
                    "`{grant}` is not SERVICE=PURPOSE, e.g. directory-reader=directory"
                ));
            };
            let Some(purpose) = Purpose::parse(purpose_text) else {
                return Err(format!(
                    "`{purpose_text}` in `{grant}` is not a purpose; use directory or contacts"
                ));
            };
            services_by_purpose
                .entry(purpose)
                .or_default()
                .insert(service.trim().to_owned());
        }
        let token_callers = services_by_purpose
            .into_iter()
            .map(|(purpose, services)| {
                (
                    purpose,
                    AllowedCallers::new(services, trust_local_plaintext),
                )
            })
            .collect();
        Ok(Self {
            token_callers,
            admins: AllowedCallers::new(admin_services, trust_local_plaintext),
            console_identity: None,
        })
    }

    /// Names the console's identity (`--console-identity`); blank: none.
    pub fn with_console_identity(mut self, identity: &str) -> Self {
        let trimmed = identity.trim();
        self.console_identity = (!trimmed.is_empty()).then(|| trimmed.to_owned());
        self
    }

    /// Who makes `request`: its certificate's identity, or — from the
    /// console's identity only, and only with both on-behalf-of entries —
    /// the person the console names. The refusal's text otherwise.
    pub fn caller<T>(&self, request: &tonic::Request<T>) -> Result<CallerIdentity, String> {
        let identity = galsync_platform::caller_identity(request);
        let claimed = galsync_platform::on_behalf::on_behalf_of(request)?;
        let console = self.console_identity.as_deref();
        let is_console =
            matches!(&identity, CallerIdentity::Service(name) if Some(name.as_str()) == console);
        match (claimed, is_console) {
            (None, false) => Ok(identity),
            (Some(claimed), true) => Ok(CallerIdentity::Person(Box::new(Person {
                person: claimed.person,
                role: claimed.role,
                via: console.unwrap_or_default().to_owned(),
            }))),
            (None, true) => Err(format!(
                "the console identity {identity} calls only on behalf of a signed-in person; send {} and {}",
                galsync_platform::on_behalf::ON_BEHALF_OF_HEADER,
                galsync_platform::on_behalf::ON_BEHALF_OF_ROLE_HEADER
            )),
            (Some(_), false) => Err(format!(
                "{identity} may not act on behalf of a person ({}); {}",
                galsync_platform::on_behalf::ON_BEHALF_OF_HEADER,
                match console {
                    Some(name) => format!("only the console identity {name} may (--console-identity)"),
                    None => "no identity may: --console-identity is empty".to_owned(),
                }
            )),
        }
    }

    /// Whether `caller` may do what needs `least`: an admin identity
    /// (`--admin-identity`) may do everything; a person through the console
    /// what their role allows.
    pub fn may(&self, caller: &CallerIdentity, least: Role) -> bool {
        match caller {
            CallerIdentity::Person(person) => {
                Some(person.via.as_str()) == self.console_identity.as_deref()
                    && person.role >= least
            }
            other => self.admins.admits(other),
        }
    }

    pub fn may_get_token(&self, caller: &CallerIdentity, purpose: Purpose) -> bool {
        self.token_callers
            .get(&purpose)
            .is_some_and(|allowed| allowed.admits(caller))
    }

    pub fn may_administer(&self, caller: &CallerIdentity) -> bool {
        self.may(caller, Role::Admin)
    }

    /// The identities that manage tenants, certificates and consent.
    pub fn admins(&self) -> &AllowedCallers {
        &self.admins
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn default_policy() -> Policy {
        Policy::new(
            &[
                "directory-reader=directory".to_owned(),
                "contact-writer=contacts".to_owned(),
            ],
            &["scheduler".to_owned(), "cli".to_owned()],
            false,
        )
        .unwrap()
    }

    #[test]
    fn each_service_gets_only_its_purpose() {
        let policy = default_policy();
        let reader = CallerIdentity::Service("directory-reader".to_owned());
        let writer = CallerIdentity::Service("contact-writer".to_owned());
        assert!(policy.may_get_token(&reader, Purpose::Directory));
        assert!(!policy.may_get_token(&reader, Purpose::Contacts));
        assert!(policy.may_get_token(&writer, Purpose::Contacts));
        assert!(!policy.may_get_token(&writer, Purpose::Directory));
        assert!(!policy.may_get_token(&CallerIdentity::Unidentified, Purpose::Directory));
        assert!(!policy.may_get_token(&CallerIdentity::LocalPlaintext, Purpose::Directory));
        assert!(!policy.may_administer(&reader));
        assert!(policy.may_administer(&CallerIdentity::Service("cli".to_owned())));
    }

    #[test]
    fn provisioning_grants_the_least_privileged_role_of_each_group() {
        assert_eq!(
            Purpose::Directory.provisioned_roles(),
            ["User.Read.All", "Group.Read.All", "MailboxSettings.Read"]
        );
        assert_eq!(
            Purpose::Contacts.provisioned_roles(),
            ["Contacts.ReadWrite"]
        );
    }

    #[test]
    fn malformed_grants_are_explained() {
        let error = Policy::new(&["reader:directory".to_owned()], &[], false).unwrap_err();
        assert!(error.contains("SERVICE=PURPOSE"));
        let error = Policy::new(&["reader=mail".to_owned()], &[], false).unwrap_err();
        assert!(error.contains("not a purpose"));
    }
}
