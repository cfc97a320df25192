//! The profile editor's form as a test posts it, and a profile as the
//! scheduler returns it.

use galsync_proto::v1;
use galsync_testkit::scheduler::{MtlsScheduler, TENANT};

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
