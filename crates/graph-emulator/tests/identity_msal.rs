//! MSAL Python, Microsoft's own library, getting app-only tokens from the
//! emulator with a certificate (RS256 + `x5t` and PS256 + `x5t#S256`). Runs
//! when `python3 -c 'import msal'` works; otherwise says it skips.

mod support;

use serde_json::{json, Value};
use support::identity::{app_key, jwt_claims, start, GRAPH_DEFAULT};

const MSAL_SCRIPT: &str = r#"
import json, os, sys
import msal, requests

plain_base = os.environ["EMULATOR_BASE"]
https_base = plain_base.replace("http://", "https://", 1)

class EmulatorSession(requests.Session):
    """MSAL only accepts https authorities: stand in for a TLS proxy."""
    def request(self, method, url, *args, **kwargs):
        if url.startswith(https_base):
            url = plain_base + url[len(https_base):]
            headers = dict(kwargs.pop("headers", None) or {})
            headers["X-Forwarded-Proto"] = "https"
            kwargs["headers"] = headers
        return super().request(method, url, *args, **kwargs)

key = open(os.environ["KEY_PEM"]).read()
results = []
for credential in (
    {"private_key": key, "thumbprint": os.environ["THUMBPRINT"]},
    {"private_key": key, "public_certificate": open(os.environ["CERT_PEM"]).read()},
):
    app = msal.ConfidentialClientApplication(
        os.environ["CLIENT_ID"],
        authority=https_base + "/" + os.environ["TENANT"],
        client_credential=credential,
        http_client=EmulatorSession(),
        instance_discovery=False,
    )
    results.append(app.acquire_token_for_client(scopes=[os.environ["SCOPE"]]))
print(json.dumps(results))
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msal_python_gets_app_only_tokens_with_a_certificate() {
    let has_msal = std::process::Command::new("python3")
        .args(["-c", "import msal, requests"])
        .output()
        .is_ok_and(|output| output.status.success());
    if !has_msal {
        println!("skipping: python3 with msal is not installed (pip install msal)");
        return;
    }
    let tenant = start().await;
    tenant.consent_all().await;
    let directory = std::env::temp_dir().join(format!("galsync-msal-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&directory).expect("temp dir");
    let key_path = directory.join("key.pem");
    let certificate_path = directory.join("cert.pem");
    std::fs::write(&key_path, &app_key().private_pkcs8_pem).expect("write key");
    std::fs::write(&certificate_path, &app_key().certificate_pem).expect("write certificate");
    let mut command = std::process::Command::new("python3");
    command
        .args(["-c", MSAL_SCRIPT])
        .env("EMULATOR_BASE", &tenant.base)
        .env("TENANT", "contoso.example")
        .env("CLIENT_ID", &tenant.client_id)
        .env("KEY_PEM", &key_path)
        .env("CERT_PEM", &certificate_path)
        .env("THUMBPRINT", app_key().sha1_hex())
        .env("SCOPE", GRAPH_DEFAULT);
    let child = tokio::task::spawn_blocking(move || command.output())
        .await
        .expect("join")
        .expect("run python");
    let _ = std::fs::remove_dir_all(&directory);
    let stdout = String::from_utf8_lossy(&child.stdout);
    assert!(
        child.status.success(),
        "msal script failed: {stdout} {}",
        String::from_utf8_lossy(&child.stderr)
    );
    let results: Vec<Value> = serde_json::from_str(stdout.trim()).expect("json results");
    assert_eq!(results.len(), 2);
    for result in results {
        let access_token = result["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("msal failed: {result}"));
        let claims = jwt_claims(access_token);
        assert_eq!(claims["tid"], tenant.tenant_id.to_string());
        assert_eq!(claims["appid"], tenant.client_id);
        assert_eq!(
            claims["roles"],
            json!(["Contacts.ReadWrite", "Group.Read.All", "User.Read.All"])
        );
    }
}
