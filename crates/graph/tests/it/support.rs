//! Test helpers: local HTTP servers on port 0, token sources, a test
//! certificate made once per test binary.

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use chrono::Utc;
use futures::future::BoxFuture;
use galsync_graph::{
    AccessToken, GraphClient, GraphClientConfig, HttpOptions, InvalidationReason, RetryPolicy,
    Sleeper, TokenError, TokenSource,
};
use rsa::pkcs8::{EncodePrivateKey, LineEnding};
use secrecy::SecretString;

/// Serves `router` on 127.0.0.1 with an OS-chosen port; returns `http://127.0.0.1:port`.
pub async fn spawn_server(router: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a local port");
    let address = listener.local_addr().expect("local address");
    tokio::spawn(async move {
        axum::serve(listener, router).await.ok();
    });
    format!("http://{address}")
}

/// A retry policy fast enough for tests.
pub fn fast_retry_policy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        max_throttled_attempts: 4,
        base_delay: Duration::from_millis(20),
        max_delay: Duration::from_millis(100),
        max_total_wait: Duration::from_secs(5),
    }
}

pub fn graph_client(server: &str, tokens: Arc<dyn TokenSource>) -> GraphClient {
    graph_client_with_policy(server, tokens, fast_retry_policy())
}

pub fn graph_client_with_policy(
    server: &str,
    tokens: Arc<dyn TokenSource>,
    retry: RetryPolicy,
) -> GraphClient {
    let http = HttpOptions {
        request_timeout: Duration::from_secs(5),
        ..HttpOptions::default()
    }
    .build_client()
    .expect("http client");
    let config = GraphClientConfig {
        base_url: format!("{server}/v1.0"),
        retry,
    };
    GraphClient::new(http, config, tokens).expect("graph client")
}

/// Hands out `token-1`, then `token-2` after an invalidation, and so on.
#[derive(Debug, Default)]
pub struct GenerationTokenSource {
    generation: AtomicU32,
    pub invalidations: Mutex<Vec<InvalidationReason>>,
}

impl GenerationTokenSource {
    pub fn new() -> Arc<Self> {
        Arc::new(Self {
            generation: AtomicU32::new(1),
            invalidations: Mutex::new(Vec::new()),
        })
    }

    pub fn invalidation_count(&self) -> usize {
        self.invalidations
            .lock()
            .map(|list| list.len())
            .unwrap_or(0)
    }
}

impl TokenSource for GenerationTokenSource {
    fn token(&self) -> BoxFuture<'_, Result<AccessToken, TokenError>> {
        let generation = self.generation.load(Ordering::SeqCst);
        Box::pin(async move {
            let value = SecretString::from(format!("token-{generation}"));
            Ok(AccessToken::new(
                value,
                Utc::now() + chrono::Duration::hours(1),
            ))
        })
    }

    fn invalidate(&self, reason: InvalidationReason) -> BoxFuture<'_, ()> {
        self.generation.fetch_add(1, Ordering::SeqCst);
        if let Ok(mut list) = self.invalidations.lock() {
            list.push(reason);
        }
        Box::pin(async {})
    }
}

/// Records each requested wait, then returns at once.
#[derive(Debug, Default)]
pub struct RecordingSleeper {
    pub delays: Mutex<Vec<Duration>>,
}

impl RecordingSleeper {
    pub fn recorded(&self) -> Vec<Duration> {
        self.delays
            .lock()
            .map(|list| list.clone())
            .unwrap_or_default()
    }
}

impl Sleeper for RecordingSleeper {
    fn sleep(&self, duration: Duration) -> BoxFuture<'static, ()> {
        if let Ok(mut list) = self.delays.lock() {
            list.push(duration);
        }
        Box::pin(async {})
    }
}

/// Arrival times of requests at a test server.
#[derive(Debug, Default, Clone)]
pub struct Arrivals(pub Arc<Mutex<Vec<Instant>>>);

impl Arrivals {
    pub fn record(&self) -> usize {
        let mut list = self.0.lock().expect("arrivals lock");
        list.push(Instant::now());
        list.len()
    }

    pub fn count(&self) -> usize {
        self.0.lock().map(|list| list.len()).unwrap_or(0)
    }

    /// Time between arrival `index` and the one before it.
    pub fn gap_before(&self, index: usize) -> Duration {
        let list = self.0.lock().expect("arrivals lock");
        list[index].duration_since(list[index - 1])
    }
}

/// An RSA key with a self-signed certificate, made once per test binary
/// (RSA key generation is slow).
pub struct TestCertificate {
    pub private_key: rsa::RsaPrivateKey,
    pub private_key_pkcs8_der: Vec<u8>,
    pub private_key_pem: String,
    pub certificate_der: Vec<u8>,
    pub certificate_pem: String,
}

pub fn test_certificate() -> &'static TestCertificate {
    static CERTIFICATE: OnceLock<TestCertificate> = OnceLock::new();
    CERTIFICATE.get_or_init(|| {
        let private_key =
            rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).expect("rsa key generation");
        let pkcs8_der = private_key.to_pkcs8_der().expect("pkcs8 der");
        let pem = private_key
            .to_pkcs8_pem(LineEnding::LF)
            .expect("pkcs8 pem")
            .to_string();
        let key_pair = rcgen::KeyPair::from_pkcs8_der_and_sign_algo(
            &pkcs8_der.as_bytes().into(),
            &rcgen::PKCS_RSA_SHA256,
        )
        .expect("rcgen key pair");
        let params =
            rcgen::CertificateParams::new(vec!["galsync.test".to_owned()]).expect("cert params");
        let certificate = params.self_signed(&key_pair).expect("self-signed cert");
        TestCertificate {
            private_key,
            private_key_pkcs8_der: pkcs8_der.as_bytes().to_vec(),
            private_key_pem: pem,
            certificate_der: certificate.der().to_vec(),
            certificate_pem: certificate.pem(),
        }
    })
}
