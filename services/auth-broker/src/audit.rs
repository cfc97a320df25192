//! The audit log: every token issuance and refusal, certificate, secret and
//! consent change, with the caller's verified identity. Never a secret.

use chrono::{DateTime, Utc};
use galsync_platform::CallerIdentity;

use crate::clock::Clock;
use crate::error::BrokerError;
use crate::policy::Purpose;
use crate::store::{AuditRow, BrokerStore};

#[derive(Debug, Clone)]
pub struct Auditor {
    store: BrokerStore,
    clock: Clock,
}

impl Auditor {
    pub fn new(store: BrokerStore, clock: Clock) -> Self {
        Self { store, clock }
    }

    /// Writes one event. Fails closed: an action whose audit record cannot be
    /// written fails too.
    pub async fn record(
        &self,
        kind: &str,
        caller: &CallerIdentity,
        tenant_id: &str,
        purpose: Option<Purpose>,
        detail: &str,
        token_expires_at: Option<DateTime<Utc>>,
    ) -> Result<(), BrokerError> {
        let caller_text = caller.to_string();
        let purpose_text = purpose.map(|purpose| purpose.as_str()).unwrap_or("");
        tracing::info!(
            audit = kind,
            caller = %caller_text,
            tenant = tenant_id,
            purpose = purpose_text,
            detail,
            "audit"
        );
        let row = AuditRow {
            id: 0,
            at: self.clock.now_millis(),
            kind: kind.to_owned(),
            caller: caller_text,
            tenant_id: tenant_id.to_owned(),
            purpose: purpose_text.to_owned(),
            detail: detail.to_owned(),
            token_expires_at: token_expires_at.map(|at| at.timestamp_millis()),
        };
        self.store.insert_audit(&row).await?;
        Ok(())
    }

    pub async fn list(
        &self,
        tenant_id: &str,
        kind: &str,
        limit: u32,
    ) -> Result<Vec<AuditRow>, BrokerError> {
        let limit = if limit == 0 { 100 } else { limit.min(10_000) };
        Ok(self
            .store
            .list_audit(tenant_id, kind, i64::from(limit))
            .await?)
    }
}
