//! gRPC adapter: requests in, domain calls, `Status` out.

use galsync_platform::store::StorePool;
use galsync_proto::v1;

/// The `galsync.v1.DirectoryReader` service.
#[derive(Debug, Clone)]
pub struct DirectoryReaderService {
    #[allow(dead_code)]
    store: StorePool,
}

impl DirectoryReaderService {
    pub fn new(store: StorePool) -> Self {
        Self { store }
    }
}

// Every RPC answers UNIMPLEMENTED until its issue lands.
#[tonic::async_trait]
impl v1::directory_reader_server::DirectoryReader for DirectoryReaderService {}
