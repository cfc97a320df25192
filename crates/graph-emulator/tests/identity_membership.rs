//! Memberships in ID tokens and where an app finds them when they do not
//! fit, over real HTTP: a user in more than 200 security groups gets the
//! groups overage (`_claim_names`/`_claim_sources`, no `groups`), one in 200
//! gets them all; `POST /me/checkMemberGroups` with the delegated token of
//! the sign-in answers which of at most 20 groups the user is in, and
//! refuses 21 ids, an app-only token and a token without `User.Read`; an
//! app role of the app assigned to the user, or to a group they are a
//! direct member of, is in the ID token's `roles`.

mod support;

use galsync_graph_emulator::seeding::{Group, MemberRef};
use reqwest::Method;
use serde_json::{json, Value};
use support::identity::{admin_post, jwt_claims, start, TestTenant, GRAPH_DEFAULT, REDIRECT_URI};
use uuid::Uuid;

/// A user in `groups` new security groups; returns (user id, group ids).
fn user_in_groups(tenant: &TestTenant, upn: &str, groups: usize) -> (String, Vec<Uuid>) {
    let directory = &tenant.emulator.state.directory;
    let user_id = directory.add_mailbox_user(tenant.tenant_id, upn, upn, true);
    let mut group_ids = Vec::new();
    for index in 0..groups {
        let group = Group::new_security(&format!("Group {index} of {upn}"));
        let group_id = directory
            .create_group(tenant.tenant_id, group)
            .expect("group");
        directory
            .add_group_member(
                tenant.tenant_id,
                group_id,
                MemberRef::User(user_id.parse().expect("id")),
            )
            .expect("member");
        group_ids.push(group_id);
    }
    (user_id, group_ids)
}

/// `upn` signs in through the authorization code flow asking for `scope`;
/// returns the ID token's claims and the delegated access token.
async fn sign_in(tenant: &TestTenant, secret: &str, upn: &str, scope: &str) -> (Value, String) {
    tenant.browser_sign_in(upn).await;
    let (code, verifier) = tenant.authorization_code_for("n", scope).await;
    let tenant_id = tenant.tenant_id.to_string();
    let form = [
        ("grant_type", "authorization_code"),
        ("client_id", tenant.client_id.as_str()),
        ("client_secret", secret),
        ("code", code.as_str()),
        ("redirect_uri", REDIRECT_URI),
        ("code_verifier", verifier.as_str()),
    ];
    let (status, body) = tenant.token_request(&tenant_id, &form).await;
    assert_eq!(status, 200, "{body}");
    let id_token = jwt_claims(body["id_token"].as_str().expect("id token"));
    (
        id_token,
        body["access_token"]
            .as_str()
            .expect("access token")
            .to_owned(),
    )
}

async fn check(tenant: &TestTenant, token: &str, ids: &[Uuid]) -> (u16, Value) {
    let body = json!({"groupIds": ids});
    tenant
        .graph(Method::POST, "/me/checkMemberGroups", token, Some(body))
        .await
}

#[tokio::test]
async fn past_200_groups_the_id_token_has_the_overage_and_graph_answers_20_groups_at_a_time() {
    let tenant = start().await;
    tenant.consent_all().await;
    let secret = tenant.add_secret().await;
    let (many_id, many_groups) = user_in_groups(&tenant, "many@contoso.example", 201);
    let (_, fewer_groups) = user_in_groups(&tenant, "fewer@contoso.example", 200);

    let (claims, token) = sign_in(
        &tenant,
        &secret,
        "many@contoso.example",
        "openid profile User.Read",
    )
    .await;
    assert!(claims.get("groups").is_none(), "{claims}");
    assert_eq!(claims["_claim_names"], json!({"groups": "src1"}));
    let endpoint = claims["_claim_sources"]["src1"]["endpoint"]
        .as_str()
        .expect("endpoint");
    assert!(
        endpoint.ends_with(&format!(
            "/{}/users/{many_id}/getMemberObjects",
            tenant.tenant_id
        )),
        "{endpoint}"
    );

    let (fewer, _) = sign_in(
        &tenant,
        &secret,
        "fewer@contoso.example",
        "openid profile User.Read",
    )
    .await;
    assert_eq!(fewer["groups"].as_array().expect("groups").len(), 200);
    assert!(fewer.get("_claim_names").is_none(), "{fewer}");

    // Which of these the user is in: theirs, not the other user's.
    let asked = [many_groups[0], fewer_groups[0], many_groups[200]];
    let (status, answer) = check(&tenant, &token, &asked).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["value"],
        json!([many_groups[0].to_string(), many_groups[200].to_string()])
    );

    let (status, answer) = check(&tenant, &token, &many_groups[..21]).await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(answer["error"]["code"], "Request_BadRequest");
    assert!(
        answer["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("at most 20"),
        "{answer}"
    );

    // /me needs a user; and a user's token needs User.Read (or more).
    let tenant_id = tenant.tenant_id.to_string();
    let app_only = [
        ("grant_type", "client_credentials"),
        ("client_id", tenant.client_id.as_str()),
        ("client_secret", secret.as_str()),
        ("scope", GRAPH_DEFAULT),
    ];
    let (status, body) = tenant.token_request(&tenant_id, &app_only).await;
    assert_eq!(status, 200, "{body}");
    let app_token = body["access_token"].as_str().expect("app token");
    let (status, answer) = check(&tenant, app_token, &many_groups[..1]).await;
    assert_eq!(status, 400, "{answer}");
    let (_, without_user_read) =
        sign_in(&tenant, &secret, "many@contoso.example", "openid profile").await;
    let (status, answer) = check(&tenant, &without_user_read, &many_groups[..1]).await;
    assert_eq!(status, 403, "{answer}");
    assert_eq!(answer["error"]["code"], "Authorization_RequestDenied");
}

#[tokio::test]
async fn an_app_role_assigned_to_a_user_is_in_their_id_token_roles() {
    let tenant = start().await;
    tenant.consent_all().await;
    let secret = tenant.add_secret().await;
    user_in_groups(&tenant, "ada@contoso.example", 1);
    user_in_groups(&tenant, "bob@contoso.example", 1);
    admin_post(
        &tenant.http,
        &tenant.app_admin_url("/app-roles"),
        json!({"value": "GalSync.Admin"}),
    )
    .await;
    admin_post(
        &tenant.http,
        &tenant.app_admin_url("/app-role-assignments"),
        json!({"upn": "ada@contoso.example", "value": "GalSync.Admin"}),
    )
    .await;
    let undefined = tenant
        .http
        .post(tenant.app_admin_url("/app-role-assignments"))
        .json(&json!({"upn": "bob@contoso.example", "value": "GalSync.Nothing"}))
        .send()
        .await
        .expect("admin call");
    assert!(
        undefined.status().is_client_error(),
        "{}",
        undefined.status()
    );

    let (ada, _) = sign_in(&tenant, &secret, "ada@contoso.example", "openid profile").await;
    assert_eq!(ada["roles"], json!(["GalSync.Admin"]));
    let (bob, _) = sign_in(&tenant, &secret, "bob@contoso.example", "openid profile").await;
    assert!(bob.get("roles").is_none(), "{bob}");
}

/// An app role assigned to a group reaches the group's direct members'
/// ID tokens, beside their own assignments, each value once; not the
/// members of a group nested in it ("All direct members of the group will
/// be considered assigned"). A group that is not the tenant's, or neither
/// a user nor a group, is refused.
#[tokio::test]
async fn an_app_role_assigned_to_a_group_is_in_its_direct_members_id_token_roles() {
    let tenant = start().await;
    tenant.consent_all().await;
    let secret = tenant.add_secret().await;
    let (_, ada_groups) = user_in_groups(&tenant, "ada@contoso.example", 1);
    let (nina, _) = user_in_groups(&tenant, "nina@contoso.example", 0);
    let directory = &tenant.emulator.state.directory;
    let nested = directory
        .create_group(tenant.tenant_id, Group::new_security("Helpdesk"))
        .expect("group");
    directory
        .add_group_member(
            tenant.tenant_id,
            nested,
            MemberRef::User(nina.parse().expect("id")),
        )
        .expect("member");
    directory
        .add_group_member(tenant.tenant_id, ada_groups[0], MemberRef::Group(nested))
        .expect("nested");
    for value in ["GalSync.Admin", "GalSync.Operator"] {
        admin_post(
            &tenant.http,
            &tenant.app_admin_url("/app-roles"),
            json!({"value": value}),
        )
        .await;
    }
    let assigned = admin_post(
        &tenant.http,
        &tenant.app_admin_url("/app-role-assignments"),
        json!({"group": ada_groups[0].to_string(), "value": "GalSync.Admin"}),
    )
    .await;
    assert_eq!(assigned["principalType"], "Group", "{assigned}");
    // Ada holds Operator herself and Admin through the group; Bo, also in
    // the group, holds Admin both ways.
    let (bo, _) = user_in_groups(&tenant, "bo@contoso.example", 0);
    directory
        .add_group_member(
            tenant.tenant_id,
            ada_groups[0],
            MemberRef::User(bo.parse().expect("id")),
        )
        .expect("member");
    for body in [
        json!({"upn": "ada@contoso.example", "value": "GalSync.Operator"}),
        json!({"upn": "bo@contoso.example", "value": "GalSync.Admin"}),
    ] {
        admin_post(
            &tenant.http,
            &tenant.app_admin_url("/app-role-assignments"),
            body,
        )
        .await;
    }
    for (body, expected) in [
        (
            json!({"group": Uuid::new_v4().to_string(), "value": "GalSync.Admin"}),
            "no group of the tenant",
        ),
        (
            json!({"upn": "ada@contoso.example", "group": nested.to_string(), "value": "GalSync.Admin"}),
            "give either upn",
        ),
    ] {
        let refused = tenant
            .http
            .post(tenant.app_admin_url("/app-role-assignments"))
            .json(&body)
            .send()
            .await
            .expect("admin call");
        assert_eq!(refused.status(), 400);
        let text = refused.text().await.expect("body");
        assert!(text.contains(expected), "{text}");
    }

    let (ada, _) = sign_in(&tenant, &secret, "ada@contoso.example", "openid profile").await;
    assert_eq!(ada["roles"], json!(["GalSync.Admin", "GalSync.Operator"]));
    let (bo, _) = sign_in(&tenant, &secret, "bo@contoso.example", "openid profile").await;
    assert_eq!(bo["roles"], json!(["GalSync.Admin"]));
    let (nina, _) = sign_in(&tenant, &secret, "nina@contoso.example", "openid profile").await;
    assert!(nina.get("roles").is_none(), "{nina}");
    assert_eq!(
        nina["groups"].as_array().map(Vec::len),
        Some(2),
        "nina is in both groups for the groups claim: {nina}"
    );
}
