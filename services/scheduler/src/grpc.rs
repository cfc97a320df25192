//! gRPC adapter: requests in, domain calls, `Status` out.

use galsync_platform::store::StorePool;
use galsync_proto::v1;

/// The `galsync.v1.Scheduler` service.
#[derive(Debug, Clone)]
pub struct SchedulerService {
    #[allow(dead_code)]
    store: StorePool,
}

impl SchedulerService {
    pub fn new(store: StorePool) -> Self {
        Self { store }
    }
}

// Every RPC answers UNIMPLEMENTED until its issue lands.
#[tonic::async_trait]
impl v1::scheduler_server::Scheduler for SchedulerService {}

/// The `galsync.v1.WorkQueue` service.
#[derive(Debug, Clone)]
pub struct WorkQueueService {
    #[allow(dead_code)]
    store: StorePool,
}

impl WorkQueueService {
    pub fn new(store: StorePool) -> Self {
        Self { store }
    }
}

// Every RPC answers UNIMPLEMENTED until its issue lands.
#[tonic::async_trait]
impl v1::work_queue_server::WorkQueue for WorkQueueService {}
