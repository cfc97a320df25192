//! The two PowerShell scripts of `tenant provision --manual`, from templates
//! embedded in the binary, with every value put in safely.
//!
//! A value reaches a script in two forms only: as a single-quoted string
//! literal (PowerShell expands nothing in one; a `'` is written `''`), or as
//! text in a `#` line comment. Values with control characters (a newline would
//! end the comment or the string's line) are refused before any file is written.

#[cfg(test)]
use galsync_auth_broker::policy::app_plans;
use galsync_auth_broker::policy::{AppPlan, Purpose};

use crate::error::{CliError, CliResult};

const ENTRA_TEMPLATE: &str = include_str!("entra.ps1");
const EXCHANGE_TEMPLATE: &str = include_str!("exchange.ps1");

/// The purposes of an app as the script names them, e.g. `directory,contacts`.
fn purpose_text(app: &AppPlan) -> String {
    let names: Vec<&str> = app
        .purposes
        .iter()
        .map(|purpose| purpose.as_str())
        .collect();
    names.join(",")
}

/// Everything the templates are filled with, checked.
#[derive(Debug, Clone)]
pub struct ScriptValues {
    pub tenant_id: String,
    pub tenant_name: String,
    pub thumbprint_sha1: String,
    pub apps: Vec<AppPlan>,
    pub registered_client_ids: Vec<String>,
    pub target_group: Option<String>,
}

/// Refuses a value PowerShell text cannot hold safely, naming where it came from.
pub fn check_value(source: &str, value: &str) -> CliResult<()> {
    if value.trim().is_empty() {
        return Err(CliError::usage(format!("invalid {source}: it is empty")));
    }
    if let Some(character) = value.chars().find(|character| character.is_control()) {
        return Err(CliError::usage(format!(
            "invalid {source}: it contains the control character U+{:04X}; \
             PowerShell scripts cannot carry it safely",
            character as u32
        )));
    }
    Ok(())
}

/// A PowerShell single-quoted string literal: nothing inside is expanded; a
/// quote is doubled. PowerShell also takes the typographic single quotes
/// (U+2018, U+2019, U+201A, U+201B) as quotes, so they are doubled too.
pub fn single_quoted(value: &str) -> String {
    let mut quoted = String::with_capacity(value.len() + 2);
    quoted.push('\'');
    for character in value.chars() {
        if matches!(
            character,
            '\'' | '\u{2018}' | '\u{2019}' | '\u{201a}' | '\u{201b}'
        ) {
            quoted.push(character);
        }
        quoted.push(character);
    }
    quoted.push('\'');
    quoted
}

fn quoted_list(values: &[&str]) -> String {
    let quoted: Vec<String> = values.iter().map(|value| single_quoted(value)).collect();
    quoted.join(", ")
}

/// galsync-entra.ps1: the app registration(s), certificate and admin consent.
pub fn entra_script(values: &ScriptValues) -> CliResult<String> {
    let mut app_lines = Vec::new();
    for app in &values.apps {
        app_lines.push(format!(
            "    @{{ Purpose = {}; UniqueName = {}; DisplayName = {}; Permissions = @({}) }}",
            single_quoted(&purpose_text(app)),
            single_quoted(&app.unique_name),
            single_quoted(&app.display_name),
            quoted_list(&app.roles()),
        ));
    }
    let registered: Vec<&str> = values
        .registered_client_ids
        .iter()
        .map(String::as_str)
        .collect();
    fill(
        ENTRA_TEMPLATE,
        &[
            ("TENANT_NAME_TEXT", values.tenant_name.clone()),
            ("TENANT_ID_TEXT", values.tenant_id.clone()),
            ("THUMBPRINT_TEXT", values.thumbprint_sha1.clone()),
            ("TENANT_ID", single_quoted(&values.tenant_id)),
            ("TENANT_NAME", single_quoted(&values.tenant_name)),
            ("THUMBPRINT", single_quoted(&values.thumbprint_sha1)),
            ("APPS", app_lines.join("\n")),
            ("REGISTERED_CLIENT_IDS", quoted_list(&registered)),
        ],
    )
}

/// galsync-exchange.ps1: RBAC for Applications over the target group; `None`
/// without a target group.
pub fn exchange_script(values: &ScriptValues) -> CliResult<Option<String>> {
    let Some(target_group) = &values.target_group else {
        return Ok(None);
    };
    let Some(write_app) = values
        .apps
        .iter()
        .find(|app| app.purposes.contains(&Purpose::Contacts))
    else {
        return Err(CliError::failed("no planned app writes contacts"));
    };
    let script = fill(
        EXCHANGE_TEMPLATE,
        &[
            ("TENANT_NAME_TEXT", values.tenant_name.clone()),
            ("TENANT_ID_TEXT", values.tenant_id.clone()),
            ("WRITE_APP_TEXT", write_app.display_name.clone()),
            ("TARGET_GROUP_TEXT", target_group.clone()),
            ("TENANT_ID", single_quoted(&values.tenant_id)),
            ("WRITE_APP", single_quoted(&write_app.display_name)),
            (
                "WRITE_APP_UNIQUE_NAME",
                single_quoted(&write_app.unique_name),
            ),
            ("TARGET_GROUP", single_quoted(target_group)),
        ],
    )?;
    Ok(Some(script))
}

/// Replaces each `{{NAME}}` of the template in one pass, so a value that
/// itself holds `{{…}}` stays as it is; a name without a value is a bug in galsync.
fn fill(template: &str, values: &[(&str, String)]) -> CliResult<String> {
    let mut text = String::with_capacity(template.len() + 1024);
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        text.push_str(&rest[..start]);
        let after_open = &rest[start + 2..];
        let Some(end) = after_open.find("}}") else {
            return Err(CliError::failed("a script template has an unclosed `{{`"));
        };
        let name = &after_open[..end];
        let Some((_, value)) = values.iter().find(|(known, _)| *known == name) else {
            return Err(CliError::failed(format!(
                "a script template has no value for `{{{{{name}}}}}`"
            )));
        };
        text.push_str(value);
        rest = &after_open[end + 2..];
    }
    text.push_str(rest);
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(tenant_name: &str, two_apps: bool, target_group: Option<&str>) -> ScriptValues {
        ScriptValues {
            tenant_id: "72f988bf-86f1-41af-91ab-2d7cd011db47".to_owned(),
            tenant_name: tenant_name.to_owned(),
            thumbprint_sha1: "0123456789ABCDEF0123456789ABCDEF01234567".to_owned(),
            apps: app_plans(
                "72f988bf-86f1-41af-91ab-2d7cd011db47",
                tenant_name,
                two_apps,
            ),
            registered_client_ids: vec!["aaaaaaaa-0000-0000-0000-000000000001".to_owned()],
            target_group: target_group.map(str::to_owned),
        }
    }

    #[test]
    fn quotes_are_doubled_and_nothing_is_expanded() {
        assert_eq!(single_quoted("O'Brien & Söhne"), "'O''Brien & Söhne'");
        assert_eq!(
            single_quoted("$(Remove-Item C:\\)"),
            "'$(Remove-Item C:\\)'"
        );
        assert_eq!(single_quoted("it\u{2019}s"), "'it\u{2019}\u{2019}s'");
    }

    #[test]
    fn control_characters_are_refused_naming_the_source() {
        let error = check_value("--target-group", "Sales\nRemove-Item").unwrap_err();
        assert!(
            error.message.contains("--target-group"),
            "{}",
            error.message
        );
        assert!(error.message.contains("U+000A"), "{}", error.message);
        assert!(check_value("--target-group", "Sales – Nord").is_ok());
    }

    #[test]
    fn the_permissions_are_the_first_choices_of_the_brokers_table() {
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
    fn a_value_that_looks_like_a_placeholder_stays_as_it_is() {
        let entra = entra_script(&values("{{TENANT_ID}}", false, None)).unwrap();
        assert!(entra.contains("$TenantName = '{{TENANT_ID}}'"), "{entra}");
    }

    #[test]
    fn every_placeholder_is_filled() {
        for two_apps in [false, true] {
            let filled = values("Contoso", two_apps, Some("Phones"));
            let entra = entra_script(&filled).unwrap();
            let exchange = exchange_script(&filled).unwrap().unwrap();
            assert!(!entra.contains("{{"), "{entra}");
            assert!(!exchange.contains("{{"), "{exchange}");
            assert!(entra.contains("$TenantName = 'Contoso'"), "{entra}");
        }
        assert!(exchange_script(&values("Contoso", false, None))
            .unwrap()
            .is_none());
    }
}
