//! Read scopes: where each stands (its delta link and version), its users,
//! and the log of what the whole directory's rounds changed, which
//! pre-filtered scopes follow.

use galsync_platform::with_pool;
use sqlx::Row;

use super::{now_secs, Store};
use crate::error::{Error, Result};
use crate::source::SourceUser;

/// Rows per multi-row INSERT (4 parameters each, far below either backend's limit).
const INSERT_CHUNK: usize = 500;

/// Where a read scope stands.
#[derive(Debug, Clone, PartialEq)]
pub struct ScopeRow {
    pub delta_link: String,
    pub version: i64,
    /// For a pre-filtered scope: the whole-directory version it follows.
    pub base_version: Option<i64>,
}

/// Rounds of the whole directory kept in `directory_round_changes` (delta
/// links expire after 7 days; this is far more rounds than a week holds).
const ROUND_LOG_KEPT: i64 = 20_000;
/// The log row of a round that changed nobody.
const ROUND_CHANGED_NOBODY: &str = "";
/// The log row of a full read: scopes following an older version read again.
const ROUND_READ_IN_FULL: &str = "*";

/// What a round changed, committed at once with the new delta link.
#[derive(Debug, Clone, Copy)]
pub enum ScopeChange<'a> {
    /// Every user of the scope, replacing what was there.
    Replace(&'a [SourceUser]),
    /// Users added or changed, and ids removed.
    Apply {
        upserts: &'a [SourceUser],
        removals: &'a [String],
    },
}

fn builder_for<'args, DB: sqlx::Database>(
    _pool: &sqlx::Pool<DB>,
    sql: &str,
) -> sqlx::QueryBuilder<'args, DB> {
    sqlx::QueryBuilder::new(sql)
}

fn encode_user(user: &SourceUser) -> Result<String> {
    serde_json::to_string(user)
        .map_err(|error| Error::Internal(format!("failed to encode user {}: {error}", user.id)))
}

impl Store {
    pub async fn scope(&self, tenant_id: &str, scope_key: &str) -> Result<Option<ScopeRow>> {
        let row = with_pool!(&self.pool, pool => {
            sqlx::query("SELECT delta_link, version, base_version FROM read_scopes WHERE tenant_id = $1 AND scope_key = $2")
                .bind(tenant_id)
                .bind(scope_key)
                .fetch_optional(pool)
                .await?
                .map(|row| ScopeRow { delta_link: row.get(0), version: row.get(1), base_version: row.get(2) })
        });
        Ok(row)
    }

    pub async fn scope_users(&self, tenant_id: &str, scope_key: &str) -> Result<Vec<SourceUser>> {
        let rows: Vec<String> = with_pool!(&self.pool, pool => {
            sqlx::query_scalar("SELECT data FROM scope_users WHERE tenant_id = $1 AND scope_key = $2")
                .bind(tenant_id)
                .bind(scope_key)
                .fetch_all(pool)
                .await?
        });
        let mut users = Vec::with_capacity(rows.len());
        for data in rows {
            let user: SourceUser = serde_json::from_str(&data).map_err(|error| {
                Error::Internal(format!("a stored user does not decode: {error}"))
            })?;
            users.push(user);
        }
        Ok(users)
    }

    /// The ids the whole directory's rounds after `after_version` up to
    /// `up_to_version` changed or removed; `None` when the log cannot tell
    /// (a round in between read in full, or the log no longer reaches back).
    pub async fn round_changes(
        &self,
        tenant_id: &str,
        after_version: i64,
        up_to_version: i64,
    ) -> Result<Option<Vec<String>>> {
        let rows: Vec<(i64, String)> = with_pool!(&self.pool, pool => {
            sqlx::query_as(
                "SELECT version, user_id FROM directory_round_changes \
                 WHERE tenant_id = $1 AND version > $2 AND version <= $3",
            )
            .bind(tenant_id)
            .bind(after_version)
            .bind(up_to_version)
            .fetch_all(pool)
            .await?
        });
        let mut versions = std::collections::HashSet::new();
        let mut changed = std::collections::BTreeSet::new();
        for (version, user_id) in rows {
            if user_id == ROUND_READ_IN_FULL {
                return Ok(None);
            }
            versions.insert(version);
            if user_id != ROUND_CHANGED_NOBODY {
                changed.insert(user_id);
            }
        }
        if versions.len() as i64 != up_to_version - after_version {
            return Ok(None);
        }
        Ok(Some(changed.into_iter().collect()))
    }

    /// Commits a round: the users it changed and the new delta link, only if
    /// the scope is still at `expected_version` (None = not yet stored).
    /// `follows` is, for a pre-filtered scope, the whole-directory version it
    /// now follows; `None` marks the whole directory, whose round is logged
    /// for the scopes that follow it. Returns the new version.
    #[allow(clippy::too_many_arguments)]
    pub async fn commit_round(
        &self,
        tenant_id: &str,
        scope_key: &str,
        prefilter: &str,
        expected_version: Option<i64>,
        delta_link: &str,
        change: ScopeChange<'_>,
        follows: Option<i64>,
    ) -> Result<i64> {
        let (replace_all, upserts, removals): (bool, &[SourceUser], &[String]) = match change {
            ScopeChange::Replace(users) => (true, users, &[]),
            ScopeChange::Apply { upserts, removals } => (false, upserts, removals),
        };
        let mut encoded = Vec::with_capacity(upserts.len());
        for user in upserts {
            encoded.push((user.id.clone(), encode_user(user)?));
        }
        let now = now_secs();
        let new_version = expected_version.map_or(1, |version| version + 1);
        let mut logged: Vec<&str> = Vec::new();
        if follows.is_none() {
            if replace_all {
                logged.push(ROUND_READ_IN_FULL);
            } else {
                logged.extend(upserts.iter().map(|user| user.id.as_str()));
                logged.extend(removals.iter().map(String::as_str));
                if logged.is_empty() {
                    logged.push(ROUND_CHANGED_NOBODY);
                }
            }
        }
        with_pool!(&self.pool, pool => {
            let mut transaction = pool.begin().await?;
            let claimed = match expected_version {
                None => sqlx::query(
                    "INSERT INTO read_scopes (tenant_id, scope_key, prefilter, delta_link, version, updated_at, base_version) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (tenant_id, scope_key) DO NOTHING",
                )
                .bind(tenant_id)
                .bind(scope_key)
                .bind(prefilter)
                .bind(delta_link)
                .bind(new_version)
                .bind(now)
                .bind(follows)
                .execute(&mut *transaction)
                .await?
                .rows_affected(),
                Some(version) => sqlx::query(
                    "UPDATE read_scopes SET delta_link = $1, version = $2, updated_at = $3, base_version = $4 \
                     WHERE tenant_id = $5 AND scope_key = $6 AND version = $7",
                )
                .bind(delta_link)
                .bind(new_version)
                .bind(now)
                .bind(follows)
                .bind(tenant_id)
                .bind(scope_key)
                .bind(version)
                .execute(&mut *transaction)
                .await?
                .rows_affected(),
            };
            for user_id in &logged {
                sqlx::query(
                    "INSERT INTO directory_round_changes (tenant_id, version, user_id) VALUES ($1, $2, $3) \
                     ON CONFLICT (tenant_id, version, user_id) DO NOTHING",
                )
                .bind(tenant_id)
                .bind(new_version)
                .bind(*user_id)
                .execute(&mut *transaction)
                .await?;
            }
            if !logged.is_empty() {
                sqlx::query("DELETE FROM directory_round_changes WHERE tenant_id = $1 AND version <= $2")
                    .bind(tenant_id)
                    .bind(new_version - ROUND_LOG_KEPT)
                    .execute(&mut *transaction)
                    .await?;
            }
            if claimed != 1 {
                return Err(Error::Conflict { tenant_id: tenant_id.to_owned() });
            }
            if replace_all {
                sqlx::query("DELETE FROM scope_users WHERE tenant_id = $1 AND scope_key = $2")
                    .bind(tenant_id)
                    .bind(scope_key)
                    .execute(&mut *transaction)
                    .await?;
            }
            for removed_id in removals {
                sqlx::query("DELETE FROM scope_users WHERE tenant_id = $1 AND scope_key = $2 AND user_id = $3")
                    .bind(tenant_id)
                    .bind(scope_key)
                    .bind(removed_id)
                    .execute(&mut *transaction)
                    .await?;
            }
            for chunk in encoded.chunks(INSERT_CHUNK) {
                let mut builder = builder_for(pool, "INSERT INTO scope_users (tenant_id, scope_key, user_id, data) ");
                builder.push_values(chunk, |mut row, (user_id, data)| {
                    row.push_bind(tenant_id)
                        .push_bind(scope_key)
                        .push_bind(user_id.as_str())
                        .push_bind(data.as_str());
                });
                builder.push(" ON CONFLICT (tenant_id, scope_key, user_id) DO UPDATE SET data = excluded.data");
                builder.build().execute(&mut *transaction).await?;
            }
            transaction.commit().await?;
        });
        Ok(new_version)
    }

    /// Rewrites users of a scope in place, e.g. with the mailbox purpose read
    /// after their round committed; the scope's version and delta link stay.
    pub async fn update_scope_users(
        &self,
        tenant_id: &str,
        scope_key: &str,
        users: &[SourceUser],
    ) -> Result<()> {
        if users.is_empty() {
            return Ok(());
        }
        let mut encoded = Vec::with_capacity(users.len());
        for user in users {
            encoded.push((user.id.clone(), encode_user(user)?));
        }
        with_pool!(&self.pool, pool => {
            let mut transaction = pool.begin().await?;
            for (user_id, data) in &encoded {
                sqlx::query("UPDATE scope_users SET data = $1 WHERE tenant_id = $2 AND scope_key = $3 AND user_id = $4")
                    .bind(data.as_str())
                    .bind(tenant_id)
                    .bind(scope_key)
                    .bind(user_id.as_str())
                    .execute(&mut *transaction)
                    .await?;
            }
            transaction.commit().await?;
        });
        Ok(())
    }
}
