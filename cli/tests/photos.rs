//! Photos end to end through a run of the real cluster: the directory's
//! profile photos reach every target mailbox's contacts, and a photo removed
//! at the source is removed from the contacts at the next run.

mod common;

use galsync_graph_emulator::{Emulator, EmulatorConfig};
use galsync_proto::v1;
use uuid::Uuid;

/// The photo bytes of `source`'s contact in `mailbox`, `None` without one,
/// read through Graph as a phone would.
async fn contact_photo(
    emulator: &Emulator,
    tenant: &galsync::demo::tenant::DemoTenant,
    mailbox: Uuid,
    source: Uuid,
) -> Option<Vec<u8>> {
    let folders = emulator.state.mailboxes.folders_named(
        tenant.tenant_id,
        &mailbox.to_string(),
        galsync::demo::verify::FOLDER_NAME,
    );
    let contacts = emulator
        .state
        .mailboxes
        .folder_contacts(tenant.tenant_id, &mailbox.to_string(), &folders[0].id)
        .unwrap();
    let contact = contacts
        .iter()
        .find(|contact| {
            contact["singleValueExtendedProperties"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|property| property["value"].as_str())
                .any(|value| value.ends_with(&source.to_string()))
        })
        .unwrap_or_else(|| panic!("no contact of {source} in {mailbox}"));
    let token = emulator
        .state
        .mint_token(tenant.tenant_id, &tenant.client_id, &["Contacts.Read"]);
    let response = reqwest::Client::new()
        .get(format!(
            "{}/v1.0/users/{mailbox}/contacts/{}/photo/$value",
            emulator.base_url(),
            contact["id"].as_str().unwrap()
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    match response.status().as_u16() {
        200 => Some(response.bytes().await.unwrap().to_vec()),
        404 => None,
        other => panic!("reading a contact photo answered {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn photos_reach_every_mailbox_and_a_removed_one_goes() {
    let emulator = Emulator::start(EmulatorConfig::default()).await.unwrap();
    let common::OnboardedCluster {
        cluster,
        tenant,
        mut scheduler,
        profile_id,
        data_dir: _data_dir,
    } = common::onboarded_cluster(&emulator, 60, 2, 11, true).await;

    // Turn photos on for the demo's profile, as `profile edit --photos` does.
    let profile = scheduler
        .get_profile(v1::GetProfileRequest {
            profile_id: profile_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let mut spec = profile.spec.unwrap();
    spec.write.get_or_insert_with(Default::default).write_photos = true;
    scheduler
        .update_profile(v1::UpdateProfileRequest {
            profile_id: profile_id.clone(),
            spec: Some(spec),
            expected_version: profile.version,
        })
        .await
        .unwrap();

    // Two people with photos: one keeps it, one loses it later.
    let people: Vec<Uuid> = emulator
        .state
        .directory
        .list_users(tenant.tenant_id, false)
        .iter()
        .filter(|user| {
            user.account_enabled && user.mail.is_some() && !tenant.targets.contains(&user.id)
        })
        .map(|user| user.id)
        .take(2)
        .collect();
    let keeper_photo = vec![0xFF, 0xD8, 0xFF, 0xE0, 7, 7, 7];
    let leaver_photo = vec![0xFF, 0xD8, 0xFF, 0xE0, 9, 9, 9];
    for (person, bytes) in [(people[0], &keeper_photo), (people[1], &leaver_photo)] {
        emulator
            .state
            .directory
            .set_photo(tenant.tenant_id, person, bytes.clone().into(), "image/jpeg")
            .unwrap();
    }

    let first = common::run_to_end(&mut scheduler, &profile_id).await;
    assert_eq!(first.state, v1::RunState::Succeeded as i32, "{first:?}");
    for mailbox in &tenant.targets {
        assert_eq!(
            contact_photo(&emulator, &tenant, *mailbox, people[0]).await,
            Some(keeper_photo.clone())
        );
        assert_eq!(
            contact_photo(&emulator, &tenant, *mailbox, people[1]).await,
            Some(leaver_photo.clone())
        );
    }

    emulator
        .state
        .directory
        .remove_photo(tenant.tenant_id, people[1])
        .unwrap();
    let second = common::run_to_end(&mut scheduler, &profile_id).await;
    assert_eq!(second.state, v1::RunState::Succeeded as i32, "{second:?}");
    for mailbox in &tenant.targets {
        assert_eq!(
            contact_photo(&emulator, &tenant, *mailbox, people[0]).await,
            Some(keeper_photo.clone()),
            "the kept photo stays"
        );
        assert_eq!(
            contact_photo(&emulator, &tenant, *mailbox, people[1]).await,
            None,
            "the photo removed at the source is gone from {mailbox}"
        );
    }
    cluster.stop().await.unwrap();
}
