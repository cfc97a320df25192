//! Consent: single-use states of consent links and the recorded outcome of
//! each app's consent callback.

use galsync_platform::with_pool;

use super::{BrokerStore, StoreResult};

#[derive(Debug, Clone, PartialEq)]
pub struct ConsentOutcomeRow {
    pub granted: bool,
    pub error: String,
    pub error_description: String,
    pub recorded_at: i64,
}

impl BrokerStore {
    pub async fn insert_consent_state(
        &self,
        state_hash: &str,
        tenant_id: &str,
        client_id: &str,
        redirect_uri: &str,
        expires_at: i64,
    ) -> StoreResult<()> {
        with_pool!(&self.pool, pool => {
            sqlx::query(
                "INSERT INTO consent_states (state_hash, tenant_id, client_id, redirect_uri, expires_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(state_hash)
            .bind(tenant_id)
            .bind(client_id)
            .bind(redirect_uri)
            .bind(expires_at)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Removes and returns a consent state (single use): (tenant, client, expires_at).
    pub async fn take_consent_state(
        &self,
        state_hash: &str,
    ) -> StoreResult<Option<(String, String, i64)>> {
        let row: Option<(String, String, i64)> = with_pool!(&self.pool, pool => {
            sqlx::query_as(
                "DELETE FROM consent_states WHERE state_hash = $1 RETURNING tenant_id, client_id, expires_at",
            )
            .bind(state_hash)
            .fetch_optional(pool)
            .await?
        });
        Ok(row)
    }

    /// Records a consent callback's outcome. A refusal never replaces an
    /// earlier grant (a stale or forged callback must not undo consent); a
    /// newer grant replaces anything.
    pub async fn record_consent_outcome(
        &self,
        tenant_id: &str,
        client_id: &str,
        outcome: &ConsentOutcomeRow,
    ) -> StoreResult<()> {
        with_pool!(&self.pool, pool => {
            sqlx::query(
                "INSERT INTO consent_outcomes (tenant_id, client_id, granted, error, error_description, recorded_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (tenant_id, client_id) DO UPDATE SET granted = excluded.granted, \
                 error = excluded.error, error_description = excluded.error_description, \
                 recorded_at = excluded.recorded_at \
                 WHERE excluded.granted OR NOT consent_outcomes.granted",
            )
            .bind(tenant_id)
            .bind(client_id)
            .bind(outcome.granted)
            .bind(&outcome.error)
            .bind(&outcome.error_description)
            .bind(outcome.recorded_at)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    pub async fn get_consent_outcome(
        &self,
        tenant_id: &str,
        client_id: &str,
    ) -> StoreResult<Option<ConsentOutcomeRow>> {
        let row: Option<(bool, String, String, i64)> = with_pool!(&self.pool, pool => {
            sqlx::query_as(
                "SELECT granted, error, error_description, recorded_at FROM consent_outcomes \
                 WHERE tenant_id = $1 AND client_id = $2",
            )
            .bind(tenant_id)
            .bind(client_id)
            .fetch_optional(pool)
            .await?
        });
        Ok(row.map(
            |(granted, error, error_description, recorded_at)| ConsentOutcomeRow {
                granted,
                error,
                error_description,
                recorded_at,
            },
        ))
    }
}
