use sha2::Digest;

use super::*;

fn entry() -> v1::DirectoryEntry {
    v1::DirectoryEntry {
        source_object_id: "u1".to_owned(),
        display_name: "Ada Lovelace".to_owned(),
        given_name: "Ada".to_owned(),
        surname: "Lovelace".to_owned(),
        mail: "ada@contoso.example".to_owned(),
        business_phones: vec!["+44 20 1234".to_owned()],
        mobile_phone: "+44 7700 900".to_owned(),
        job_title: "Analyst".to_owned(),
        business_address: Some(v1::PostalAddress {
            city: "London".to_owned(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[test]
fn a_contact_read_back_hashes_like_the_entry_it_was_written_from() {
    let rules = FieldRules::default();
    let wanted = desired(&entry(), &rules);
    let body: Value = serde_json::from_str(create_body(&wanted, "p1").unwrap().get()).unwrap();
    // What the mailbox renders: every field, empty ones as null/[]/{}.
    let mut rendered = body.clone();
    rendered["department"] = Value::Null;
    rendered["homePhones"] = json!([]);
    rendered["otherAddress"] = json!({});
    rendered["businessAddress"]["street"] = Value::Null;
    let read_back = contact_fields(&rendered);
    assert_eq!(enforced_hash(&read_back, &rules), wanted.content_hash);
    assert_eq!(body["singleValueExtendedProperties"][0]["value"], "p1/u1");
    assert_eq!(body["businessAddress"], json!({"city": "London"}));
}

#[test]
fn an_emptied_source_field_is_cleared_and_display_name_is_always_sent() {
    let mut changed = entry();
    changed.job_title.clear();
    changed.business_phones.clear();
    let rules = FieldRules::default();
    let body = patch_body(&desired(&changed, &rules), &rules, None, None);
    assert_eq!(body["jobTitle"], Value::Null);
    assert_eq!(body["businessPhones"], json!([]));
    assert_eq!(body["displayName"], "Ada Lovelace");
    assert!(body.get("singleValueExtendedProperties").is_none());
}

#[test]
fn rules_hide_fields_and_let_users_keep_their_own_values() {
    let proto_rules = HashMap::from([
        ("mobilePhone".to_owned(), v1::FieldRule::Never as i32),
        ("jobTitle".to_owned(), v1::FieldRule::OnlyIfEmpty as i32),
        ("displayName".to_owned(), v1::FieldRule::Never as i32),
    ]);
    let rules = FieldRules::from_proto(&proto_rules);
    let wanted = desired(&entry(), &rules);
    let created: Value = serde_json::from_str(create_body(&wanted, "p1").unwrap().get()).unwrap();
    assert!(created.get("mobilePhone").is_none());
    assert_eq!(created["jobTitle"], "Analyst");
    assert_eq!(created["displayName"], "Ada Lovelace");

    let mut user_edited = contact_fields(&created);
    user_edited.insert("jobTitle", json!("Chief Analyst"));
    let patch = patch_body(&wanted, &rules, Some(&user_edited), None);
    assert_eq!(patch["mobilePhone"], Value::Null);
    assert!(patch.get("jobTitle").is_none());
    assert!(diff(&wanted, &rules, &user_edited).is_empty());
    // Changing only an only-if-empty field does not change the hash.
    let mut promoted = entry();
    promoted.job_title = "Director".to_owned();
    assert_eq!(desired(&promoted, &rules).content_hash, wanted.content_hash);
}

#[test]
fn a_plan_diff_names_each_field_with_old_and_new_values() {
    let rules = FieldRules::default();
    let wanted = desired(&entry(), &rules);
    let mut current = wanted.enforced.clone();
    current.insert("mobilePhone", json!("+44 7700 111"));
    current.remove("jobTitle");
    let changes = diff(&wanted, &rules, &current);
    let described: Vec<(String, String, String)> = changes
        .into_iter()
        .map(|change| (change.field, change.old_value, change.new_value))
        .collect();
    assert_eq!(
        described,
        vec![
            (
                "mobilePhone".to_owned(),
                "+44 7700 111".to_owned(),
                "+44 7700 900".to_owned()
            ),
            ("jobTitle".to_owned(), String::new(), "Analyst".to_owned()),
        ]
    );
}

#[test]
fn the_content_hash_is_sha256_of_sorted_canonical_json_so_stored_hashes_stay_valid() {
    let mut fields = Fields::new();
    fields.insert("displayName", json!("Zoë \"Z\" O'Brien"));
    fields.insert(
        "emailAddresses",
        json!([{"name": "Zoë", "address": "zoe@contoso.example"}]),
    );
    fields.insert(
        "businessAddress",
        json!({"street": "1 Main St", "city": "Köln", "countryOrRegion": "DE"}),
    );
    let mut expected = Vec::new();
    for (name, canonical) in [
        (
            "businessAddress",
            r#"{"city":"Köln","countryOrRegion":"DE","street":"1 Main St"}"#,
        ),
        ("displayName", r#""Zoë \"Z\" O'Brien""#),
        (
            "emailAddresses",
            r#"[{"address":"zoe@contoso.example","name":"Zoë"}]"#,
        ),
    ] {
        expected.extend_from_slice(name.as_bytes());
        expected.push(0);
        expected.extend_from_slice(canonical.as_bytes());
        expected.push(0);
    }
    assert_eq!(
        hash_fields(&fields),
        hex::encode(sha2::Sha256::digest(&expected))
    );
}

#[test]
fn the_ownership_value_names_the_profile_and_older_values_belong_to_any() {
    let tagged = Owner::parse(&owner_value("3f2a", "u1")).unwrap();
    assert_eq!(
        tagged,
        Owner {
            profile_id: Some("3f2a".to_owned()),
            source_id: "u1".to_owned()
        }
    );
    assert!(tagged.belongs_to("3f2a"));
    assert!(!tagged.belongs_to("9bc0"));
    let untagged = Owner::parse("u1").unwrap();
    assert_eq!(untagged.profile_id, None);
    assert!(untagged.belongs_to("9bc0"));
    assert_eq!(Owner::parse("  "), None);
}
