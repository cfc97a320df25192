//! The profile editor's form as a test posts it, and a profile as the
//! scheduler returns it.

use galsync_proto::v1;
use galsync_testkit::scheduler::{MtlsScheduler, TENANT};
use reqwest::StatusCode;

use super::{location, TestConsole};

/// The editor's fields for a valid profile, with `overrides` replacing some.
pub fn editor_fields<'a>(
    token: &'a str,
    overrides: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut fields = vec![
        ("csrf_token", token),
        ("name", "phones"),
        ("tenant_id", TENANT),
        ("enabled", "on"),
        ("targets_all", "on"),
        ("folder_name", "Phone book"),
        ("deletion_mode", "never"),
        ("schedule_kind", "none"),
    ];
    for (name, value) in overrides {
        fields.retain(|(field, _)| field != name);
        fields.push((name, value));
    }
    fields
}

/// Posts the new-profile form, the editor's fields with `overrides`
/// replacing some, as the person signed in with `cookie`; asserts the
/// console redirected to the new profile. Gives its page (`/profiles/{id}`)
/// and its id.
pub async fn create_with_form(
    console: &TestConsole,
    cookie: &str,
    token: &str,
    overrides: &[(&str, &str)],
) -> (String, String) {
    let created = console
        .post_form("/profiles/new", cookie, &editor_fields(token, overrides))
        .await;
    assert_eq!(created.status(), StatusCode::SEE_OTHER);
    let profile_page = location(&created);
    let profile_id = profile_page.trim_start_matches("/profiles/").to_owned();
    (profile_page, profile_id)
}

/// The profile as the scheduler returns it to the `cli` identity.
pub async fn profile_of(scheduler: &MtlsScheduler, profile_id: &str) -> v1::Profile {
    scheduler
        .api("cli")
        .get_profile(v1::GetProfileRequest {
            profile_id: profile_id.to_owned(),
        })
        .await
        .unwrap()
        .into_inner()
}
