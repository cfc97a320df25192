//! Roles from Microsoft Entra ID beyond a short `groups` claim, over real
//! HTTP against the graph emulator: a person in more groups than fit in an
//! ID token (the groups overage: `_claim_names`/`_claim_sources` instead of
//! `groups`) gets their role from Microsoft Graph's `POST
//! /me/checkMemberGroups`, asked about the mapped groups only, 20 at a time;
//! someone with the overage in none of the mapped groups gets the refusal
//! page; an app role of the console's app registration assigned to a person
//! (the ID token's `roles`) gives the role `--role-app-role` maps it to, and
//! so does one assigned to a group the person is a direct member of (not to
//! a group their group is nested in, as in Entra).

mod common;

use common::entra::{session_cookie_of, set_cookie, sign_in_with_microsoft, EntraTenant};
use common::{spawn_entra_console, TestConsole};
use galsync_console::SESSION_COOKIE;
use galsync_testkit::scheduler::MtlsScheduler;
use reqwest::StatusCode;

/// As the emulator counts it (without `/v1.0`).
const CHECK_MEMBER_GROUPS: &str = "/me/checkMemberGroups";

/// Signs whoever the emulated browser is signed in as in; the overview's
/// header on success, or the refusal's status and page.
async fn sign_in(
    console: &TestConsole,
    tenant: &EntraTenant,
) -> Result<String, (StatusCode, String)> {
    let response = sign_in_with_microsoft(console, tenant).await;
    if response.status() != StatusCode::OK {
        assert!(
            set_cookie(&response, SESSION_COOKIE).is_none(),
            "a refusal starts no session"
        );
        return Err((response.status(), response.text().await.unwrap()));
    }
    let session = session_cookie_of(&response);
    Ok(console.page("/", &session).await)
}

#[tokio::test]
async fn a_person_in_more_groups_than_fit_in_the_id_token_gets_their_role_from_microsoft_graph() {
    let scheduler = MtlsScheduler::start(1, &[]).await;
    let mut tenant = EntraTenant::start().await;
    // 22 mapped groups: two calls of at most 20 ids each.
    for _ in 0..20 {
        let nobody_in_it = uuid::Uuid::new_v4();
        tenant
            .extra_role_groups
            .push(format!("viewer={nobody_in_it}"));
    }
    let console = spawn_entra_console(&scheduler, &mut tenant).await;
    let ada = tenant.person_in_many_groups(
        "Ada Lovelace",
        "ada@contoso.example",
        Some(tenant.admin_group),
        201,
    );
    let grace = tenant.person_in_many_groups("Grace Hopper", "grace@contoso.example", None, 201);

    tenant.browser_signs_in_as(&ada).await;
    let overview = sign_in(&console, &tenant).await.expect("ada signs in");
    assert!(
        overview.contains("ada@contoso.example (admin)"),
        "{overview}"
    );
    assert_eq!(tenant.requests_to(CHECK_MEMBER_GROUPS).await, 2);

    tenant.browser_signs_in_as(&grace).await;
    let (status, page) = sign_in(&console, &tenant)
        .await
        .expect_err("grace has no role");
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        page.contains("signed you in as grace@contoso.example (Grace Hopper"),
        "{page}"
    );
    assert!(
        page.contains("you are in none of the Entra groups"),
        "{page}"
    );
    assert_eq!(tenant.requests_to(CHECK_MEMBER_GROUPS).await, 4);

    // Someone in few groups is read from the token: Graph is not asked.
    let lin = tenant.person(
        "Lin Viewer",
        "lin@contoso.example",
        Some(tenant.viewer_group),
    );
    tenant.browser_signs_in_as(&lin).await;
    let overview = sign_in(&console, &tenant).await.expect("lin signs in");
    assert!(
        overview.contains("lin@contoso.example (viewer)"),
        "{overview}"
    );
    assert_eq!(tenant.requests_to(CHECK_MEMBER_GROUPS).await, 4);
}

#[tokio::test]
async fn an_app_role_assigned_to_a_person_gives_the_role_it_is_mapped_to() {
    let scheduler = MtlsScheduler::start(1, &[]).await;
    let mut tenant = EntraTenant::start().await;
    tenant.role_app_roles = vec!["operator=GalSync.Operator".to_owned()];
    let console = spawn_entra_console(&scheduler, &mut tenant).await;
    let oscar = tenant.person("Oscar Operator", "oscar@contoso.example", None);
    tenant.assign_app_role(&oscar, "GalSync.Operator").await;
    let rita = tenant.person("Rita Reader", "rita@contoso.example", None);
    tenant.assign_app_role(&rita, "GalSync.Reader").await;

    tenant.browser_signs_in_as(&oscar).await;
    let overview = sign_in(&console, &tenant).await.expect("oscar signs in");
    assert!(
        overview.contains("oscar@contoso.example (operator)"),
        "{overview}"
    );

    // An app role the console does not map gives nothing.
    tenant.browser_signs_in_as(&rita).await;
    let (status, page) = sign_in(&console, &tenant)
        .await
        .expect_err("rita has no role");
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        page.contains("or to assign you the app role mapped to it"),
        "{page}"
    );
}

#[tokio::test]
async fn an_app_role_assigned_to_a_group_gives_its_direct_members_the_mapped_role() {
    let scheduler = MtlsScheduler::start(1, &[]).await;
    let mut tenant = EntraTenant::start().await;
    tenant.role_app_roles = vec!["admin=GalSync.Admin".to_owned()];
    let console = spawn_entra_console(&scheduler, &mut tenant).await;
    let helpdesk = tenant.group("Helpdesk", &[]);
    let galsync_admins = tenant.group("GalSync admins", &[helpdesk]);
    tenant
        .assign_app_role_to_group(galsync_admins, "GalSync.Admin")
        .await;
    let ada = tenant.person("Ada Admin", "ada@contoso.example", Some(galsync_admins));
    let nina = tenant.person("Nina Nested", "nina@contoso.example", Some(helpdesk));

    tenant.browser_signs_in_as(&ada).await;
    let overview = sign_in(&console, &tenant).await.expect("ada signs in");
    assert!(
        overview.contains("ada@contoso.example (admin)"),
        "{overview}"
    );

    // Only direct members are assigned: Nina's group is nested in it.
    tenant.browser_signs_in_as(&nina).await;
    let (status, page) = sign_in(&console, &tenant)
        .await
        .expect_err("nina has no role");
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        page.contains("or to assign you the app role mapped to it"),
        "{page}"
    );
}
