//! Signing in with Microsoft Entra ID over real HTTPS: the console in front
//! of a real scheduler (mTLS), the graph emulator as Entra over real HTTP
//! (authorize with PKCE, the token endpoint, discovery, ID tokens signed
//! RS256 with the keys it publishes). Every browser step is a request here,
//! redirects followed and cookies carried by hand.

mod common;

use common::entra::{
    authorize, callback, query_value, session_cookie_of, set_cookie, sign_in_with_microsoft,
    start_sign_in, EntraTenant,
};
use common::{csrf_token_in, opens_the_overview, spawn_entra_console, TestConsole};
use galsync_console::{FLOW_COOKIE, SESSION_COOKIE};
use galsync_testkit::scheduler::{MtlsScheduler, TENANT};
use reqwest::StatusCode;

const ADA: &str = "ada@contoso.example";

async fn setup(mailboxes: usize) -> (MtlsScheduler, EntraTenant, TestConsole) {
    let scheduler = MtlsScheduler::start(mailboxes, &[]).await;
    let mut tenant = EntraTenant::start().await;
    let console = spawn_entra_console(&scheduler, &mut tenant).await;
    (scheduler, tenant, console)
}

/// The body of a refusal: status and page text.
async fn refusal(response: reqwest::Response) -> (StatusCode, String) {
    assert!(
        set_cookie(&response, SESSION_COOKIE).is_none(),
        "a refusal starts no session"
    );
    (response.status(), response.text().await.unwrap())
}

#[tokio::test]
async fn a_person_in_the_admin_group_signs_in_with_microsoft_and_the_overview_shows_them() {
    let (_scheduler, tenant, console) = setup(1).await;
    let ada = tenant.person("Ada Lovelace", ADA, Some(tenant.admin_group));
    tenant.browser_signs_in_as(&ada).await;

    let sign_in = console.get("/sign-in", None).await;
    assert_eq!(sign_in.status(), StatusCode::OK);
    let page = sign_in.text().await.unwrap();
    assert!(
        page.contains("href=\"/auth/entra/start\">Sign in with Microsoft</a>"),
        "{page}"
    );

    let start = console.get("/auth/entra/start", None).await;
    assert_eq!(start.status(), StatusCode::SEE_OTHER);
    let (flow_cookie, set_flow_cookie) = set_cookie(&start, FLOW_COOKIE).expect("flow cookie");
    for attribute in ["HttpOnly", "Secure", "SameSite=Lax", "Path=/"] {
        assert!(set_flow_cookie.contains(attribute), "{set_flow_cookie}");
    }
    let authorize_url = url::Url::parse(&common::location(&start)).unwrap();
    assert!(authorize_url.as_str().starts_with(&format!(
        "{}/{}/oauth2/v2.0/authorize?",
        tenant.base, tenant.tenant_id
    )));
    let parameter = |name: &str| query_value(&authorize_url, name).unwrap_or_default();
    assert_eq!(parameter("response_type"), "code");
    assert_eq!(parameter("scope"), "openid profile User.Read");
    assert_eq!(parameter("code_challenge_method"), "S256");
    assert_eq!(parameter("client_id"), tenant.client_id);
    assert_eq!(
        parameter("redirect_uri"),
        format!("{}/auth/entra/callback", console.url)
    );
    assert!(!parameter("state").is_empty() && !parameter("nonce").is_empty());

    let callback_url = authorize(&tenant, &authorize_url).await;
    let cookie = format!("{FLOW_COOKIE}={flow_cookie}");
    let signed_in = callback(&console, &callback_url, Some(&cookie)).await;
    assert_eq!(signed_in.status(), StatusCode::OK);
    let session = session_cookie_of(&signed_in);
    let (_, cleared) = set_cookie(&signed_in, FLOW_COOKIE).expect("the flow cookie cleared");
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    assert!(opens_the_overview(&signed_in.text().await.unwrap()));

    let overview = console.page("/", &session).await;
    assert!(
        overview.contains("ada@contoso.example (admin)"),
        "{overview}"
    );
}

/// Signs `upn` (in the admin group) in with Microsoft, cancels a run through
/// the console's form, and returns the actor the scheduler audited.
async fn actor_of_a_cancel_by(display_name: &str, upn: &str) -> String {
    let (scheduler, tenant, console) = setup(2).await;
    let person = tenant.person(display_name, upn, Some(tenant.admin_group));
    tenant.browser_signs_in_as(&person).await;
    let signed_in = sign_in_with_microsoft(&console, &tenant).await;
    assert_eq!(signed_in.status(), StatusCode::OK);
    let session = session_cookie_of(&signed_in);
    let run_id = scheduler.start_writing_run("phones", TENANT).await;
    let page = console.page(&format!("/runs/{run_id}"), &session).await;
    let cancel = console
        .post(
            &format!("/runs/{run_id}/cancel"),
            Some(&session),
            Some(&csrf_token_in(&page)),
        )
        .await;
    assert_eq!(cancel.status(), StatusCode::SEE_OTHER);
    let audit = scheduler.store.list_audit(20).await.unwrap();
    let (_, actor, ..) = audit
        .into_iter()
        .find(|(_, _, action, target, _)| action == "run.cancel_requested" && target == &run_id)
        .expect("the cancel is audited");
    actor
}

#[tokio::test]
async fn what_a_person_signed_in_with_microsoft_does_is_audited_under_their_username() {
    assert_eq!(
        actor_of_a_cancel_by("Ada Lovelace", ADA).await,
        "ada@contoso.example via urn:galsync:service:console"
    );
}

/// A username outside ASCII (gRPC metadata carries ASCII only) reaches the
/// scheduler whole: the pages work and the audit names the person as signed in.
#[tokio::test]
async fn a_username_outside_ascii_is_shown_and_audited_as_it_is() {
    assert_eq!(
        actor_of_a_cancel_by("Zoë Müller", "zoë.müller@contoso.example").await,
        "zoë.müller@contoso.example via urn:galsync:service:console"
    );
}

#[tokio::test]
async fn the_console_can_prove_itself_with_a_certificate_instead_of_a_secret() {
    let scheduler = MtlsScheduler::start(1, &[]).await;
    let mut tenant = EntraTenant::start().await;
    tenant.with_certificate = true;
    let console = spawn_entra_console(&scheduler, &mut tenant).await;
    let ada = tenant.person("Ada Lovelace", ADA, Some(tenant.admin_group));
    tenant.browser_signs_in_as(&ada).await;
    let signed_in = sign_in_with_microsoft(&console, &tenant).await;
    assert_eq!(signed_in.status(), StatusCode::OK);
    let overview = console.page("/", &session_cookie_of(&signed_in)).await;
    assert!(
        overview.contains("ada@contoso.example (admin)"),
        "{overview}"
    );
}

#[tokio::test]
async fn a_callback_without_its_browsers_flow_or_with_another_state_or_twice_is_refused() {
    let (_scheduler, tenant, console) = setup(1).await;
    let ada = tenant.person("Ada Lovelace", ADA, Some(tenant.admin_group));
    tenant.browser_signs_in_as(&ada).await;

    // No pre-session cookie: started in another browser (or by an attacker).
    let started = start_sign_in(&console).await;
    let callback_url = authorize(&tenant, &started.authorize_url).await;
    let (status, page) = refusal(callback(&console, &callback_url, None).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("no sign-in in progress"), "{page}");
    // A cookie the console never issued.
    let unknown = format!("{FLOW_COOKIE}=made-up");
    let (status, page) = refusal(callback(&console, &callback_url, Some(&unknown)).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        page.contains("does not belong to a sign-in this browser started"),
        "{page}"
    );

    // A tampered state: refused, and the flow is spent.
    let started = start_sign_in(&console).await;
    let callback_url = authorize(&tenant, &started.authorize_url).await;
    let mut tampered = callback_url.clone();
    let code = query_value(&callback_url, "code").unwrap();
    tampered
        .query_pairs_mut()
        .clear()
        .append_pair("code", &code)
        .append_pair("state", "tampered");
    let (status, page) =
        refusal(callback(&console, &tampered, Some(&started.cookie_header())).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(page.contains("its state does not match"), "{page}");
    let (status, _) =
        refusal(callback(&console, &callback_url, Some(&started.cookie_header())).await).await;
    assert_eq!(
        status,
        StatusCode::BAD_REQUEST,
        "a flow refused once is spent"
    );

    // A good callback works once; opened again, it is refused.
    let started = start_sign_in(&console).await;
    let callback_url = authorize(&tenant, &started.authorize_url).await;
    let first = callback(&console, &callback_url, Some(&started.cookie_header())).await;
    assert_eq!(first.status(), StatusCode::OK);
    session_cookie_of(&first);
    let (status, _) =
        refusal(callback(&console, &callback_url, Some(&started.cookie_header())).await).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);

    // Its code brought back with a new flow of this browser: the code was
    // redeemed already, and Entra refuses it.
    let fresh = start_sign_in(&console).await;
    let mut replayed = callback_url.clone();
    replayed
        .query_pairs_mut()
        .clear()
        .append_pair("code", &query_value(&callback_url, "code").unwrap())
        .append_pair("state", &fresh.parameter("state"));
    let (status, page) =
        refusal(callback(&console, &replayed, Some(&fresh.cookie_header())).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("invalid_grant"), "{page}");

    // An error answer from Entra is shown as such.
    let started = start_sign_in(&console).await;
    let mut denied = url::Url::parse(&format!("{}/auth/entra/callback", console.url)).unwrap();
    denied
        .query_pairs_mut()
        .append_pair("error", "access_denied")
        .append_pair("error_description", "AADSTS65004: User declined to consent")
        .append_pair("state", &started.parameter("state"));
    let (status, page) =
        refusal(callback(&console, &denied, Some(&started.cookie_header())).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        page.contains("access_denied: AADSTS65004: User declined to consent"),
        "{page}"
    );
}

#[tokio::test]
async fn an_id_token_issued_for_another_flows_nonce_is_refused() {
    let (_scheduler, tenant, console) = setup(1).await;
    let ada = tenant.person("Ada Lovelace", ADA, Some(tenant.admin_group));
    tenant.browser_signs_in_as(&ada).await;
    // The browser's flow, whose authorize request carries another flow's
    // nonce (as an attacker injecting a token minted for their own flow).
    let other = start_sign_in(&console).await;
    let started = start_sign_in(&console).await;
    let mut crafted = started.authorize_url.clone();
    let pairs: Vec<(String, String)> = started
        .authorize_url
        .query_pairs()
        .map(|(key, value)| {
            let value = if key == "nonce" {
                other.parameter("nonce")
            } else {
                value.into_owned()
            };
            (key.into_owned(), value)
        })
        .collect();
    crafted.query_pairs_mut().clear().extend_pairs(pairs);
    let callback_url = authorize(&tenant, &crafted).await;
    let (status, page) =
        refusal(callback(&console, &callback_url, Some(&started.cookie_header())).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(page.contains("nonce mismatch"), "{page}");
}

#[tokio::test]
async fn someone_in_no_mapped_group_is_told_who_they_are_and_what_to_ask_for() {
    let (_scheduler, tenant, console) = setup(1).await;
    let bob = tenant.person("Bob Stranger", "bob@contoso.example", None);
    tenant.browser_signs_in_as(&bob).await;
    let (status, page) = refusal(sign_in_with_microsoft(&console, &tenant).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        page.contains("signed you in as bob@contoso.example (Bob Stranger"),
        "{page}"
    );
    assert!(page.contains("Ask the console&#39;s administrator to add you to the group mapped to the role you need"), "{page}");
}

#[tokio::test]
async fn a_member_of_the_viewer_group_sees_runs_but_cannot_cancel_one() {
    let (scheduler, tenant, console) = setup(2).await;
    let vera = tenant.person(
        "Vera Viewer",
        "vera@contoso.example",
        Some(tenant.viewer_group),
    );
    tenant.browser_signs_in_as(&vera).await;
    let signed_in = sign_in_with_microsoft(&console, &tenant).await;
    assert_eq!(signed_in.status(), StatusCode::OK);
    let session = session_cookie_of(&signed_in);
    let run_id = scheduler.start_writing_run("phones", TENANT).await;

    let page = console.page(&format!("/runs/{run_id}"), &session).await;
    assert!(page.contains("vera@contoso.example (viewer)"), "{page}");
    assert!(
        page.contains("Cancelling a run needs the operator role"),
        "{page}"
    );
    let csrf = csrf_token_in(&page);
    let cancel = console
        .post(
            &format!("/runs/{run_id}/cancel"),
            Some(&session),
            Some(&csrf),
        )
        .await;
    assert_eq!(cancel.status(), StatusCode::FORBIDDEN);
    let after = console.page(&format!("/runs/{run_id}"), &session).await;
    assert!(
        after.contains("<strong id=\"state\">writing</strong>"),
        "{after}"
    );
}

#[tokio::test]
async fn an_id_token_signed_by_a_key_the_authority_does_not_publish_is_refused() {
    let (_scheduler, tenant, console) = setup(1).await;
    let ada = tenant.person("Ada Lovelace", ADA, Some(tenant.admin_group));
    tenant.browser_signs_in_as(&ada).await;
    // A first sign-in fetches the key set; a second uses the cached one.
    for _ in 0..2 {
        let signed_in = sign_in_with_microsoft(&console, &tenant).await;
        assert_eq!(signed_in.status(), StatusCode::OK);
    }
    assert_eq!(tenant.key_set_fetches().await, 1);

    tenant.sign_id_tokens_with_unpublished_key(true).await;
    let (status, page) = refusal(sign_in_with_microsoft(&console, &tenant).await).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(
        page.contains("not signed with RS256 by a key of the authority&#39;s key set"),
        "{page}"
    );
    // An unknown key: the set fetched again once, in case Entra rolled it.
    assert_eq!(tenant.key_set_fetches().await, 2);

    tenant.sign_id_tokens_with_unpublished_key(false).await;
    let again = sign_in_with_microsoft(&console, &tenant).await;
    assert_eq!(again.status(), StatusCode::OK);
}

/// Signing out of a session Microsoft started signs out of Microsoft too:
/// the console's answer sends the browser to the authority's logout
/// endpoint (from its discovery document) with the sign-in page as
/// `post_logout_redirect_uri`; Entra ends its session and sends the browser
/// back; the old cookie is refused. A one-time link's session signs out of
/// the console alone.
#[tokio::test]
async fn signing_out_of_a_microsoft_session_signs_out_of_microsoft_too() {
    let (_scheduler, tenant, console) = setup(1).await;
    let ada = tenant.person("Ada Lovelace", ADA, Some(tenant.admin_group));
    tenant.browser_signs_in_as(&ada).await;
    let signed_in = common::entra::sign_in_with_microsoft(&console, &tenant).await;
    let session = session_cookie_of(&signed_in);
    let overview = console.page("/", &session).await;
    let csrf = common::csrf_token_in(&overview);

    let signed_out = console.post("/sign-out", Some(&session), Some(&csrf)).await;
    assert_eq!(signed_out.status(), StatusCode::OK);
    let page = signed_out.text().await.unwrap();
    let marker = "<meta http-equiv=\"refresh\" content=\"0; url=";
    let start = page.find(marker).expect("a refresh to Microsoft") + marker.len();
    let logout = page[start..]
        .split('"')
        .next()
        .unwrap()
        .replace("&amp;", "&");
    let logout = url::Url::parse(&logout).unwrap();
    assert!(
        logout.as_str().starts_with(&format!(
            "{}/{}/oauth2/v2.0/logout?",
            tenant.base, tenant.tenant_id
        )),
        "{logout}"
    );
    let back_to = format!("{}/sign-in", console.url);
    assert_eq!(
        query_value(&logout, "post_logout_redirect_uri").as_deref(),
        Some(back_to.as_str())
    );
    assert!(tenant
        .emulator
        .state
        .identity
        .browser_signed_in(tenant.tenant_id));
    let at_microsoft = tenant.http.get(logout).send().await.unwrap();
    assert_eq!(at_microsoft.status(), StatusCode::FOUND);
    assert_eq!(common::location(&at_microsoft), back_to);
    assert!(!tenant
        .emulator
        .state
        .identity
        .browser_signed_in(tenant.tenant_id));
    let refused = console.get("/", Some(&session)).await;
    assert_eq!(refused.status(), StatusCode::SEE_OTHER);

    // A one-time link's session: the console alone.
    let cookie = console.sign_in(&console.admin_link).await;
    let overview = console.page("/", &cookie).await;
    let link_signed_out = console
        .post(
            "/sign-out",
            Some(&cookie),
            Some(&common::csrf_token_in(&overview)),
        )
        .await;
    assert_eq!(link_signed_out.status(), StatusCode::SEE_OTHER);
    assert_eq!(common::location(&link_signed_out), "/sign-in");
}
