//! Contact folders, contacts, extended properties, photos and delta over real
//! HTTP, with Graph's status codes and error codes.

mod support;

use galsync_graph_emulator::registration::AppRegistrationRequest;
use galsync_graph_emulator::EmulatorConfig;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use support::mailbox::{start, Fixture, SOURCE_PROPERTY, WRITE_APP};

fn unlimited() -> EmulatorConfig {
    EmulatorConfig {
        limits_enabled: false,
        ..EmulatorConfig::default()
    }
}

fn full_contact(source_id: &str) -> Value {
    json!({
        "displayName": "Zoë Ångström",
        "givenName": "Zoë",
        "surname": "Ångström",
        "middleName": "M",
        "nickName": "Zo",
        "title": "Dr",
        "initials": "Z.Å.",
        "generation": "Jr",
        "emailAddresses": [{"name": "Zoë Ångström", "address": "zoe@contoso.example"}],
        "imAddresses": ["sip:zoe@contoso.example"],
        "businessPhones": ["+1 425 555 0100"],
        "homePhones": ["(425) 555-0101"],
        "mobilePhone": "+44 7700 900123",
        "jobTitle": "Engineer",
        "companyName": "Contoso",
        "department": "R&D",
        "officeLocation": "18/2111",
        "profession": "Physicist",
        "manager": "Adele Vance",
        "assistantName": "Ben",
        "businessAddress": {"street": "1 Main St", "city": "Redmond", "state": "WA", "countryOrRegion": "US", "postalCode": "98052"},
        "homeAddress": {"city": "Seattle"},
        "businessHomePage": "https://contoso.example",
        "personalNotes": "note",
        "categories": ["Directory"],
        "fileAs": "Ångström, Zoë",
        "birthday": "1990-05-04T00:00:00Z",
        "singleValueExtendedProperties": [{"id": SOURCE_PROPERTY, "value": source_id}],
    })
}

async fn alice_folder(fixture: &Fixture, name: &str) -> (String, String) {
    let user = fixture.alice_id.clone();
    let folder_id = fixture.create_folder(&user, name).await;
    (user, folder_id)
}

#[tokio::test]
async fn folders_are_found_by_name_duplicates_included_and_page_with_top() {
    let fixture = start(unlimited()).await;
    let user = fixture.alice_id.clone();
    let created = fixture
        .post(
            &format!("/v1.0/users/{user}/contactFolders"),
            json!({"displayName": "Company Directory"}),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED);
    let folder_id = created.body["id"].as_str().expect("id").to_owned();
    let default_folder = fixture
        .emulator
        .state
        .mailboxes
        .default_folder_id(fixture.tenant_id, &user);
    assert_eq!(created.body["parentFolderId"], json!(default_folder));

    // Graph refuses a second sibling of the same name.
    let again = fixture
        .post(
            &format!("/v1.0/users/{user}/contactFolders"),
            json!({"displayName": "company directory"}),
        )
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT);
    assert_eq!(again.error_code(), "ErrorFolderExists");

    // Another client of the user made a duplicate anyway.
    fixture
        .emulator
        .state
        .mailboxes
        .user_create_folder(fixture.tenant_id, &user, None, "Company Directory")
        .expect("user creates a duplicate");
    fixture.create_folder(&user, "Other").await;

    let found = fixture
        .get(&format!(
            "/v1.0/users/{}/contactFolders?$filter=displayName eq 'Company Directory'",
            fixture.alice_upn
        ))
        .await;
    assert_eq!(found.status, StatusCode::OK);
    let found_ids: Vec<&str> = found.body["value"]
        .as_array()
        .expect("value")
        .iter()
        .filter_map(|folder| folder["id"].as_str())
        .collect();
    assert_eq!(found_ids.len(), 2);
    assert!(found_ids.contains(&folder_id.as_str()));

    let first_page = fixture
        .get(&format!("/v1.0/users/{user}/contactFolders?$top=2"))
        .await;
    assert_eq!(first_page.body["value"].as_array().map(Vec::len), Some(2));
    let next = first_page.body["@odata.nextLink"]
        .as_str()
        .expect("a next page");
    let second_page = fixture.get(next).await;
    assert_eq!(second_page.body["value"].as_array().map(Vec::len), Some(1));
    assert!(second_page.body.get("@odata.nextLink").is_none());

    let unsupported = fixture
        .get(&format!(
            "/v1.0/users/{user}/contactFolders?$filter=startswith(displayName,'C')"
        ))
        .await;
    assert_eq!(unsupported.status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn a_contact_round_trips_every_field_and_its_extended_property() {
    let fixture = start(unlimited()).await;
    let (user, folder_id) = alice_folder(&fixture, "Company Directory").await;
    let contacts = format!("/v1.0/users/{user}/contactFolders/{folder_id}/contacts");
    let sent = full_contact("source-1");
    let created = fixture.post(&contacts, sent.clone()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let contact_id = created.body["id"].as_str().expect("id").to_owned();
    assert_eq!(created.body["parentFolderId"], json!(folder_id));
    assert!(created.body["changeKey"].is_string());
    assert!(created.body.get("singleValueExtendedProperties").is_none());
    // A contact without our property, which the filter must not find.
    fixture
        .post(&contacts, json!({"givenName": "Hand", "surname": "Made"}))
        .await;

    let expanded = fixture
        .get(&format!(
            "{contacts}/{contact_id}?$expand=singleValueExtendedProperties($filter=id eq '{}')",
            SOURCE_PROPERTY.to_uppercase()
        ))
        .await;
    assert_eq!(expanded.status, StatusCode::OK);
    for (name, value) in sent.as_object().expect("object") {
        if name != "singleValueExtendedProperties" {
            assert_eq!(&expanded.body[name], value, "field {name}");
        }
    }
    assert_eq!(
        expanded.body["singleValueExtendedProperties"],
        json!([{"id": SOURCE_PROPERTY, "value": "source-1"}])
    );

    let filtered = fixture
        .get(&format!(
            "{contacts}?$filter=singleValueExtendedProperties/Any(ep: ep/id eq '{SOURCE_PROPERTY}' and ep/value eq 'source-1')&$select=displayName"
        ))
        .await;
    assert_eq!(filtered.status, StatusCode::OK);
    let found = filtered.body["value"].as_array().expect("value");
    assert_eq!(found.len(), 1);
    assert_eq!(found[0]["id"], json!(contact_id));
    assert_eq!(found[0]["displayName"], json!("Zoë Ångström"));
    assert!(found[0].get("jobTitle").is_none());

    let everything = fixture.get(&format!("{contacts}?$top=10")).await;
    let hand_made = everything.body["value"]
        .as_array()
        .expect("value")
        .iter()
        .find(|contact| contact["givenName"] == json!("Hand"))
        .cloned()
        .expect("the hand-made contact");
    assert_eq!(hand_made["displayName"], json!("Hand Made"));

    // singlevaluelegacyextendedproperty-get documents `$expand` of the
    // property on one contact only: a collection refuses it.
    let expanded_collection = fixture
        .get(&format!(
            "{contacts}?$expand=singleValueExtendedProperties($filter=id eq '{SOURCE_PROPERTY}')"
        ))
        .await;
    assert_eq!(expanded_collection.status, StatusCode::BAD_REQUEST);
    assert!(expanded_collection.body["error"]["message"]
        .as_str()
        .is_some_and(|message| message.contains("single contact")));
}

#[tokio::test]
async fn patch_with_null_clears_and_delete_leaves_a_stale_id() {
    let fixture = start(unlimited()).await;
    let (user, folder_id) = alice_folder(&fixture, "Company Directory").await;
    let contacts = format!("/v1.0/users/{user}/contactFolders/{folder_id}/contacts");
    let created = fixture.post(&contacts, full_contact("source-2")).await;
    let contact_id = created.body["id"].as_str().expect("id").to_owned();
    let contact = format!("{contacts}/{contact_id}");

    let patched = fixture
        .send(
            Method::PATCH,
            &contact,
            Some(json!({"mobilePhone": null, "businessAddress": null, "businessPhones": [], "jobTitle": "Lead"})),
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK);
    assert_eq!(patched.body["mobilePhone"], Value::Null);
    assert_eq!(patched.body["businessAddress"], json!({}));
    assert_eq!(patched.body["businessPhones"], json!([]));
    assert_eq!(patched.body["jobTitle"], json!("Lead"));
    assert_ne!(patched.body["changeKey"], created.body["changeKey"]);
    let read_back = fixture.get(&contact).await;
    assert_eq!(read_back.body["mobilePhone"], Value::Null);
    assert_eq!(read_back.body["department"], json!("R&D"));

    let deleted = fixture.send(Method::DELETE, &contact, None).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    for method in [Method::GET, Method::PATCH, Method::DELETE] {
        let body = (method == Method::PATCH).then(|| json!({"jobTitle": "x"}));
        let stale = fixture.send(method.clone(), &contact, body).await;
        assert_eq!(stale.status, StatusCode::NOT_FOUND, "{method}");
        assert_eq!(stale.error_code(), "ErrorItemNotFound");
    }
}

#[tokio::test]
async fn ids_of_another_folder_or_mailbox_are_not_found() {
    let fixture = start(unlimited()).await;
    let (user, folder_id) = alice_folder(&fixture, "Company Directory").await;
    let other_folder = fixture.create_folder(&user, "Other").await;
    let contact_id = fixture.create_contact(&user, &folder_id, "Ann").await;
    let bob = fixture.bob_id.clone();
    let bob_folder = fixture.create_folder(&bob, "Company Directory").await;

    let wrong_folder = fixture
        .get(&format!(
            "/v1.0/users/{user}/contactFolders/{other_folder}/contacts/{contact_id}"
        ))
        .await;
    assert_eq!(wrong_folder.status, StatusCode::NOT_FOUND);
    assert_eq!(wrong_folder.error_code(), "ErrorItemNotFound");

    let wrong_mailbox = fixture
        .get(&format!("/v1.0/users/{bob}/contacts/{contact_id}"))
        .await;
    assert_eq!(wrong_mailbox.error_code(), "ErrorItemNotFound");
    let foreign_folder = fixture
        .get(&format!("/v1.0/users/{user}/contactFolders/{bob_folder}"))
        .await;
    assert_eq!(foreign_folder.error_code(), "ErrorItemNotFound");

    // Mailbox-wide addressing finds a contact in any folder.
    let anywhere = fixture
        .get(&format!("/v1.0/users/{user}/contacts/{contact_id}"))
        .await;
    assert_eq!(anywhere.status, StatusCode::OK);

    let malformed = fixture
        .get(&format!("/v1.0/users/{user}/contacts/not-an-id"))
        .await;
    assert_eq!(malformed.status, StatusCode::BAD_REQUEST);
    assert_eq!(malformed.error_code(), "ErrorInvalidIdMalformed");
}

#[tokio::test]
async fn users_without_a_mailbox_or_outside_the_scope_are_refused() {
    let fixture = start(unlimited()).await;
    let unknown = fixture
        .get("/v1.0/users/nobody@contoso.example/contactFolders")
        .await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.error_code(), "ErrorInvalidUser");

    let unlicensed = fixture
        .get(&format!(
            "/v1.0/users/{}/contactFolders",
            fixture.unlicensed_id
        ))
        .await;
    assert_eq!(unlicensed.status, StatusCode::NOT_FOUND);
    assert_eq!(unlicensed.error_code(), "MailboxNotEnabledForRESTAPI");

    let identity = &fixture.emulator.state.identity;
    identity
        .register_app(
            fixture.tenant_id,
            AppRegistrationRequest {
                client_id: Some(WRITE_APP.to_owned()),
                display_name: "galsync writer".to_owned(),
                requested_roles: vec!["Contacts.ReadWrite".to_owned()],
                ..AppRegistrationRequest::default()
            },
        )
        .expect("app registers");
    identity
        .set_exchange_scope(
            fixture.tenant_id,
            WRITE_APP,
            Some(vec![fixture.bob_id.clone()]),
        )
        .expect("scope set");
    let outside = fixture
        .get(&format!("/v1.0/users/{}/contactFolders", fixture.alice_upn))
        .await;
    assert_eq!(outside.status, StatusCode::FORBIDDEN);
    assert_eq!(outside.error_code(), "ErrorAccessDenied");
    assert_eq!(
        outside.body["error"]["message"],
        json!("Access to OData is disabled.")
    );
    let inside = fixture
        .get(&format!("/v1.0/users/{}/contactFolders", fixture.bob_id))
        .await;
    assert_eq!(inside.status, StatusCode::OK);
}

/// RBAC for Applications: an Exchange application role reaches the mailboxes
/// of its scope with no permission in the token, and adds to the token's
/// grant (learn.microsoft.com/exchange/permissions-exo/application-rbac).
#[tokio::test]
async fn an_exchange_application_role_reaches_its_scope_without_a_token_role() {
    let fixture = start(unlimited()).await;
    fixture
        .emulator
        .state
        .identity
        .register_app(
            fixture.tenant_id,
            AppRegistrationRequest {
                client_id: Some(WRITE_APP.to_owned()),
                display_name: "galsync writer".to_owned(),
                requested_roles: vec!["Contacts.ReadWrite".to_owned()],
                ..AppRegistrationRequest::default()
            },
        )
        .expect("app registers");
    let no_role = fixture.token_with(&["User.Read.All"]);
    let folders = |user: &str| format!("/v1.0/users/{user}/contactFolders");
    let before = fixture
        .send_as(&no_role, Method::GET, &folders(&fixture.bob_id), None)
        .await;
    assert_eq!(before.status, StatusCode::FORBIDDEN);

    let assignment = fixture.url(&format!(
        "/_admin/tenants/{}/apps/{WRITE_APP}/exchange-role-assignments/Application Contacts.ReadWrite",
        fixture.tenant_id
    ));
    let assigned = fixture
        .client
        .put(&assignment)
        .json(&json!({"user_ids": [fixture.bob_id]}))
        .send()
        .await
        .expect("sent");
    assert_eq!(assigned.status(), StatusCode::OK);
    let view: Value = assigned.json().await.expect("json");
    assert_eq!(
        view["exchange_role_assignments"]["Application Contacts.ReadWrite"],
        json!([fixture.bob_id])
    );

    let inside = fixture
        .send_as(&no_role, Method::GET, &folders(&fixture.bob_id), None)
        .await;
    assert_eq!(inside.status, StatusCode::OK, "{:?}", inside.body);
    let created = fixture
        .send_as(
            &no_role,
            Method::POST,
            &folders(&fixture.bob_id),
            Some(json!({"displayName": "Company Directory"})),
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{:?}", created.body);
    let outside = fixture
        .send_as(&no_role, Method::GET, &folders(&fixture.alice_upn), None)
        .await;
    assert_eq!(outside.status, StatusCode::FORBIDDEN);
    assert_eq!(outside.error_code(), "ErrorAccessDenied");

    // Additive: an application access policy limits the token's grant only.
    fixture
        .emulator
        .state
        .identity
        .set_exchange_scope(fixture.tenant_id, WRITE_APP, Some(vec![]))
        .expect("policy set");
    let with_role = fixture.token_with(&["Contacts.ReadWrite"]);
    let still = fixture
        .send_as(&with_role, Method::GET, &folders(&fixture.bob_id), None)
        .await;
    assert_eq!(still.status, StatusCode::OK);

    let unknown = fixture
        .client
        .put(fixture.url(&format!(
            "/_admin/tenants/{}/apps/{WRITE_APP}/exchange-role-assignments/Application Mail.Send",
            fixture.tenant_id
        )))
        .json(&json!({"user_ids": null}))
        .send()
        .await
        .expect("sent");
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
    let removed = fixture
        .client
        .delete(&assignment)
        .send()
        .await
        .expect("sent");
    assert_eq!(removed.status(), StatusCode::OK);
    let after = fixture
        .send_as(&no_role, Method::GET, &folders(&fixture.bob_id), None)
        .await;
    assert_eq!(after.status, StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn writes_need_contacts_readwrite_and_reads_need_a_contacts_role() {
    let fixture = start(unlimited()).await;
    let (user, folder_id) = alice_folder(&fixture, "Company Directory").await;
    let contacts = format!("/v1.0/users/{user}/contactFolders/{folder_id}/contacts");
    let read_only = fixture.token_with(&["Contacts.Read"]);
    let listed = fixture
        .send_as(&read_only, Method::GET, &contacts, None)
        .await;
    assert_eq!(listed.status, StatusCode::OK);
    let refused = fixture
        .send_as(
            &read_only,
            Method::POST,
            &contacts,
            Some(json!({"displayName": "X"})),
        )
        .await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    assert_eq!(refused.error_code(), "ErrorAccessDenied");
    let directory_only = fixture.token_with(&["User.Read.All"]);
    let no_read = fixture
        .send_as(&directory_only, Method::GET, &contacts, None)
        .await;
    assert_eq!(no_read.status, StatusCode::FORBIDDEN);
    assert_eq!(
        fixture
            .emulator
            .state
            .mailboxes
            .contact_count(fixture.tenant_id, &user, &folder_id),
        0
    );
}

#[tokio::test]
async fn malformed_bodies_are_refused_with_graph_codes() {
    let fixture = start(unlimited()).await;
    let (user, folder_id) = alice_folder(&fixture, "Company Directory").await;
    let contacts = fixture.url(&format!(
        "/v1.0/users/{user}/contactFolders/{folder_id}/contacts"
    ));
    let broken = fixture
        .client
        .post(&contacts)
        .bearer_auth(&fixture.token)
        .header("content-type", "application/json")
        .body("{\"displayName\": ")
        .send()
        .await
        .expect("sent");
    assert_eq!(broken.status(), StatusCode::BAD_REQUEST);
    let body: Value = broken.json().await.expect("json");
    assert_eq!(body["error"]["code"], json!("BadRequest"));

    let path = format!("/v1.0/users/{user}/contactFolders/{folder_id}/contacts");
    let unknown = fixture
        .post(&path, json!({"favouriteColour": "blue"}))
        .await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert_eq!(unknown.error_code(), "RequestBodyRead");
    let wrong_type = fixture
        .post(&path, json!({"businessPhones": "+1 425"}))
        .await;
    assert_eq!(wrong_type.error_code(), "RequestBodyRead");
    let bad_property = fixture
        .post(
            &path,
            json!({"singleValueExtendedProperties": [{"id": "SourceObjectId", "value": "x"}]}),
        )
        .await;
    assert_eq!(bad_property.status, StatusCode::BAD_REQUEST);
    assert_eq!(
        fixture
            .emulator
            .state
            .mailboxes
            .contact_count(fixture.tenant_id, &user, &folder_id),
        0
    );
}

#[tokio::test]
async fn contacts_page_with_top_and_next_links() {
    let fixture = start(unlimited()).await;
    let (user, folder_id) = alice_folder(&fixture, "Company Directory").await;
    for index in 0..25 {
        fixture
            .create_contact(&user, &folder_id, &format!("Person {index:02}"))
            .await;
    }
    let mut next = Some(format!(
        "/v1.0/users/{user}/contactFolders/{folder_id}/contacts?$top=10&$select=displayName"
    ));
    let mut names = Vec::new();
    let mut pages = 0;
    while let Some(link) = next {
        let page = fixture.get(&link).await;
        assert_eq!(page.status, StatusCode::OK);
        pages += 1;
        for contact in page.body["value"].as_array().expect("value") {
            names.push(contact["displayName"].as_str().expect("name").to_owned());
        }
        next = page.body["@odata.nextLink"].as_str().map(str::to_owned);
    }
    assert_eq!(pages, 3);
    names.sort();
    names.dedup();
    assert_eq!(names.len(), 25);

    let default_page = fixture
        .get(&format!(
            "/v1.0/users/{user}/contactFolders/{folder_id}/contacts"
        ))
        .await;
    assert_eq!(
        default_page.body["value"].as_array().map(Vec::len),
        Some(10)
    );
    let capped = fixture
        .get(&format!(
            "/v1.0/users/{user}/contactFolders/{folder_id}/contacts?$top=5000"
        ))
        .await;
    assert_eq!(capped.body["value"].as_array().map(Vec::len), Some(25));
}

#[tokio::test]
async fn delta_reports_only_what_changed_since_the_last_round() {
    let fixture = start(unlimited()).await;
    let (user, folder_id) = alice_folder(&fixture, "Company Directory").await;
    let mut ids = Vec::new();
    for name in ["Ann", "Ben", "Cat"] {
        ids.push(fixture.create_contact(&user, &folder_id, name).await);
    }
    let delta_path = format!("/v1.0/users/{user}/contactFolders/{folder_id}/contacts/delta");
    let (first_round, delta_link) = delta_round(&fixture, &delta_path).await;
    assert_eq!(first_round.len(), 3);
    assert!(first_round.iter().all(|row| row.get("@removed").is_none()));

    let contacts = format!("/v1.0/users/{user}/contactFolders/{folder_id}/contacts");
    fixture
        .send(
            Method::PATCH,
            &format!("{contacts}/{}", ids[0]),
            Some(json!({"jobTitle": "CEO"})),
        )
        .await;
    fixture
        .send(Method::DELETE, &format!("{contacts}/{}", ids[1]), None)
        .await;
    let added = fixture.create_contact(&user, &folder_id, "Dan").await;
    // The mailbox's user edits one on their phone.
    fixture
        .emulator
        .state
        .mailboxes
        .user_update_contact(
            fixture.tenant_id,
            &user,
            &ids[2],
            json!({"mobilePhone": "+1 555"}),
        )
        .expect("user edit");

    let (second_round, second_link) = delta_round(&fixture, &delta_link).await;
    let changed: Vec<&str> = second_round
        .iter()
        .filter(|row| row.get("@removed").is_none())
        .filter_map(|row| row["id"].as_str())
        .collect();
    let removed: Vec<&str> = second_round
        .iter()
        .filter(|row| row.get("@removed").is_some())
        .filter_map(|row| row["id"].as_str())
        .collect();
    assert_eq!(changed.len(), 3, "{second_round:?}");
    for expected in [ids[0].as_str(), ids[2].as_str(), added.as_str()] {
        assert!(changed.contains(&expected));
    }
    assert_eq!(removed, vec![ids[1].as_str()]);

    let (third_round, _) = delta_round(&fixture, &second_link).await;
    assert!(third_round.is_empty());
}

/// Follows one delta round with two rows per page; returns its rows and the deltaLink.
async fn delta_round(fixture: &Fixture, start: &str) -> (Vec<Value>, String) {
    let mut rows = Vec::new();
    let mut link = start.to_owned();
    loop {
        let page = fixture
            .client
            .get(fixture.url(&link))
            .bearer_auth(&fixture.token)
            .header("Prefer", "odata.maxpagesize=2")
            .send()
            .await
            .expect("delta page");
        assert_eq!(page.status(), StatusCode::OK);
        let body: Value = page.json().await.expect("json");
        let values = body["value"].as_array().expect("value");
        assert!(values.len() <= 2);
        rows.extend(values.iter().cloned());
        if let Some(next) = body["@odata.nextLink"].as_str() {
            link = next.to_owned();
            continue;
        }
        let delta_link = body["@odata.deltaLink"].as_str().expect("deltaLink");
        return (rows, delta_link.to_owned());
    }
}

#[tokio::test]
async fn photos_are_stored_and_served_back() {
    let fixture = start(unlimited()).await;
    let (user, folder_id) = alice_folder(&fixture, "Company Directory").await;
    let contact_id = fixture.create_contact(&user, &folder_id, "Ann").await;
    let photo_path =
        format!("/v1.0/users/{user}/contactFolders/{folder_id}/contacts/{contact_id}/photo");
    let missing = fixture.get(&format!("{photo_path}/$value")).await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND);

    let png: Vec<u8> = [
        b"\x89PNG\r\n\x1a\n".as_slice(),
        &[0, 0, 0, 13],
        b"IHDR",
        &[0, 0, 0, 48, 0, 0, 0, 64],
    ]
    .concat();
    let put = fixture
        .client
        .put(fixture.url(&format!("{photo_path}/$value")))
        .bearer_auth(&fixture.token)
        .header("content-type", "image/png")
        .body(png.clone())
        .send()
        .await
        .expect("put");
    assert_eq!(put.status(), StatusCode::OK);
    let fetched = fixture
        .client
        .get(fixture.url(&format!(
            "/v1.0/users/{user}/contacts/{contact_id}/photo/$value"
        )))
        .bearer_auth(&fixture.token)
        .send()
        .await
        .expect("get");
    assert_eq!(fetched.status(), StatusCode::OK);
    assert_eq!(fetched.headers()["content-type"], "image/png");
    assert_eq!(fetched.bytes().await.expect("bytes").to_vec(), png);
    let metadata = fixture.get(&photo_path).await;
    assert_eq!(metadata.body["width"], json!(48));
    assert_eq!(metadata.body["height"], json!(64));
    assert_eq!(metadata.body["@odata.mediaContentType"], json!("image/png"));
}

#[tokio::test]
async fn the_admin_api_shows_and_edits_mailboxes_without_counting_app_requests() {
    let fixture = start(unlimited()).await;
    let (user, folder_id) = alice_folder(&fixture, "Company Directory").await;
    fixture.create_contact(&user, &folder_id, "Ann").await;
    let admin = format!(
        "/_admin/tenants/contoso.example/mailboxes/{}",
        fixture.alice_upn
    );
    let before = fixture.request_counters().await["total"].clone();
    let created: Value = fixture
        .client
        .post(fixture.url(&format!("{admin}/folders/{folder_id}/contacts")))
        .json(&json!({"displayName": "Added by hand"}))
        .send()
        .await
        .expect("admin create")
        .json()
        .await
        .expect("json");
    assert_eq!(created["displayName"], json!("Added by hand"));
    let listed: Vec<Value> = fixture
        .client
        .get(fixture.url(&format!("{admin}/folders/{folder_id}/contacts")))
        .send()
        .await
        .expect("admin list")
        .json()
        .await
        .expect("json");
    assert_eq!(listed.len(), 2);
    let ours = listed
        .iter()
        .find(|contact| contact["displayName"] == json!("Ann"))
        .expect("ann");
    assert_eq!(
        ours["singleValueExtendedProperties"],
        json!([{"id": SOURCE_PROPERTY, "value": "Ann"}])
    );
    let renamed = fixture
        .client
        .patch(fixture.url(&format!("{admin}/folders/{folder_id}")))
        .json(&json!({"displayName": "Renamed"}))
        .send()
        .await
        .expect("rename");
    assert_eq!(renamed.status(), StatusCode::OK);
    let counts: Value = fixture
        .client
        .get(fixture.url(&format!("{admin}/counts")))
        .send()
        .await
        .expect("counts")
        .json()
        .await
        .expect("json");
    assert_eq!(counts["total"], json!(2));
    assert_eq!(counts["folders"][1]["displayName"], json!("Renamed"));
    assert_eq!(fixture.request_counters().await["total"], before);

    let deleted = fixture
        .client
        .delete(fixture.url(&format!("{admin}/folders/{folder_id}")))
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    let gone = fixture
        .get(&format!(
            "/v1.0/users/{user}/contactFolders/{folder_id}/contacts"
        ))
        .await;
    assert_eq!(gone.error_code(), "ErrorItemNotFound");
}

#[tokio::test]
async fn a_connection_dropped_after_a_create_leaves_the_contact_in_place() {
    let fixture = start(unlimited()).await;
    let (user, folder_id) = alice_folder(&fixture, "Company Directory").await;
    fixture
        .emulator
        .state
        .faults
        .add(galsync_graph_emulator::FaultRule {
            path_contains: Some("/contacts".to_owned()),
            method: Some("POST".to_owned()),
            abort_after_apply: true,
            times: Some(1),
            ..Default::default()
        });
    let attempt = fixture
        .client
        .post(fixture.url(&format!(
            "/v1.0/users/{user}/contactFolders/{folder_id}/contacts"
        )))
        .bearer_auth(&fixture.token)
        .json(&json!({"displayName": "Ann"}))
        .send()
        .await;
    let client_saw_failure = match attempt {
        Err(_) => true,
        Ok(response) => response.bytes().await.is_err(),
    };
    assert!(client_saw_failure, "the client must not see a response");
    let stored = fixture
        .emulator
        .state
        .mailboxes
        .folder_contacts(fixture.tenant_id, &user, &folder_id)
        .expect("folder");
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0]["displayName"], json!("Ann"));
}
