//! The profile pages over real HTTPS in front of the mTLS scheduler
//! (tests/common): the list, the editor validated by the scheduler,
//! Explain, and a dry run's plan on its run page.

mod common;

use common::profile::{create_with_form, editor_fields, profile_of};
use common::{csrf_token_in, location, spawn_console};
use galsync_proto::v1;
use galsync_testkit::scheduler::{profile_spec, MtlsScheduler, TENANT};
use reqwest::StatusCode;

#[tokio::test]
async fn an_admin_creates_and_edits_a_profile_and_sees_the_apis_field_errors_by_the_field() {
    let scheduler = MtlsScheduler::start(2, &[]).await;
    let console = spawn_console(&scheduler, 1800).await;
    let admin = console.sign_in(&console.admin_link).await;
    let list = console.page("/profiles", &admin).await;
    assert!(list.contains("No profile yet."), "{list}");
    let form = console.page("/profiles/new", &admin).await;
    let token = csrf_token_in(&form);

    let forged = console
        .post_form("/profiles/new", &admin, &editor_fields("forged", &[]))
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);

    let unnamed = console
        .post_form(
            "/profiles/new",
            &admin,
            &editor_fields(&token, &[("name", "")]),
        )
        .await;
    assert_eq!(unnamed.status(), StatusCode::BAD_REQUEST);
    let unnamed = unnamed.text().await.unwrap();
    assert!(
        unnamed.contains("aria-describedby=\"name-error\""),
        "{unnamed}"
    );
    assert!(
        unnamed.contains("<p class=\"error field-error\" id=\"name-error\">is empty"),
        "{unnamed}"
    );
    assert!(
        unnamed.contains("value=\"Phone book\""),
        "the form keeps what was typed"
    );

    let (profile_page, profile_id) = create_with_form(&console, &admin, &token, &[]).await;
    let profile = profile_of(&scheduler, &profile_id).await;
    let spec = profile.spec.clone().unwrap();
    assert_eq!(spec.name, "phones");
    assert_eq!(spec.write.unwrap().folder_name, "Phone book");
    let shown = console.page(&profile_page, &admin).await;
    assert!(shown.contains("<dd>Phone book</dd>"), "{shown}");
    assert!(shown.contains("<dd>never delete</dd>"), "{shown}");
    let list = console.page("/profiles", &admin).await;
    assert!(
        list.contains(&format!("href=\"{profile_page}\">phones</a>")),
        "{list}"
    );

    let edit = format!("/profiles/{profile_id}/edit");
    let form = console.page(&edit, &admin).await;
    assert!(
        form.contains("name=\"expected_version\" value=\"1\""),
        "{form}"
    );
    let bad_cron = console
        .post_form(
            &edit,
            &admin,
            &editor_fields(
                &token,
                &[
                    ("expected_version", "1"),
                    ("schedule_kind", "cron"),
                    ("cron", "every morning"),
                ],
            ),
        )
        .await;
    assert_eq!(bad_cron.status(), StatusCode::BAD_REQUEST);
    let bad_cron = bad_cron.text().await.unwrap();
    assert!(
        bad_cron.contains("<p class=\"error field-error\" id=\"cron-error\">"),
        "{bad_cron}"
    );
    let saved = console
        .post_form(
            &edit,
            &admin,
            &editor_fields(
                &token,
                &[
                    ("expected_version", "1"),
                    ("folder_name", "Colleagues"),
                    ("schedule_kind", "interval"),
                    ("interval_seconds", "3600"),
                ],
            ),
        )
        .await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    let profile = profile_of(&scheduler, &profile_id).await;
    assert_eq!(profile.version, 2);
    let shown = console.page(&profile_page, &admin).await;
    assert!(shown.contains("<dd>Colleagues</dd>"), "{shown}");
    assert!(shown.contains("<dd>every 3600 s</dd>"), "{shown}");

    // Saving the form read at version 1 again is refused: someone changed it.
    let stale = console
        .post_form(
            &edit,
            &admin,
            &editor_fields(&token, &[("expected_version", "1")]),
        )
        .await;
    assert_eq!(stale.status(), StatusCode::CONFLICT);
}

#[tokio::test]
async fn explain_and_a_dry_run_show_who_is_kept_and_the_plan_on_the_run_page() {
    let scheduler = MtlsScheduler::start(1, &[]).await;
    let console = spawn_console(&scheduler, 1800).await;
    let admin = console.sign_in(&console.admin_link).await;
    let profile = scheduler.create_profile("phones", TENANT).await;
    let profile_page = format!("/profiles/{}", profile.profile_id);
    let shown = console.page(&profile_page, &admin).await;
    let explained = console
        .page(&format!("{profile_page}/explain"), &admin)
        .await;
    assert!(
        explained.contains("<strong>1</strong> target mailboxes resolve."),
        "{explained}"
    );
    assert!(explained.contains("users read are kept."), "{explained}");

    let started = console
        .post(
            &format!("{profile_page}/dry-run"),
            Some(&admin),
            Some(&csrf_token_in(&shown)),
        )
        .await;
    assert_eq!(started.status(), StatusCode::SEE_OTHER);
    let run_page = location(&started);
    assert!(run_page.starts_with("/runs/"), "{run_page}");
    let change = v1::PlannedChange {
        action: v1::planned_change::Action::Create as i32,
        source_object_id: "user-1".to_owned(),
        display_name: "Ada Lovelace".to_owned(),
        changes: Vec::new(),
    };
    let mailbox = scheduler.plan_one_mailbox(vec![change]).await;
    let run_id = run_page.trim_start_matches("/runs/");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while scheduler.run_state(run_id).await != v1::RunState::Succeeded {
        assert!(
            std::time::Instant::now() < deadline,
            "the dry run did not end"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let page = console.page(&run_page, &admin).await;
    assert!(
        page.contains("Planned changes (dry run: nothing was written)"),
        "{page}"
    );
    assert!(
        page.contains(&format!(
            "<td>{mailbox}</td><td>create</td><td>Ada Lovelace</td>"
        )),
        "{page}"
    );
}

#[tokio::test]
async fn an_operator_runs_a_profile_now_and_its_run_page_follows_it_to_the_end() {
    let scheduler = MtlsScheduler::start(2, &[]).await;
    let console = spawn_console(&scheduler, 1800).await;
    let operator = console.sign_in(&console.operator_link).await;
    let profile = scheduler.create_profile("phones", TENANT).await;
    let profile_page = format!("/profiles/{}", profile.profile_id);
    let shown = console.page(&profile_page, &operator).await;
    assert!(
        shown.contains("<button type=\"submit\">Run now</button>"),
        "{shown}"
    );

    let started = console
        .post(
            &format!("{profile_page}/run"),
            Some(&operator),
            Some(&csrf_token_in(&shown)),
        )
        .await;
    assert_eq!(started.status(), StatusCode::SEE_OTHER);
    let run_page = location(&started);
    let run_id = run_page.trim_start_matches("/runs/").to_owned();
    let run = scheduler
        .api("cli")
        .get_run(v1::GetRunRequest {
            run_id: run_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert!(!run.dry_run, "Run now writes");
    assert_eq!(run.profile_id, profile.profile_id);
    assert!(run.trigger.contains("otto"), "{}", run.trigger);
    scheduler.complete_one_mailbox(3).await;
    scheduler.complete_one_mailbox(4).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while scheduler.run_state(&run_id).await != v1::RunState::Succeeded {
        assert!(std::time::Instant::now() < deadline, "the run did not end");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let page = console.page(&run_page, &operator).await;
    assert!(
        page.contains(
            "<span id=\"mailboxes_done\">2</span> / <span id=\"mailboxes_total\">2</span>"
        ) && page.contains("<span id=\"created\">7</span> created"),
        "{page}"
    );
    assert!(!page.contains("Planned changes"), "{page}");
}

#[tokio::test]
async fn a_viewer_reads_profiles_but_cannot_edit_or_start_a_dry_run() {
    let scheduler = MtlsScheduler::start(1, &[]).await;
    let console = spawn_console(&scheduler, 1800).await;
    let viewer = console.sign_in(&console.viewer_link).await;
    let profile = scheduler.create_profile("phones", TENANT).await;
    let profile_page = format!("/profiles/{}", profile.profile_id);
    let list = console.page("/profiles", &viewer).await;
    assert!(!list.contains("New profile"), "{list}");
    let shown = console.page(&profile_page, &viewer).await;
    assert!(shown.contains("<dd>phones</dd>"), "{shown}");
    assert!(!shown.contains(">Edit</a>"), "{shown}");
    assert!(!shown.contains("Dry run</button>"), "{shown}");
    assert!(shown.contains("Starting a run or a dry run needs the operator role."));
    let token = csrf_token_in(&shown);
    let refused = console
        .post(
            &format!("{profile_page}/dry-run"),
            Some(&viewer),
            Some(&token),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let refused = console
        .get(&format!("{profile_page}/edit"), Some(&viewer))
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let refused = console
        .post_form(
            &format!("{profile_page}/edit"),
            &viewer,
            &editor_fields(&token, &[("expected_version", "1"), ("name", "taken")]),
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert_eq!(profile_of(&scheduler, &profile.profile_id).await.version, 1);
    for path in ["/profiles", &profile_page, "/profiles/new"] {
        let anonymous = console.get(path, None).await;
        assert_eq!(anonymous.status(), StatusCode::SEE_OTHER, "GET {path}");
        assert_eq!(location(&anonymous), "/sign-in");
    }
}

/// A dry run's page shows each field a change touches, its value now and
/// the one planned (escaped), and pages through a plan longer than a page.
#[tokio::test]
async fn a_dry_runs_page_shows_old_and_new_values_and_pages_through_the_plan() {
    let scheduler = MtlsScheduler::start(1, &[]).await;
    let console = spawn_console(&scheduler, 1800).await;
    let viewer = console.sign_in(&console.viewer_link).await;
    let mut api = scheduler.api("cli");
    let profile = api
        .create_profile(v1::CreateProfileRequest {
            spec: Some(profile_spec("phones", TENANT)),
        })
        .await
        .unwrap()
        .into_inner();
    let run = api
        .run_profile(v1::RunProfileRequest {
            profile_id: profile.profile_id,
            dry_run: true,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    let update = v1::PlannedChange {
        action: v1::planned_change::Action::Update as i32,
        source_object_id: "user-0".to_owned(),
        display_name: "Ada Lovelace".to_owned(),
        changes: vec![v1::FieldChange {
            field: "jobTitle".to_owned(),
            old_value: "Engineer".to_owned(),
            new_value: "Senior Engineer <R&D>".to_owned(),
        }],
    };
    let mut changes = vec![update];
    // One more than a page: the last one is on the second page.
    for index in 1..=200 {
        changes.push(v1::PlannedChange {
            action: v1::planned_change::Action::Create as i32,
            source_object_id: format!("user-{index}"),
            display_name: format!("Person {index:03}"),
            changes: Vec::new(),
        });
    }
    scheduler.plan_one_mailbox(changes).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while scheduler.run_state(&run.run_id).await != v1::RunState::Succeeded {
        assert!(
            std::time::Instant::now() < deadline,
            "the dry run did not end"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let run_page = format!("/runs/{}", run.run_id);
    let first = console.page(&run_page, &viewer).await;
    assert!(
        first.contains(
            "<code>jobTitle</code>: <del>Engineer</del> → <ins>Senior Engineer &lt;R&amp;D&gt;</ins>"
        ),
        "{first}"
    );
    assert!(first.contains("Person 199"), "{first}");
    assert!(!first.contains("Person 200"), "{first}");
    let marker = "?plan_page=";
    let start = first.find(marker).expect("a link to the next page") + marker.len();
    let token = first[start..].split('#').next().unwrap();
    let second = console
        .page(&format!("{run_page}?plan_page={token}"), &viewer)
        .await;
    assert!(second.contains("Person 200"), "{second}");
    assert!(!second.contains("Person 199"), "{second}");
    assert!(!second.contains("Next 200 changes"), "{second}");
    assert!(second.contains("First changes"), "{second}");
}

/// Deleting a profile: an admin ticks that the contacts stay and it is
/// gone, audited with the person; not without the tick, not while a run
/// is in progress, not for a viewer, not with a forged token.
#[tokio::test]
async fn an_admin_deletes_a_profile_once_a_run_is_over_and_a_viewer_cannot() {
    let scheduler = MtlsScheduler::start(1, &[]).await;
    let console = spawn_console(&scheduler, 1800).await;
    let admin = console.sign_in(&console.admin_link).await;
    let viewer = console.sign_in(&console.viewer_link).await;
    let run_id = scheduler.start_writing_run("phones", TENANT).await;
    let run = scheduler
        .api("cli")
        .get_run(v1::GetRunRequest {
            run_id: run_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    let profile_page = format!("/profiles/{}", run.profile_id);
    let delete_path = format!("{profile_page}/delete");

    let seen_by_viewer = console.page(&profile_page, &viewer).await;
    assert!(
        !seen_by_viewer.contains("Delete profile"),
        "{seen_by_viewer}"
    );
    let viewer_csrf = csrf_token_in(&seen_by_viewer);
    let refused = console
        .post_form(
            &delete_path,
            &viewer,
            &[("csrf_token", &viewer_csrf), ("confirm", "on")],
        )
        .await;
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);

    let shown = console.page(&profile_page, &admin).await;
    assert!(
        shown.contains("The contacts it already wrote stay"),
        "{shown}"
    );
    let csrf = csrf_token_in(&shown);
    let forged = console
        .post_form(
            &delete_path,
            &admin,
            &[("csrf_token", "forged"), ("confirm", "on")],
        )
        .await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    let unticked = console
        .post_form(&delete_path, &admin, &[("csrf_token", &csrf)])
        .await;
    assert_eq!(unticked.status(), StatusCode::BAD_REQUEST);
    let busy = console
        .post_form(
            &delete_path,
            &admin,
            &[("csrf_token", &csrf), ("confirm", "on")],
        )
        .await;
    assert_eq!(busy.status(), StatusCode::CONFLICT);
    assert!(busy.text().await.unwrap().contains("cancel it first"));
    assert_eq!(
        profile_of(&scheduler, &run.profile_id).await.profile_id,
        run.profile_id
    );

    scheduler.complete_one_mailbox(3).await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while scheduler.run_state(&run_id).await != v1::RunState::Succeeded {
        assert!(std::time::Instant::now() < deadline, "the run did not end");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let deleted = console
        .post_form(
            &delete_path,
            &admin,
            &[("csrf_token", &csrf), ("confirm", "on")],
        )
        .await;
    assert_eq!(deleted.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&deleted), "/profiles");
    let gone = scheduler
        .api("cli")
        .get_profile(v1::GetProfileRequest {
            profile_id: run.profile_id.clone(),
        })
        .await
        .unwrap_err();
    assert_eq!(gone.code(), tonic::Code::NotFound);
    let audit = console.page("/audit", &admin).await;
    assert!(audit.contains("profile.deleted"), "{audit}");
    assert!(
        audit.contains("bootstrap-admin via urn:galsync:service:console"),
        "{audit}"
    );
}
