//! The source filter against a hand-built tenant: each default exclusion,
//! each attribute operator, include/exclude groups (nested), the OData
//! pre-filter, and ExplainFilter's per-rule counts.

mod common;

use common::tenant::{build, sorted};
use common::Harness;
use galsync_proto::v1;
use v1::attribute_rule::Operator;

fn rule(attribute: &str, operator: Operator, values: &[&str], exclude: bool) -> v1::AttributeRule {
    v1::AttributeRule {
        attribute: attribute.to_owned(),
        operator: operator as i32,
        values: values.iter().map(|value| value.to_string()).collect(),
        exclude,
    }
}

async fn explain(harness: &Harness, filter: v1::SourceFilter) -> v1::FilterExplanation {
    let mut reader = harness.reader().await;
    reader
        .explain_filter(v1::ExplainFilterRequest {
            tenant_id: harness.tenant_id.to_string(),
            filter: Some(filter),
        })
        .await
        .unwrap()
        .into_inner()
}

fn dropped_by(explanation: &v1::FilterExplanation, rule: &str) -> u64 {
    let found = explanation.rules.iter().find(|count| count.rule == rule);
    found
        .unwrap_or_else(|| panic!("no rule {rule:?} in {:?}", explanation.rules))
        .dropped
}

async fn kept_ids(harness: &Harness, filter: v1::SourceFilter) -> Vec<String> {
    let snapshot = harness.take(filter).await;
    harness
        .entries(&snapshot.snapshot_id)
        .await
        .into_iter()
        .map(|entry| entry.source_object_id)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_default_exclusion_drops_its_users_and_each_include_flag_brings_them_back() {
    let harness = Harness::start().await;
    let people = build(&harness);

    let defaults = explain(&harness, v1::SourceFilter::default()).await;
    assert_eq!((defaults.users_read, defaults.users_kept), (10, 4));
    assert_eq!(dropped_by(&defaults, "exclude guests"), 1);
    assert_eq!(
        dropped_by(&defaults, "exclude shared/room/equipment mailboxes"),
        3
    );
    assert_eq!(dropped_by(&defaults, "exclude disabled accounts"), 1);
    assert_eq!(dropped_by(&defaults, "exclude users without mail"), 1);
    let kept = kept_ids(&harness, v1::SourceFilter::default()).await;
    assert_eq!(
        kept,
        sorted(&[people.alice, people.bob, people.carol, people.grace])
    );

    let with_guests = v1::SourceFilter {
        include_guests: true,
        ..Default::default()
    };
    assert!(kept_ids(&harness, with_guests)
        .await
        .contains(&people.frank_guest.to_string()));
    let with_disabled = v1::SourceFilter {
        include_disabled: true,
        ..Default::default()
    };
    let kept = kept_ids(&harness, with_disabled.clone()).await;
    assert_eq!(
        kept.len(),
        5,
        "dave comes back, resource mailboxes stay out"
    );
    assert!(kept.contains(&people.dave_disabled.to_string()));
    let with_resources = v1::SourceFilter {
        include_disabled: true,
        include_resource_mailboxes: true,
        ..Default::default()
    };
    let kept = kept_ids(&harness, with_resources).await;
    assert_eq!(kept.len(), 8);
    for resource in [people.room, people.shared, people.equipment] {
        assert!(kept.contains(&resource.to_string()));
    }
    let with_no_mail = v1::SourceFilter {
        include_without_mail: true,
        ..Default::default()
    };
    assert!(kept_ids(&harness, with_no_mail)
        .await
        .contains(&people.erin_without_mail.to_string()));

    // Changing the local parts of the filter never re-read the directory:
    // one full read (the initial delta round, one page here), then one delta
    // request per round.
    assert_eq!(harness.requests_to("/users"), 0);
    assert_eq!(harness.requests_to("/users/delta"), 1 + 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attribute_rules_match_case_insensitively_and_report_what_they_dropped() {
    let harness = Harness::start().await;
    let people = build(&harness);
    let cases: Vec<(v1::AttributeRule, Vec<uuid::Uuid>, &str)> = vec![
        (
            rule("department", Operator::Equals, &["SALES"], false),
            vec![people.alice, people.carol],
            "department eq 'SALES'",
        ),
        (
            rule("jobTitle", Operator::StartsWith, &["support"], false),
            vec![people.bob],
            "jobTitle starts with 'support'",
        ),
        (
            rule("country", Operator::In, &["us", "uk"], false),
            vec![people.alice, people.bob, people.grace],
            "country in (us, uk)",
        ),
        (
            rule("employeeType", Operator::Equals, &["intern"], true),
            vec![people.alice, people.bob, people.grace],
            "exclude employeeType eq 'intern'",
        ),
        (
            rule("companyName", Operator::In, &["fabrikam"], false),
            vec![people.bob],
            "companyName in (fabrikam)",
        ),
        (
            rule("officeLocation", Operator::Equals, &["seattle"], false),
            vec![people.alice],
            "officeLocation eq 'seattle'",
        ),
        (
            rule(
                "extensionAttribute1",
                Operator::StartsWith,
                &["cc-2"],
                false,
            ),
            vec![people.bob],
            "extensionAttribute1 starts with 'cc-2'",
        ),
    ];
    for (attribute_rule, expected, description) in cases {
        let filter = v1::SourceFilter {
            rules: vec![attribute_rule],
            ..Default::default()
        };
        assert_eq!(
            kept_ids(&harness, filter.clone()).await,
            sorted(&expected),
            "{description}"
        );
        let explanation = explain(&harness, filter).await;
        assert_eq!(
            explanation.users_kept,
            expected.len() as u64,
            "{description}"
        );
        assert_eq!(
            dropped_by(&explanation, description),
            4 - expected.len() as u64,
            "{description}"
        );
    }

    let mut reader = harness.reader().await;
    let unknown = reader
        .take_snapshot(v1::TakeSnapshotRequest {
            tenant_id: harness.tenant_id.to_string(),
            filter: Some(v1::SourceFilter {
                rules: vec![rule("salary", Operator::Equals, &["1"], false)],
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), tonic::Code::InvalidArgument);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn group_filters_follow_nested_groups_at_one_request_per_group() {
    let harness = Harness::start().await;
    let people = build(&harness);
    let included = v1::SourceFilter {
        include_group_ids: vec![people.sales_group.to_string()],
        ..Default::default()
    };
    assert_eq!(
        kept_ids(&harness, included.clone()).await,
        sorted(&[people.alice, people.carol])
    );
    let endpoint = "/groups/{id}/transitiveMembers/microsoft.graph.user";
    assert_eq!(harness.requests_to(endpoint), 1);
    // A member added to the group changes no user: the next snapshot of the
    // same filter has them all the same (the last one is not reused).
    harness
        .emulator
        .state
        .directory
        .add_group_member(
            harness.tenant_id,
            people.sales_group,
            galsync_graph_emulator::seeding::MemberRef::User(people.bob),
        )
        .unwrap();
    assert_eq!(
        kept_ids(&harness, included).await,
        sorted(&[people.alice, people.bob, people.carol])
    );
    harness
        .emulator
        .state
        .directory
        .remove_group_member(harness.tenant_id, people.sales_group, people.bob)
        .unwrap();
    assert_eq!(harness.requests_to(endpoint), 2);

    let both = v1::SourceFilter {
        include_group_ids: vec![people.sales_group.to_string()],
        exclude_group_ids: vec![people.interns_group.to_string()],
        ..Default::default()
    };
    assert_eq!(
        kept_ids(&harness, both.clone()).await,
        sorted(&[people.alice])
    );
    assert_eq!(harness.requests_to(endpoint), 4);
    let explanation = explain(&harness, both).await;
    let include_rule = format!("members of groups ({})", people.sales_group);
    let exclude_rule = format!("exclude members of groups ({})", people.interns_group);
    assert_eq!(dropped_by(&explanation, &include_rule), 2, "bob and grace");
    assert_eq!(dropped_by(&explanation, &exclude_rule), 1, "carol");

    let missing = v1::SourceFilter {
        include_group_ids: vec![uuid::Uuid::new_v4().to_string()],
        ..Default::default()
    };
    let error = harness
        .take_request(missing, false, false)
        .await
        .unwrap_err();
    assert_eq!(error.code(), tonic::Code::NotFound, "{error:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_odata_prefilter_reaches_graph_and_delta_rounds_respect_it() {
    let harness = Harness::start().await;
    let people = build(&harness);
    let prefiltered = v1::SourceFilter {
        odata_prefilter: "department eq 'Support'".to_owned(),
        ..Default::default()
    };
    let first = harness.take(prefiltered.clone()).await;
    assert_eq!(
        first.read_stats.clone().unwrap().users_read,
        1,
        "graph filtered the users"
    );
    assert_eq!(
        harness.entries(&first.snapshot_id).await[0].source_object_id,
        people.bob.to_string()
    );

    // A change inside and one outside the pre-filter: the outside one is not added.
    let directory = &harness.emulator.state.directory;
    directory
        .modify_user(harness.tenant_id, people.bob, |user| {
            user.mobile_phone = Some("+44 7700 900123".into())
        })
        .unwrap();
    directory
        .modify_user(harness.tenant_id, people.alice, |user| {
            user.mobile_phone = Some("+1 206 555 0199".into())
        })
        .unwrap();
    let second = harness.take(prefiltered.clone()).await;
    let stats = second.read_stats.clone().unwrap();
    assert_eq!(stats.mode, "delta");
    assert_eq!(
        stats.graph_requests, 3,
        "one delta round, one id re-check against the pre-filter and one $batch \
         reading the changed user's mailbox purpose"
    );
    let entries = harness.entries(&second.snapshot_id).await;
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].mobile_phone, "+44 7700 900123");

    // A user entering the scope: delta carries only the department, the
    // re-check reads the user whole.
    directory
        .modify_user(harness.tenant_id, people.alice, |user| {
            user.department = Some("Support".into())
        })
        .unwrap();
    let entered = harness.take(prefiltered.clone()).await;
    let entries = harness.entries(&entered.snapshot_id).await;
    assert_eq!(entries.len(), 2);
    let alice = entries
        .iter()
        .find(|entry| entry.source_object_id == people.alice.to_string())
        .expect("alice entered the scope");
    assert_eq!(alice.mobile_phone, "+1 206 555 0199");
    assert!(!alice.mail.is_empty(), "{alice:?}");
    assert_eq!(alice.department, "Support");

    // Another pre-filter is another read scope: a full read.
    let other = v1::SourceFilter {
        odata_prefilter: "country eq 'US'".to_owned(),
        ..Default::default()
    };
    let third = harness.take(other).await;
    assert_eq!(third.read_stats.unwrap().mode, "full");
    assert_eq!(
        third.entry_count, 2,
        "alice and grace (dave is disabled, erin has no mail)"
    );
}
