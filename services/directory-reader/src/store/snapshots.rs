//! Snapshots: a scope's users as of one read, stored once per content.

use galsync_platform::with_pool;
use sqlx::Row;

use super::{now_secs, Store};
use crate::error::Result;

/// A snapshot's stored summary.
#[derive(Debug, Clone, PartialEq)]
pub struct SnapshotRow {
    pub snapshot_id: String,
    pub tenant_id: String,
    pub entry_count: i64,
    pub created_at: i64,
    pub read_stats: Vec<u8>,
}

impl Store {
    /// Stores a snapshot (or, when the same content exists, marks it taken again).
    pub async fn save_snapshot(&self, row: &SnapshotRow, entries: &[u8]) -> Result<()> {
        let now = now_secs();
        with_pool!(&self.pool, pool => {
            sqlx::query(
                "INSERT INTO snapshots (snapshot_id, tenant_id, entry_count, created_at, last_taken_at, read_stats, entries) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7) \
                 ON CONFLICT (snapshot_id) DO UPDATE SET last_taken_at = excluded.last_taken_at, read_stats = excluded.read_stats",
            )
            .bind(&row.snapshot_id)
            .bind(&row.tenant_id)
            .bind(row.entry_count)
            .bind(row.created_at)
            .bind(now)
            .bind(&row.read_stats)
            .bind(entries)
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Takes a stored snapshot again: its `last_taken_at` and read
    /// statistics as a new save of the same content would set them. False
    /// when the store no longer holds it.
    pub async fn retake_snapshot(&self, snapshot_id: &str, read_stats: &[u8]) -> Result<bool> {
        let now = now_secs();
        let updated = with_pool!(&self.pool, pool => {
            sqlx::query("UPDATE snapshots SET last_taken_at = $1, read_stats = $2 WHERE snapshot_id = $3")
                .bind(now)
                .bind(read_stats)
                .bind(snapshot_id)
                .execute(pool)
                .await?
                .rows_affected()
        });
        Ok(updated == 1)
    }

    pub async fn snapshot(&self, snapshot_id: &str) -> Result<Option<SnapshotRow>> {
        let row = with_pool!(&self.pool, pool => {
            sqlx::query("SELECT snapshot_id, tenant_id, entry_count, created_at, read_stats FROM snapshots WHERE snapshot_id = $1")
                .bind(snapshot_id)
                .fetch_optional(pool)
                .await?
                .map(|row| SnapshotRow {
                    snapshot_id: row.get(0),
                    tenant_id: row.get(1),
                    entry_count: row.get(2),
                    created_at: row.get(3),
                    read_stats: row.get(4),
                })
        });
        Ok(row)
    }

    pub async fn snapshot_entries(&self, snapshot_id: &str) -> Result<Option<Vec<u8>>> {
        let entries = with_pool!(&self.pool, pool => {
            sqlx::query_scalar("SELECT entries FROM snapshots WHERE snapshot_id = $1")
                .bind(snapshot_id)
                .fetch_optional(pool)
                .await?
        });
        Ok(entries)
    }

    /// Keeps the `keep` most recently taken snapshots of a tenant; returns how many went.
    pub async fn prune_snapshots(&self, tenant_id: &str, keep: u32) -> Result<u64> {
        let removed = with_pool!(&self.pool, pool => {
            sqlx::query(
                "DELETE FROM snapshots WHERE tenant_id = $1 AND snapshot_id NOT IN \
                 (SELECT snapshot_id FROM snapshots WHERE tenant_id = $2 ORDER BY last_taken_at DESC, created_at DESC LIMIT $3)",
            )
            .bind(tenant_id)
            .bind(tenant_id)
            .bind(i64::from(keep))
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(removed)
    }
}
