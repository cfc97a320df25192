//! Against the project's Entra + Graph emulator: the client and the emulator
//! agree on the token request, paging, delta and `$batch`.

use std::sync::Arc;
use std::time::Instant;

use galsync_graph::identity::{
    AssertionAlgorithm, CachedTokenSource, ClientCredential, EntraErrorKind, IdentityClient,
    IdentityConfig,
};
use galsync_graph::models::{
    source_object_id_property_id, Contact, ContactFolder, SingleValueExtendedProperty, User,
    USER_SELECT,
};
use galsync_graph::{BatchGate, BatchRequest, GraphClient, GraphClientConfig, TokenSource};
use galsync_graph_emulator::seeding::SeedOptions;
use galsync_graph_emulator::FaultRule;
use galsync_graph_emulator::{Emulator, EmulatorConfig};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::identity::certificate_credential;
use crate::support::{fast_retry_policy, test_certificate};

const DOMAIN: &str = "contoso.example";
const SEEDED_USERS: usize = 25;
const GALSYNC_GUID: &str = "66f5a359-4659-4830-9070-00047ec6ac6e";

struct EmulatedTenant {
    emulator: Emulator,
    tenant_id: Uuid,
    client_id: String,
    http: reqwest::Client,
}

async fn admin_post(http: &reqwest::Client, url: &str, body: Value) -> Value {
    let response = http.post(url).json(&body).send().await.expect("admin call");
    let status = response.status();
    let answer: Value = response.json().await.unwrap_or(Value::Null);
    assert!(status.is_success(), "admin call {url}: {status} {answer}");
    answer
}

/// A tenant with 25 seeded users and a consented app whose certificate is
/// the test certificate.
async fn start_tenant() -> EmulatedTenant {
    let emulator = Emulator::start(EmulatorConfig::default())
        .await
        .expect("emulator starts");
    let base = emulator.base_url();
    let http = reqwest::Client::new();
    let tenant = admin_post(
        &http,
        &format!("{base}/_admin/tenants"),
        json!({"domains": [DOMAIN]}),
    )
    .await;
    let tenant_id: Uuid = tenant["tenant_id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .expect("tenant id");
    let roles = ["User.Read.All", "Group.Read.All", "Contacts.ReadWrite"];
    let app_url = format!("{base}/_admin/tenants/{tenant_id}/apps");
    let app = admin_post(
        &http,
        &app_url,
        json!({"display_name": "galsync", "requested_roles": roles}),
    )
    .await;
    let client_id = app["client_id"].as_str().expect("client id").to_owned();
    let certificate = json!({"certificate": test_certificate().certificate_pem});
    admin_post(
        &http,
        &format!("{app_url}/{client_id}/certificates"),
        certificate,
    )
    .await;
    admin_post(&http, &format!("{app_url}/{client_id}/consent"), json!({})).await;
    let options = SeedOptions {
        users: SEEDED_USERS,
        domain: DOMAIN.to_owned(),
        ..SeedOptions::default()
    };
    emulator
        .state
        .directory
        .seed(tenant_id, &options)
        .expect("seed");
    EmulatedTenant {
        emulator,
        tenant_id,
        client_id,
        http,
    }
}

impl EmulatedTenant {
    fn identity(&self, tenant: &str) -> IdentityClient {
        let mut config = IdentityConfig::new(tenant);
        config.login_base_url = self.emulator.base_url();
        config.retry = fast_retry_policy();
        IdentityClient::new(self.http.clone(), config).expect("identity client")
    }

    fn token_source(&self, algorithm: AssertionAlgorithm) -> Arc<CachedTokenSource> {
        let credential = ClientCredential::Certificate(certificate_credential(algorithm));
        let identity = self.identity(&self.tenant_id.to_string());
        Arc::new(CachedTokenSource::new(
            identity,
            self.client_id.clone(),
            credential,
        ))
    }

    fn graph(&self) -> GraphClient {
        let config = GraphClientConfig {
            base_url: format!("{}/v1.0", self.emulator.base_url()),
            retry: fast_retry_policy(),
        };
        let tokens = self.token_source(AssertionAlgorithm::Rs256);
        GraphClient::new(self.http.clone(), config, tokens).expect("graph client")
    }
}

#[tokio::test]
async fn certificate_tokens_of_both_algorithms_carry_the_consented_roles() {
    let tenant = start_tenant().await;
    for algorithm in [AssertionAlgorithm::Rs256, AssertionAlgorithm::Ps256] {
        let token = tenant.token_source(algorithm).token().await.expect("token");

        assert!(
            token.has_role("User.Read.All") && token.has_role("Contacts.ReadWrite"),
            "{algorithm:?}: {:?}",
            token.roles
        );
        assert_eq!(token.tenant_id, Some(tenant.tenant_id.to_string()));
    }
}

#[tokio::test]
async fn the_emulators_entra_errors_carry_codes_and_hints() {
    let tenant = start_tenant().await;
    let credential =
        ClientCredential::Certificate(certificate_credential(AssertionAlgorithm::Rs256));

    let unknown_tenant = tenant
        .identity(&Uuid::new_v4().to_string())
        .client_credentials(&tenant.client_id, &credential)
        .await
        .expect_err("unknown tenant");
    let unknown_app = tenant
        .identity(&tenant.tenant_id.to_string())
        .client_credentials(&Uuid::new_v4().to_string(), &credential)
        .await
        .expect_err("unknown app");

    let kind_of =
        |error: &galsync_graph::identity::IdentityError| error.entra().map(|entra| entra.kind());
    assert_eq!(
        kind_of(&unknown_tenant),
        Some(EntraErrorKind::UnknownTenant),
        "{unknown_tenant}"
    );
    assert!(unknown_tenant.hint().unwrap_or_default().contains("GUID"));
    assert_eq!(
        kind_of(&unknown_app),
        Some(EntraErrorKind::AppNotFound),
        "{unknown_app}"
    );
}

#[tokio::test]
async fn users_are_read_page_by_page_and_a_quiet_delta_costs_one_request() {
    let tenant = start_tenant().await;
    let graph = tenant.graph();

    let users: Vec<User> = graph
        .get_all_pages(&format!("/users?$select={USER_SELECT}&$top=10"))
        .await
        .expect("users");
    assert_eq!(users.len(), SEEDED_USERS);
    assert_eq!(graph.stats().requests(), 3, "25 users at 10 per page");

    let first_round = graph
        .delta::<User>(&format!("/users/delta?$select={USER_SELECT}"))
        .await
        .expect("first delta round");
    // delta-query-overview: a user may come twice in a round; the emulator
    // repeats the round's first user at its end.
    assert_eq!(first_round.items.len(), SEEDED_USERS + 1);
    let distinct: std::collections::HashSet<&str> = first_round
        .items
        .iter()
        .map(|user| user.id.as_str())
        .collect();
    assert_eq!(distinct.len(), SEEDED_USERS);

    let requests_before = graph.stats().requests();
    let quiet_round = graph
        .delta::<User>(&first_round.delta_link)
        .await
        .expect("quiet round");
    assert!(quiet_round.items.is_empty());
    assert_eq!(graph.stats().requests() - requests_before, 1);
}

#[tokio::test]
async fn batched_creates_read_back_with_their_extended_property() {
    let tenant = start_tenant().await;
    let mailbox = tenant.emulator.state.directory.add_mailbox_user(
        tenant.tenant_id,
        "Alice",
        "alice@contoso.example",
        true,
    );
    let graph = tenant.graph();
    let folder: ContactFolder = graph
        .post_json(
            &format!("/users/{mailbox}/contactFolders"),
            &json!({"displayName": "Company Directory"}),
        )
        .await
        .expect("folder");
    let folder_id = folder.id.expect("folder id");
    let property_id = source_object_id_property_id(GALSYNC_GUID);
    let contacts_path = format!("/users/{mailbox}/contactFolders/{folder_id}/contacts");
    let mut requests = Vec::new();
    for index in 0..3 {
        let contact = Contact {
            display_name: Some(format!("Person {index}")),
            single_value_extended_properties: Some(vec![SingleValueExtendedProperty {
                id: property_id.clone(),
                value: format!("source-{index}"),
            }]),
            ..Contact::default()
        };
        let body = serde_json::to_value(&contact).expect("contact json");
        requests.push(BatchRequest::post(
            index.to_string(),
            contacts_path.clone(),
            body,
        ));
    }

    let outcome = graph.batch_with_retry(requests).await.expect("batch");

    let statuses: Vec<u16> = outcome
        .responses
        .iter()
        .map(|response| response.status)
        .collect();
    assert_eq!(statuses, [201, 201, 201]);
    // singlevaluelegacyextendedproperty-get: a collection is filtered on the
    // property; only a single contact is read back with it expanded.
    let owned_filter = format!("singleValueExtendedProperties/Any(ep: ep/id eq '{property_id}')");
    let owned: Vec<Contact> = graph
        .get_all_pages(&format!(
            "{contacts_path}?$select=id&$filter={}",
            urlencoding(&owned_filter)
        ))
        .await
        .expect("contacts");
    assert_eq!(owned.len(), 3);
    let expand = format!("$expand=singleValueExtendedProperties($filter=id eq '{property_id}')");
    let mut sources = Vec::new();
    for contact in &owned {
        let contact_id = contact.id.as_deref().expect("contact id");
        let read: Contact = graph
            .get_json(&format!("{contacts_path}/{contact_id}?{expand}"))
            .await
            .expect("contact");
        sources.push(
            read.single_value_property(&property_id)
                .expect("the property")
                .to_owned(),
        );
    }
    sources.sort();
    assert_eq!(sources, ["source-0", "source-1", "source-2"]);
    let refused = graph
        .get_all_pages::<Contact>(&format!("{contacts_path}?{expand}"))
        .await
        .expect_err("$expand on a collection is not documented");
    assert!(refused.to_string().contains("single contact"), "{refused}");
}

fn urlencoding(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Two `$batch` calls side by side share a gate: when Graph throttles the app
/// as a whole in one (an injected 429 "Too many requests." with a
/// Retry-After), the other does not call Graph before that Retry-After has
/// passed, though it addresses other users.
#[tokio::test]
async fn an_app_wide_429_in_one_batch_holds_the_batches_beside_it() {
    let tenant = start_tenant().await;
    let users = tenant
        .emulator
        .state
        .directory
        .list_users(tenant.tenant_id, false);
    let retry_after = std::time::Duration::from_secs(1);
    let rule = tenant.emulator.state.faults.add(FaultRule {
        path_contains: Some(format!("/users/{}", users[0].id)),
        status: Some(429),
        retry_after: Some(retry_after.as_secs_f64()),
        times: Some(1),
        ..FaultRule::default()
    });
    let graph = tenant.graph();
    let gate = BatchGate::new();
    let first = async {
        let started = Instant::now();
        let outcome = graph
            .batch_with_retry_gated(
                vec![BatchRequest::get("0", format!("/users/{}", users[0].id))],
                &gate,
            )
            .await
            .expect("first batch");
        (outcome, started.elapsed())
    };
    let second = async {
        // Starts once the emulator has answered the first call 429, and its
        // answer has had time to reach the client.
        while fired(&tenant, &rule.id) == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        let started = Instant::now();
        let requests = users[1..4]
            .iter()
            .enumerate()
            .map(|(index, user)| {
                BatchRequest::get(index.to_string(), format!("/users/{}", user.id))
            })
            .collect();
        let outcome = graph
            .batch_with_retry_gated(requests, &gate)
            .await
            .expect("second batch");
        (outcome, started.elapsed())
    };
    let ((first, first_took), (second, second_took)) = tokio::join!(first, second);
    assert_eq!(fired(&tenant, &rule.id), 1);
    assert!(first
        .responses
        .iter()
        .all(|response| response.status == 200));
    assert!(second
        .responses
        .iter()
        .all(|response| response.status == 200));
    assert_eq!((first.calls, second.calls), (2, 1));
    assert!(first_took >= retry_after, "first took {first_took:?}");
    // The second call waited out (most of) the first's Retry-After instead
    // of reaching Graph inside it.
    assert!(
        second_took >= retry_after.mul_f64(0.7),
        "the second batch went out {second_took:?} after the first was throttled"
    );
    assert_eq!(tenant.emulator.state.accounting.early_retry_total(), 0);
}

/// Times the fault rule `id` fired.
fn fired(tenant: &EmulatedTenant, id: &str) -> u64 {
    tenant
        .emulator
        .state
        .faults
        .list()
        .iter()
        .filter(|listed| listed.id == id)
        .map(|listed| listed.fired)
        .sum()
}
