//! The master key at start, and what to do when it is lost.
//!
//! The store keeps a canary: a known value sealed under the master key. At
//! every start the key must open it, so a wrong key is refused before it
//! seals anything. A missing key file is generated only when the store holds
//! nothing sealed; otherwise the broker refuses to start (exit 2) and names
//! the two ways out: restore `master.key` from backup, or
//! `galsync reset-credentials`, which deletes every sealed secret (tenants
//! and apps stay) so the credentials can be enrolled again.

use std::path::Path;

use galsync_platform::with_pool;
use galsync_platform::ConfigError;

use crate::config::Config;
use crate::seal::{MasterKey, SealError};
use crate::store::{AuditRow, BrokerStore, StoreResult};

const CANARY_CONTEXT: &str = "master-key-check";
const CANARY_PLAINTEXT: &[u8] = b"galsync master key check";

/// The command that re-enrols credentials, as the refusal names it.
pub const RESET_COMMAND: &str = "galsync reset-credentials";

/// Sealed values in the store, by kind.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SealedInventory {
    pub certificate_keys: i64,
    pub client_secrets: i64,
}

impl SealedInventory {
    pub fn total(&self) -> i64 {
        self.certificate_keys + self.client_secrets
    }

    /// E.g. `2 certificate keys, 1 client secrets`.
    pub fn describe(&self) -> String {
        format!(
            "{} certificate keys, {} client secrets",
            self.certificate_keys, self.client_secrets
        )
    }
}

/// Counts what is sealed in the store.
pub async fn inventory(store: &BrokerStore) -> StoreResult<SealedInventory> {
    let counts: (i64, i64) = with_pool!(store.pool(), pool => {
        sqlx::query_as(
            "SELECT (SELECT COUNT(*) FROM certificates), \
                    (SELECT COUNT(*) FROM apps WHERE sealed_client_secret IS NOT NULL)",
        )
        .fetch_one(pool)
        .await?
    });
    Ok(SealedInventory {
        certificate_keys: counts.0,
        client_secrets: counts.1,
    })
}

async fn stored_canary(store: &BrokerStore) -> StoreResult<Option<String>> {
    let row: Option<(String,)> = with_pool!(store.pool(), pool => {
        sqlx::query_as("SELECT sealed_canary FROM master_key_check WHERE id = 1")
            .fetch_optional(pool)
            .await?
    });
    Ok(row.map(|(sealed,)| sealed))
}

async fn store_canary(store: &BrokerStore, key: &MasterKey) -> StoreResult<()> {
    let sealed = key.seal(CANARY_CONTEXT, CANARY_PLAINTEXT);
    let now = chrono::Utc::now().timestamp_millis();
    with_pool!(store.pool(), pool => {
        sqlx::query(
            "INSERT INTO master_key_check (id, sealed_canary, created_at) VALUES (1, $1, $2) \
             ON CONFLICT (id) DO NOTHING",
        )
        .bind(&sealed)
        .bind(now)
        .execute(pool)
        .await?;
    });
    Ok(())
}

/// One sealed certificate key with its context, for stores sealed before the
/// canary existed.
async fn one_sealed_certificate_key(store: &BrokerStore) -> StoreResult<Option<(String, String)>> {
    let row: Option<(String, String)> = with_pool!(store.pool(), pool => {
        sqlx::query_as("SELECT certificate_id, sealed_private_key FROM certificates LIMIT 1")
            .fetch_optional(pool)
            .await?
    });
    Ok(row.map(|(certificate_id, sealed)| {
        (crate::tokens::certificate_context(&certificate_id), sealed)
    }))
}

fn store_error(error: sqlx::Error) -> ConfigError {
    ConfigError::new(
        "store-url",
        format!("cannot check the master key against the store: {error}"),
    )
}

/// Loads the master key and proves it opens what the store holds; generates
/// it (mode 0600) only when it is the default file and nothing is sealed yet.
pub async fn open_master_key(
    config: &Config,
    store: &BrokerStore,
) -> Result<MasterKey, ConfigError> {
    let path = config.master_key_path();
    let sealed = inventory(store).await.map_err(store_error)?;
    let canary = stored_canary(store).await.map_err(store_error)?;
    let store_has_sealed_data = sealed.total() > 0 || canary.is_some();
    if !path.exists() && store_has_sealed_data {
        return Err(ConfigError::new(
            "master-key-file",
            format!(
                "{} is missing but the store holds secrets sealed under a master key ({}); \
                 restore master.key from backup, or re-enrol credentials with `{RESET_COMMAND}` \
                 (deletes every sealed secret; tenants and apps stay)",
                path.display(),
                sealed.describe()
            ),
        ));
    }
    // A key file named by flag must exist; the default one is made on first start.
    let create_key = config.master_key_file.is_none();
    let key = MasterKey::load_or_create(&path, create_key).map_err(SealError::into_flag_error)?;
    warn_if_readable_by_others(&path);
    let opens = match (
        &canary,
        one_sealed_certificate_key(store)
            .await
            .map_err(store_error)?,
    ) {
        (Some(sealed_canary), _) => key.open(CANARY_CONTEXT, sealed_canary).is_ok(),
        (None, Some((context, sealed_private_key))) => {
            key.open(&context, &sealed_private_key).is_ok()
        }
        (None, None) => true,
    };
    if !opens {
        return Err(ConfigError::new(
            "master-key-file",
            format!(
                "{} is not the key the store's secrets are sealed under ({}); \
                 restore the right master.key from backup, or re-enrol credentials with \
                 `{RESET_COMMAND}` (deletes every sealed secret; tenants and apps stay)",
                path.display(),
                sealed.describe()
            ),
        ));
    }
    if canary.is_none() {
        store_canary(store, &key).await.map_err(store_error)?;
    }
    Ok(key)
}

/// Whether `path` may be read by other users (group or others bits set).
pub fn readable_by_others(path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(metadata) = std::fs::metadata(path) {
            return metadata.permissions().mode() & 0o077 != 0;
        }
    }
    let _ = path;
    false
}

fn warn_if_readable_by_others(path: &Path) {
    if readable_by_others(path) {
        tracing::warn!(
            path = %path.display(),
            "the master key file is readable by other users; restrict it with chmod 600"
        );
    }
}

/// Deletes every sealed secret (certificates with their keys, client
/// secrets) and the canary, keeping tenants,
/// apps, consent outcomes and the audit log; audits the reset. Returns what
/// was deleted. The next start seals a new canary under whatever key it has.
pub async fn reset_credentials(store: &BrokerStore) -> StoreResult<SealedInventory> {
    let deleted = inventory(store).await?;
    with_pool!(store.pool(), pool => {
        let mut transaction = pool.begin().await?;
        sqlx::query("DELETE FROM certificates").execute(&mut *transaction).await?;
        sqlx::query("UPDATE apps SET sealed_client_secret = NULL, client_secret_expires_at = NULL")
            .execute(&mut *transaction)
            .await?;
        sqlx::query("DELETE FROM master_key_check").execute(&mut *transaction).await?;
        transaction.commit().await?;
    });
    store
        .insert_audit(&AuditRow {
            id: 0,
            at: chrono::Utc::now().timestamp_millis(),
            kind: "credentials.reset".to_owned(),
            caller: RESET_COMMAND.to_owned(),
            tenant_id: String::new(),
            purpose: String::new(),
            detail: format!("deleted {}", deleted.describe()),
            token_expires_at: None,
        })
        .await?;
    Ok(deleted)
}
