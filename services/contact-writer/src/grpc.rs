//! gRPC adapter: requests in, domain calls, `Status` out.

use galsync_platform::store::StorePool;
use galsync_proto::v1;

/// The `galsync.v1.ContactWriter` service.
#[derive(Debug, Clone)]
pub struct ContactWriterService {
    #[allow(dead_code)]
    store: StorePool,
}

impl ContactWriterService {
    pub fn new(store: StorePool) -> Self {
        Self { store }
    }
}

// Every RPC answers UNIMPLEMENTED until its issue lands.
#[tonic::async_trait]
impl v1::contact_writer_server::ContactWriter for ContactWriterService {}
