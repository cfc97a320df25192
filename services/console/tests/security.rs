//! Every page and every form of the console, walked from one table that
//! must name every route the console serves: an anonymous browser is sent to
//! sign-in, an expired session too (told it ended), a forged CSRF token is
//! refused even to an administrator, and a viewer can change nothing. After
//! the refusals, the run, the profile, the tenant and the API key are as
//! they were.

mod common;

use std::collections::BTreeSet;
use std::time::Duration;

use common::tenant::onboarding;
use common::{
    csrf_token_in, location, post_multipart, spawn_console, spawn_tenant_console, TestConsole,
};
use galsync_proto::v1;
use galsync_testkit::scheduler::{MtlsScheduler, TENANT};
use reqwest::StatusCode;

/// The routes that need no session: signing in and the stylesheet and script.
const PUBLIC: [&str; 6] = [
    "/sign-in",
    "/sign-in/link/{token}",
    "/auth/entra/start",
    "/auth/entra/callback",
    "/assets/console.css",
    "/assets/console.js",
];

/// Pages: reading only. `true`: the page acts for an administrator only and
/// is refused to a viewer (the consent link asks the broker for one).
const PAGES: [(&str, bool); 17] = [
    ("/", false),
    ("/tenants", false),
    ("/tenants/{tenant_id}", false),
    ("/tenants/{tenant_id}/remove", false),
    (
        "/tenants/{tenant_id}/certificates/{certificate_id}/cer",
        false,
    ),
    ("/tenants/{tenant_id}/apps/{client_id}/consent", true),
    ("/runs", false),
    ("/runs/{run_id}", false),
    ("/runs/{run_id}/events", false),
    ("/profiles", false),
    ("/profiles/new", false),
    ("/profiles/{profile_id}", false),
    ("/profiles/{profile_id}/edit", false),
    ("/profiles/{profile_id}/explain", false),
    ("/audit", false),
    ("/audit/credentials", false),
    ("/api-keys", false),
];

/// Forms: every one changes something.
const FORMS: [&str; 17] = [
    "/tenants",
    "/tenants/{tenant_id}/settings",
    "/tenants/{tenant_id}/remove",
    "/tenants/{tenant_id}/test",
    "/tenants/{tenant_id}/apps/{client_id}/certificates",
    "/tenants/{tenant_id}/apps/{client_id}/certificates/import",
    "/tenants/{tenant_id}/apps/{client_id}/secret",
    "/runs/{run_id}/cancel",
    "/runs/{run_id}/approve",
    "/profiles/new",
    "/profiles/{profile_id}/edit",
    "/profiles/{profile_id}/dry-run",
    "/profiles/{profile_id}/run",
    "/profiles/{profile_id}/delete",
    "/api-keys",
    "/api-keys/{key_id}/revoke",
    "/sign-out",
];

/// The form that takes `multipart/form-data` (a certificate file).
const MULTIPART_FORM: &str = "/tenants/{tenant_id}/apps/{client_id}/certificates/import";

/// `(method, path)` of every route in the console's router, read from its
/// source so that a route added there and not here fails this test.
fn routes_in_the_router() -> BTreeSet<(&'static str, String)> {
    let source = include_str!("../src/lib.rs");
    let router = source
        .split("fn router(")
        .nth(1)
        .expect("lib.rs has fn router");
    let mut routes = BTreeSet::new();
    for route in router.split(".route(").skip(1) {
        let path = route.split('"').nth(1).expect("a route's path").to_owned();
        let handlers = route.split(".route(").next().unwrap_or_default();
        if handlers.contains("get(") {
            routes.insert(("GET", path.clone()));
        }
        if handlers.contains("post(") {
            routes.insert(("POST", path));
        }
    }
    routes
}

#[test]
fn the_table_names_every_route_the_console_serves() {
    let mut tabled = BTreeSet::new();
    for path in PUBLIC {
        tabled.insert(("GET", path.to_owned()));
    }
    for (path, _) in PAGES {
        tabled.insert(("GET", path.to_owned()));
    }
    for path in FORMS {
        tabled.insert(("POST", path.to_owned()));
    }
    assert_eq!(routes_in_the_router(), tabled);
}

struct Ids {
    tenant_id: String,
    client_id: String,
    run_id: String,
    profile_id: String,
    key_id: String,
}

impl Ids {
    fn fill(&self, path: &str) -> String {
        path.replace("{tenant_id}", &self.tenant_id)
            .replace("{client_id}", &self.client_id)
            .replace("{certificate_id}", "no-such-certificate")
            .replace("{run_id}", &self.run_id)
            .replace("{profile_id}", &self.profile_id)
            .replace("{key_id}", &self.key_id)
    }
}

/// Posts `path` as its form would, with `csrf_token` and `cookie` (none: "").
async fn post(
    console: &TestConsole,
    path_pattern: &str,
    path: &str,
    cookie: &str,
    csrf_token: &str,
) -> reqwest::Response {
    if path_pattern == MULTIPART_FORM {
        let parts: [common::Part; 3] = [
            ("csrf_token", None, csrf_token.as_bytes()),
            ("password", None, b""),
            ("certificate", Some("galsync.pfx"), b"not a certificate"),
        ];
        return post_multipart(console, path, cookie, &parts).await;
    }
    console
        .post_form(path, cookie, &[("csrf_token", csrf_token)])
        .await
}

#[tokio::test]
async fn every_page_and_form_refuses_anonymous_expired_forged_and_viewer_requests() {
    let scheduler = MtlsScheduler::start(2, &[]).await;
    let setup = onboarding(&scheduler).await;
    setup.register_only().await;
    let console = spawn_tenant_console(&scheduler, &setup.broker).await;
    let run_id = scheduler.start_writing_run("phones", TENANT).await;
    let mut api = scheduler.api("cli");
    let profiles = api
        .list_profiles(v1::ListProfilesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .profiles;
    let key = api
        .create_api_key(v1::CreateApiKeyRequest {
            name: "hr".to_owned(),
            role: v1::ApiRole::Viewer as i32,
            tenant_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    let ids = Ids {
        tenant_id: setup.tenant_id.to_string(),
        client_id: setup.client_id.clone(),
        run_id: run_id.clone(),
        profile_id: profiles[0].profile_id.clone(),
        key_id: key.key_id.clone(),
    };

    // Anonymous: every page and form sends the browser to sign in.
    for (pattern, _) in PAGES {
        let path = ids.fill(pattern);
        let response = console.get(&path, None).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "GET {path}");
        assert_eq!(location(&response), "/sign-in", "GET {path}");
    }
    for pattern in FORMS {
        let path = ids.fill(pattern);
        let response = post(&console, pattern, &path, "", "anything").await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "POST {path}");
        assert_eq!(location(&response), "/sign-in", "POST {path}");
    }

    // An administrator with a forged CSRF token: every form refuses.
    let admin = console.sign_in(&console.admin_link).await;
    for pattern in FORMS {
        let path = ids.fill(pattern);
        let response = post(&console, pattern, &path, &admin, "forged").await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "POST {path}");
    }

    // A viewer with the session's own token: every form but sign-out, and
    // the administrator's consent link, refuse.
    let viewer = console.sign_in(&console.viewer_link).await;
    let viewer_token = csrf_token_in(&console.page("/runs", &viewer).await);
    for (pattern, admin_only) in PAGES {
        let path = ids.fill(pattern);
        let response = console.get(&path, Some(&viewer)).await;
        if admin_only {
            assert_eq!(response.status(), StatusCode::FORBIDDEN, "GET {path}");
        }
    }
    for pattern in FORMS.into_iter().filter(|form| *form != "/sign-out") {
        let path = ids.fill(pattern);
        let response = post(&console, pattern, &path, &viewer, &viewer_token).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN, "POST {path}");
    }

    // Nothing changed.
    assert_eq!(scheduler.run_state(&run_id).await, v1::RunState::Writing);
    let profiles_after = api
        .list_profiles(v1::ListProfilesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .profiles;
    assert_eq!(profiles_after, profiles);
    let keys = api
        .list_api_keys(v1::ListApiKeysRequest {})
        .await
        .unwrap()
        .into_inner()
        .keys;
    assert_eq!(keys.len(), 1, "no key made: {keys:?}");
    assert!(keys[0].revoked_at.is_none(), "the key is not revoked");
    let mut broker = setup.broker.admin_client().await;
    let tenant = broker
        .get_tenant(v1::GetTenantRequest {
            tenant_id: setup.tenant_id.to_string(),
        })
        .await
        .expect("the tenant is still registered")
        .into_inner();
    let certificates = broker
        .list_certificates(v1::ListCertificatesRequest {
            tenant_id: setup.tenant_id.to_string(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .certificates;
    assert!(certificates.is_empty(), "no certificate made: {tenant:?}");
    // The two sessions still work: refusals did not sign anyone out.
    console.page("/", &admin).await;
    console.page("/", &viewer).await;
}

#[tokio::test]
async fn every_page_sends_an_expired_session_to_sign_in_saying_it_ended() {
    let scheduler = MtlsScheduler::start(1, &[]).await;
    let console = spawn_console(&scheduler, 1).await;
    let run_id = scheduler.start_writing_run("phones", TENANT).await;
    let ids = Ids {
        tenant_id: TENANT.to_owned(),
        client_id: "app".to_owned(),
        run_id: run_id.clone(),
        profile_id: "profile".to_owned(),
        key_id: "key".to_owned(),
    };
    let cookie = console.sign_in(&console.admin_link).await;
    let csrf = csrf_token_in(&console.page("/runs", &cookie).await);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for (pattern, _) in PAGES {
        let path = ids.fill(pattern);
        let response = console.get(&path, Some(&cookie)).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "GET {path}");
        assert_eq!(location(&response), "/sign-in?ended=1", "GET {path}");
    }
    for pattern in FORMS {
        let path = ids.fill(pattern);
        let response = post(&console, pattern, &path, &cookie, &csrf).await;
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "POST {path}");
        assert_eq!(location(&response), "/sign-in?ended=1", "POST {path}");
    }
    assert_eq!(scheduler.run_state(&run_id).await, v1::RunState::Writing);
}
