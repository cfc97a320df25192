//! The broker's repository: tenants, apps, certificates (keys sealed), consent
//! state and the audit log, over SQLite or PostgreSQL with one
//! set of queries (see `galsync_platform::with_pool!`). Secrets arrive here
//! already sealed; this module never sees a plaintext secret.

use galsync_platform::store::StorePool;

pub type StoreResult<T> = Result<T, sqlx::Error>;

mod audit;
mod certificates;
mod consent;
mod tenants;

pub use audit::AuditRow;
pub use certificates::CertificateRow;
pub use consent::ConsentOutcomeRow;
pub use tenants::{AppRow, RemovedTenant, TenantRow};

#[derive(Debug, Clone)]
pub struct BrokerStore {
    pool: StorePool,
}

impl BrokerStore {
    pub fn new(pool: StorePool) -> Self {
        Self { pool }
    }

    pub fn pool(&self) -> &StorePool {
        &self.pool
    }
}
