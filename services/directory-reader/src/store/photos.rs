//! Photos: each user's last photo check, the bytes stored once per hash.

use std::collections::HashMap;

use galsync_platform::with_pool;
use sqlx::Row;

use super::{now_secs, Store};
use crate::error::Result;

#[derive(Debug, Clone, PartialEq)]
pub struct PhotoRow {
    pub content_type: String,
    pub data: Vec<u8>,
}

impl Store {
    /// `user id → (etag, photo hash)` of a tenant's last photo checks.
    pub async fn user_photos(&self, tenant_id: &str) -> Result<HashMap<String, (String, String)>> {
        let rows: Vec<(String, String, String)> = with_pool!(&self.pool, pool => {
            sqlx::query_as("SELECT user_id, etag, photo_hash FROM user_photos WHERE tenant_id = $1")
                .bind(tenant_id)
                .fetch_all(pool)
                .await?
        });
        let mut by_user = HashMap::with_capacity(rows.len());
        for (user_id, etag, photo_hash) in rows {
            by_user.insert(user_id, (etag, photo_hash));
        }
        Ok(by_user)
    }

    /// Records a user's photo (bytes stored once per content hash).
    pub async fn save_user_photo(
        &self,
        tenant_id: &str,
        user_id: &str,
        etag: &str,
        photo_hash: &str,
        photo: &PhotoRow,
    ) -> Result<()> {
        let now = now_secs();
        with_pool!(&self.pool, pool => {
            let mut transaction = pool.begin().await?;
            sqlx::query(
                "INSERT INTO photos (photo_hash, content_type, data, created_at) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (photo_hash) DO NOTHING",
            )
            .bind(photo_hash)
            .bind(&photo.content_type)
            .bind(&photo.data)
            .bind(now)
            .execute(&mut *transaction)
            .await?;
            sqlx::query(
                "INSERT INTO user_photos (tenant_id, user_id, etag, photo_hash) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (tenant_id, user_id) DO UPDATE SET etag = excluded.etag, photo_hash = excluded.photo_hash",
            )
            .bind(tenant_id)
            .bind(user_id)
            .bind(etag)
            .bind(photo_hash)
            .execute(&mut *transaction)
            .await?;
            transaction.commit().await?;
        });
        Ok(())
    }

    pub async fn forget_user_photo(&self, tenant_id: &str, user_id: &str) -> Result<()> {
        with_pool!(&self.pool, pool => {
            sqlx::query("DELETE FROM user_photos WHERE tenant_id = $1 AND user_id = $2")
                .bind(tenant_id)
                .bind(user_id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }

    pub async fn photo(&self, photo_hash: &str) -> Result<Option<PhotoRow>> {
        let row = with_pool!(&self.pool, pool => {
            sqlx::query("SELECT content_type, data FROM photos WHERE photo_hash = $1")
                .bind(photo_hash)
                .fetch_optional(pool)
                .await?
                .map(|row| PhotoRow { content_type: row.get(0), data: row.get(1) })
        });
        Ok(row)
    }
}
