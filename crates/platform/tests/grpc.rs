//! The shared gRPC bootstrap over real sockets: health, reflection, panics
//! answered INTERNAL, graceful shutdown, and mTLS identities.

use std::time::Duration;

use galsync_platform::grpc::ServeOptions;
use galsync_platform::pki::CertificateAuthority;
use galsync_platform::{caller_identity, TlsMaterial};
use galsync_proto::v1;
use galsync_proto::v1::work_queue_client::WorkQueueClient;
use galsync_proto::v1::work_queue_server::{WorkQueue, WorkQueueServer};
use galsync_testkit::harness::{
    health_status, reflected_services, reflected_services_v1alpha, serve_galsync, RunningServer,
};
use tonic::service::RoutesBuilder;
use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};
use tonic_health::pb::health_check_response::ServingStatus;

/// A stand-in service: `Lease` echoes the caller identity the handler sees,
/// `Heartbeat` panics.
struct EchoIdentity;

#[tonic::async_trait]
impl WorkQueue for EchoIdentity {
    async fn lease(
        &self,
        request: tonic::Request<v1::LeaseRequest>,
    ) -> Result<tonic::Response<v1::LeaseResponse>, tonic::Status> {
        let identity = caller_identity(&request).to_string();
        Ok(tonic::Response::new(v1::LeaseResponse {
            lease: Some(v1::Lease {
                lease_token: identity,
                ..Default::default()
            }),
        }))
    }

    async fn heartbeat(
        &self,
        _request: tonic::Request<v1::HeartbeatRequest>,
    ) -> Result<tonic::Response<v1::HeartbeatResponse>, tonic::Status> {
        panic!("handler bug");
    }
}

async fn start(tls: Option<TlsMaterial>) -> RunningServer {
    let mut routes = RoutesBuilder::default();
    routes.add_service(WorkQueueServer::new(EchoIdentity));
    let options = ServeOptions::local("test", vec!["galsync.v1.WorkQueue"]).with_tls(tls);
    serve_galsync(options, routes).await
}

async fn plaintext_channel(addr: std::net::SocketAddr) -> Channel {
    Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap()
}

#[tokio::test]
async fn serves_health_and_reflection_on_a_real_socket() {
    let server = start(None).await;
    let channel = plaintext_channel(server.addr).await;
    assert_eq!(
        health_status(channel.clone(), "").await.unwrap(),
        ServingStatus::Serving
    );
    assert_eq!(
        health_status(channel.clone(), "galsync.v1.WorkQueue")
            .await
            .unwrap(),
        ServingStatus::Serving
    );
    let services = reflected_services(channel.clone()).await.unwrap();
    assert!(
        services.contains(&"galsync.v1.WorkQueue".to_owned()),
        "{services:?}"
    );
    assert!(
        services.contains(&"galsync.v1.Scheduler".to_owned()),
        "{services:?}"
    );
    // Older clients ask v1alpha and see the same API.
    let older = reflected_services_v1alpha(channel.clone()).await.unwrap();
    for service in [
        "galsync.v1.WorkQueue",
        "galsync.v1.Scheduler",
        "grpc.health.v1.Health",
    ] {
        assert!(older.contains(&service.to_owned()), "{older:?}");
    }

    let mut client = WorkQueueClient::new(channel);
    let response = client.lease(v1::LeaseRequest::default()).await.unwrap();
    assert_eq!(
        response.into_inner().lease.unwrap().lease_token,
        "local-plaintext"
    );

    tokio::time::timeout(Duration::from_secs(5), server.stop())
        .await
        .unwrap()
        .unwrap();
}

#[tokio::test]
async fn a_panicking_handler_answers_internal_and_the_server_lives_on() {
    let server = start(None).await;
    let mut client = WorkQueueClient::new(plaintext_channel(server.addr).await);
    let status = client
        .heartbeat(v1::HeartbeatRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Internal);
    assert!(
        !status.message().contains("handler bug"),
        "panic payload leaked: {status:?}"
    );
    // The connection and server survive.
    client.lease(v1::LeaseRequest::default()).await.unwrap();
}

#[tokio::test]
async fn unimplemented_methods_answer_unimplemented() {
    let server = start(None).await;
    let mut client = WorkQueueClient::new(plaintext_channel(server.addr).await);
    let status = client
        .complete(v1::CompleteRequest::default())
        .await
        .unwrap_err();
    assert_eq!(status.code(), tonic::Code::Unimplemented);
}

fn write_material(
    dir: &std::path::Path,
    name: &str,
    ca: &CertificateAuthority,
    service: &str,
) -> TlsMaterial {
    let pair = ca.issue(service, &[]).unwrap();
    let cert = dir.join(format!("{name}.pem"));
    let key = dir.join(format!("{name}.key"));
    let ca_path = dir.join(format!("{name}-ca.pem"));
    std::fs::write(&cert, &pair.certificate_pem).unwrap();
    std::fs::write(&key, &pair.private_key_pem).unwrap();
    std::fs::write(&ca_path, ca.certificate_pem()).unwrap();
    TlsMaterial::load(&cert, &key, &ca_path).unwrap()
}

async fn tls_channel(
    addr: std::net::SocketAddr,
    ca: &CertificateAuthority,
    client: Option<&galsync_platform::pki::PemPair>,
) -> Result<Channel, tonic::transport::Error> {
    let mut tls = ClientTlsConfig::new()
        .ca_certificate(Certificate::from_pem(ca.certificate_pem()))
        .domain_name("localhost");
    if let Some(pair) = client {
        tls = tls.identity(Identity::from_pem(
            &pair.certificate_pem,
            &pair.private_key_pem,
        ));
    }
    Endpoint::from_shared(format!("https://{addr}"))?
        .tls_config(tls)?
        .connect()
        .await
}

#[tokio::test]
async fn mtls_shows_a_known_identity_and_refuses_unknown_certificates() {
    let dir = tempfile::tempdir().unwrap();
    let ca = CertificateAuthority::generate().unwrap();
    let server_material = write_material(dir.path(), "server", &ca, "scheduler");
    let server = start(Some(server_material)).await;

    // A certificate from our CA: the handler sees its service identity.
    let reader = ca.issue("directory-reader", &[]).unwrap();
    let channel = tls_channel(server.addr, &ca, Some(&reader)).await.unwrap();
    let mut client = WorkQueueClient::new(channel);
    let lease = client
        .lease(v1::LeaseRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        lease.lease.unwrap().lease_token,
        "urn:galsync:service:directory-reader"
    );

    // A certificate from another CA: refused before any handler runs.
    let stranger_ca = CertificateAuthority::generate().unwrap();
    let stranger = stranger_ca.issue("directory-reader", &[]).unwrap();
    let refused = match tls_channel(server.addr, &ca, Some(&stranger)).await {
        Err(_) => true,
        Ok(channel) => WorkQueueClient::new(channel)
            .lease(v1::LeaseRequest::default())
            .await
            .is_err(),
    };
    assert!(refused, "a certificate from an unknown CA was accepted");

    // No client certificate at all: refused too.
    let refused = match tls_channel(server.addr, &ca, None).await {
        Err(_) => true,
        Ok(channel) => WorkQueueClient::new(channel)
            .lease(v1::LeaseRequest::default())
            .await
            .is_err(),
    };
    assert!(refused, "a client without a certificate was accepted");
}
