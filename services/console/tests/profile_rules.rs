//! The profile editor's rule fields over real HTTPS in front of the mTLS
//! scheduler (tests/common): field rules, and the source filter's attribute
//! rules with what Explain then shows (the test scheduler's stand-in
//! directory has ten users whose departments are
//! `galsync_testkit::scheduler::STAND_IN_DEPARTMENTS`).

mod common;

use common::profile::{create_with_form, editor_fields, profile_of};
use common::{csrf_token_in, spawn_console, TestConsole};
use galsync_proto::v1;
use galsync_testkit::scheduler::MtlsScheduler;
use reqwest::StatusCode;

/// Field rules in the editor: typed one a line, stored as the scheduler's
/// rules, shown again on Edit; a line that is not FIELD=RULE and a field
/// the scheduler does not know come back beside the field.
#[tokio::test]
async fn the_editor_sets_field_rules_and_refuses_bad_ones_beside_the_field() {
    let scheduler = MtlsScheduler::start(1, &[]).await;
    let console = spawn_console(&scheduler, 1800).await;
    let admin = console.sign_in(&console.admin_link).await;
    let token = csrf_token_in(&console.page("/profiles/new", &admin).await);

    for (typed, expected) in [
        ("jobTitle only-if-empty", "is not FIELD=RULE"),
        ("shoeSize=never", "is not a contact field"),
    ] {
        let refused = console
            .post_form(
                "/profiles/new",
                &admin,
                &editor_fields(&token, &[("field_rules", typed)]),
            )
            .await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST, "{typed}");
        let page = refused.text().await.unwrap();
        assert!(
            page.contains("<p class=\"error field-error\" id=\"field_rules-error\">"),
            "{page}"
        );
        assert!(page.contains(expected), "{typed}: {page}");
    }

    let (_, profile_id) = create_with_form(
        &console,
        &admin,
        &token,
        &[(
            "field_rules",
            "mobilePhone=never\r\njobTitle=only-if-empty\r\n",
        )],
    )
    .await;
    let rules = profile_of(&scheduler, &profile_id)
        .await
        .spec
        .unwrap()
        .write
        .unwrap()
        .field_rules;
    assert_eq!(
        rules.get("mobilePhone"),
        Some(&(v1::FieldRule::Never as i32))
    );
    assert_eq!(
        rules.get("jobTitle"),
        Some(&(v1::FieldRule::OnlyIfEmpty as i32))
    );
    let form = console
        .page(&format!("/profiles/{profile_id}/edit"), &admin)
        .await;
    assert!(
        form.contains(">jobTitle=only-if-empty\nmobilePhone=never</textarea>"),
        "{form}"
    );
}

/// Posts the edit form of `profile_id` at `version` with `overrides`;
/// returns the status and the page.
async fn save(
    console: &TestConsole,
    admin: &str,
    profile_id: &str,
    version: &str,
    overrides: &[(&str, &str)],
) -> (StatusCode, String) {
    let edit = format!("/profiles/{profile_id}/edit");
    let token = csrf_token_in(&console.page(&edit, admin).await);
    let mut fields = vec![("expected_version", version)];
    fields.extend_from_slice(overrides);
    let response = console
        .post_form(&edit, admin, &editor_fields(&token, &fields))
        .await;
    let status = response.status();
    (status, response.text().await.unwrap())
}

/// Saving version 2 of the profile with `shoeSize=42` (no attribute the
/// scheduler filters on) as a keep rule, then as a drop rule beside the
/// valid keep rule `keep`, is refused each time beside the text area
/// holding it: `{prefix}include_where` or `{prefix}exclude_where`.
async fn refused_beside_each(
    console: &TestConsole,
    admin: &str,
    profile_id: &str,
    prefix: &str,
    keep: &str,
) {
    let (include, exclude) = (
        format!("{prefix}include_where"),
        format!("{prefix}exclude_where"),
    );
    for (overrides, beside) in [
        (vec![(include.as_str(), "shoeSize=42")], &include),
        (
            vec![(include.as_str(), keep), (exclude.as_str(), "shoeSize=42")],
            &exclude,
        ),
    ] {
        let (status, page) = save(console, admin, profile_id, "2", &overrides).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            page.contains(&format!(
                "<p class=\"error field-error\" id=\"{beside}-error\">`shoeSize` cannot be filtered on"
            )),
            "{beside}: {page}"
        );
    }
}

/// An admin adds attribute rules in the editor: the scheduler stores them,
/// Edit shows them again, and Explain drops the users they exclude. A
/// malformed line is refused by the console beside its field with what was
/// typed; an attribute the scheduler refuses shows beside the text area
/// holding that rule.
#[tokio::test]
async fn the_editor_sets_attribute_rules_and_explain_drops_the_users_they_exclude() {
    let scheduler = MtlsScheduler::start(1, &[]).await;
    let console = spawn_console(&scheduler, 1800).await;
    let admin = console.sign_in(&console.admin_link).await;
    let token = csrf_token_in(&console.page("/profiles/new", &admin).await);
    let (profile_page, profile_id) = create_with_form(&console, &admin, &token, &[]).await;
    let explain = format!("{profile_page}/explain");
    let before = console.page(&explain, &admin).await;
    assert!(
        before.contains("<strong>10</strong> of 10 users read are kept."),
        "{before}"
    );

    let (status, page) = save(
        &console,
        &admin,
        &profile_id,
        "1",
        &[
            ("include_where", "department=Sales, Support,Interns\r\n"),
            ("exclude_where", "department=interns\r\n\r\njobTitle^=Temp"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    let rules = profile_of(&scheduler, &profile_id)
        .await
        .spec
        .unwrap()
        .source
        .unwrap()
        .rules;
    let rule =
        |attribute: &str, operator: v1::attribute_rule::Operator, values: &[&str], exclude| {
            v1::AttributeRule {
                attribute: attribute.to_owned(),
                operator: operator as i32,
                values: values.iter().map(|value| value.to_string()).collect(),
                exclude,
            }
        };
    use v1::attribute_rule::Operator;
    assert_eq!(
        rules,
        [
            rule(
                "department",
                Operator::In,
                &["Sales", "Support", "Interns"],
                false
            ),
            rule("department", Operator::In, &["interns"], true),
            rule("jobTitle", Operator::StartsWith, &["Temp"], true),
        ]
    );
    let form = console
        .page(&format!("/profiles/{profile_id}/edit"), &admin)
        .await;
    assert!(
        form.contains(">department=Sales,Support,Interns</textarea>"),
        "{form}"
    );
    assert!(
        form.contains(">department=interns\njobTitle^=Temp</textarea>"),
        "{form}"
    );
    let shown = console
        .page(&format!("/profiles/{profile_id}"), &admin)
        .await;
    assert!(
        shown.contains("<dd>department=interns; jobTitle^=Temp</dd>"),
        "{shown}"
    );
    let after = console.page(&explain, &admin).await;
    assert!(
        after.contains("<strong>7</strong> of 10 users read are kept."),
        "{after}"
    );
    for (rule, dropped) in [
        ("department in (Sales, Support, Interns)", 1),
        ("exclude department in (interns)", 2),
        ("exclude jobTitle starts with &#39;Temp&#39;", 0),
    ] {
        assert!(
            after.contains(&format!("<tr><td>{rule}</td><td>{dropped}</td></tr>")),
            "{rule}: {after}"
        );
    }

    let typed = "department=Interns\r\ndepartment Temps";
    let (status, page) = save(
        &console,
        &admin,
        &profile_id,
        "2",
        &[("exclude_where", typed)],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        page.contains("aria-describedby=\"exclude_where-error\">department=Interns\r\ndepartment Temps</textarea>"),
        "what was typed comes back: {page}"
    );
    assert!(
        page.contains("<p class=\"error field-error\" id=\"exclude_where-error\">line 2, &quot;department Temps&quot;, is not ATTRIBUTE=VALUE[,VALUE…] or ATTRIBUTE^=PREFIX; write e.g. department=Sales,Support"),
        "{page}"
    );
    assert_eq!(profile_of(&scheduler, &profile_id).await.version, 2);

    refused_beside_each(&console, &admin, &profile_id, "", "department=Sales").await;
}

/// The targets' attribute rules in the editor, read and written by the
/// same rule syntax as the source's: stored as `spec.targets.rules`, shown
/// again on Edit and on the profile's page, kept apart from the source's
/// rules; a malformed line and an attribute the scheduler refuses come
/// back beside the targets' text area holding it.
#[tokio::test]
async fn the_editor_sets_the_targets_attribute_rules_apart_from_the_sources() {
    let scheduler = MtlsScheduler::start(1, &[]).await;
    let console = spawn_console(&scheduler, 1800).await;
    let admin = console.sign_in(&console.admin_link).await;
    let token = csrf_token_in(&console.page("/profiles/new", &admin).await);
    let (profile_page, profile_id) = create_with_form(
        &console,
        &admin,
        &token,
        &[
            ("include_where", "department=Sales"),
            ("target_include_where", "country=NO, SE\r\n"),
            ("target_exclude_where", "jobTitle^=Temp"),
        ],
    )
    .await;
    let spec = profile_of(&scheduler, &profile_id).await.spec.unwrap();
    use v1::attribute_rule::Operator;
    let rule = |attribute: &str, operator: Operator, values: &[&str], exclude| v1::AttributeRule {
        attribute: attribute.to_owned(),
        operator: operator as i32,
        values: values.iter().map(|value| value.to_string()).collect(),
        exclude,
    };
    assert_eq!(
        spec.targets.unwrap().rules,
        [
            rule("country", Operator::In, &["NO", "SE"], false),
            rule("jobTitle", Operator::StartsWith, &["Temp"], true),
        ]
    );
    assert_eq!(
        spec.source.unwrap().rules,
        [rule("department", Operator::In, &["Sales"], false)]
    );
    let form = console
        .page(&format!("/profiles/{profile_id}/edit"), &admin)
        .await;
    assert!(
        form.contains("name=\"target_include_where\">country=NO,SE</textarea>"),
        "{form}"
    );
    assert!(
        form.contains("name=\"target_exclude_where\">jobTitle^=Temp</textarea>"),
        "{form}"
    );
    let shown = console.page(&profile_page, &admin).await;
    assert!(
        shown.contains("<dt>Only mailboxes of users where</dt><dd>country=NO,SE</dd>"),
        "{shown}"
    );
    assert!(
        shown.contains("<dt>No mailboxes of users where</dt><dd>jobTitle^=Temp</dd>"),
        "{shown}"
    );

    // Edit without changing them keeps them (the form carries them).
    let (status, page) = save(
        &console,
        &admin,
        &profile_id,
        "1",
        &[
            ("include_where", "department=Sales"),
            ("target_include_where", "country=NO,SE"),
            ("target_exclude_where", "jobTitle^=Temp"),
            ("folder_name", "Phones"),
        ],
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "{page}");
    let spec = profile_of(&scheduler, &profile_id).await.spec.unwrap();
    assert_eq!(spec.targets.unwrap().rules.len(), 2);

    let (status, page) = save(
        &console,
        &admin,
        &profile_id,
        "2",
        &[("target_exclude_where", "jobTitle Temp")],
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        page.contains("<p class=\"error field-error\" id=\"target_exclude_where-error\">line 1, &quot;jobTitle Temp&quot;, is not ATTRIBUTE=VALUE"),
        "{page}"
    );
    assert!(
        page.contains("aria-describedby=\"target_exclude_where-error\">jobTitle Temp</textarea>"),
        "what was typed comes back: {page}"
    );
    refused_beside_each(&console, &admin, &profile_id, "target_", "country=NO").await;
    assert_eq!(profile_of(&scheduler, &profile_id).await.version, 2);
}
