//! One OpenTelemetry trace per run across the four services: every service
//! exports its spans to an OTLP collector in this test, and the spans of one
//! run — the scheduler's, the reader's snapshot, each writer's mailboxes and
//! the auth-broker's token issuances they caused — share the trace id that
//! `galsync runs show` prints, and each service's spans hang under the
//! caller's span (W3C trace context over gRPC).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use galsync_e2e::{spawn_cluster, ClusterSpec};
use galsync_testkit::harness::serve_grpc;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;

/// One received span: the exporting service, its trace, its id and parent.
#[derive(Debug, Clone)]
struct Received {
    service: String,
    trace_id: String,
    span_id: String,
    parent_id: String,
    name: String,
}

/// An OTLP/gRPC trace collector that keeps every span it is sent.
#[derive(Clone, Default)]
struct Collector {
    spans: Arc<Mutex<Vec<Received>>>,
}

#[tonic::async_trait]
impl TraceService for Collector {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut kept = self.spans.lock().expect("spans");
        for resource_spans in request.into_inner().resource_spans {
            let service = resource_spans
                .resource
                .iter()
                .flat_map(|resource| resource.attributes.iter())
                .find(|attribute| attribute.key == "service.name")
                .and_then(|attribute| attribute.value.as_ref()?.value.as_ref())
                .map(|value| match value {
                    AnyValue::StringValue(name) => name.clone(),
                    other => format!("{other:?}"),
                })
                .unwrap_or_default();
            for scope in resource_spans.scope_spans {
                for span in scope.spans {
                    kept.push(Received {
                        service: service.clone(),
                        trace_id: hex(&span.trace_id),
                        span_id: hex(&span.span_id),
                        parent_id: hex(&span.parent_span_id),
                        name: span.name,
                    });
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_run_is_one_trace_across_the_four_services() {
    let collector = Collector::default();
    let routes = tonic::service::Routes::new(TraceServiceServer::new(collector.clone()));
    let endpoint = format!("http://{}", serve_grpc(routes, None).await);

    let cluster = spawn_cluster(ClusterSpec {
        writers: 2,
        otlp_endpoint: Some(endpoint),
        ..ClusterSpec::default()
    })
    .await;
    let tenant = cluster.onboard(30, 3, 41).await;
    let profile_id = cluster.create_profile(&tenant, &[]).await;
    let run = cluster.run_to_success(&profile_id).await;
    cluster.assert_mailboxes_match(&tenant).await;

    let run_id = run["run_id"].as_str().expect("a run id");
    let trace_id = run["trace_id"]
        .as_str()
        .expect("runs show prints a trace id");
    assert_eq!(
        trace_id,
        run_id.replace('-', ""),
        "the trace id is the run's"
    );

    // Services export in batches every few seconds.
    let wanted: BTreeSet<&str> = [
        "scheduler",
        "directory-reader",
        "contact-writer",
        "auth-broker",
    ]
    .into();
    let deadline = Instant::now() + Duration::from_secs(40);
    let spans = loop {
        let spans: Vec<Received> = collector
            .spans
            .lock()
            .expect("spans")
            .iter()
            .filter(|span| span.trace_id == trace_id)
            .cloned()
            .collect();
        let services: BTreeSet<&str> = spans.iter().map(|span| span.service.as_str()).collect();
        if wanted.iter().all(|service| services.contains(service)) {
            break spans;
        }
        assert!(
            Instant::now() < deadline,
            "the run's trace has spans of {services:?} only, not all of {wanted:?}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    };

    // Each service's spans join its caller's: a reader or broker span's
    // parent is a span some other service exported in this trace.
    let owner: BTreeMap<&str, &str> = spans
        .iter()
        .map(|span| (span.span_id.as_str(), span.service.as_str()))
        .collect();
    for callee in ["directory-reader", "auth-broker"] {
        let joined = spans.iter().any(|span| {
            span.service == callee
                && owner
                    .get(span.parent_id.as_str())
                    .is_some_and(|caller| *caller != callee)
        });
        assert!(
            joined,
            "no {callee} span has a parent from another service: {:#?}",
            spans
                .iter()
                .filter(|span| span.service == callee)
                .map(|span| (&span.name, &span.parent_id))
                .collect::<Vec<_>>()
        );
    }
}
