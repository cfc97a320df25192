//! Reading a tenant's directory at Graph's cost floor. The whole directory
//! (no pre-filter) is read the first time through the initial `/users/delta`
//! round with `$select=…,manager`, which pages through every user and ends
//! with the delta link in the same pass; then one `/users/delta` round per
//! snapshot from the stored delta link, its entries merged into the users
//! held (see `merge`). A scope with an OData pre-filter follows those rounds
//! (see `follow`): one delta request serves every scope of a tenant. The
//! reader keeps every user of a read scope (tenant + OData pre-filter).
//! Changing the rest of the source filter needs no re-read: it is applied to
//! the users kept here.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use galsync_graph::{GraphClient, GraphError, RequestStats};
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;
use tracing::{info, warn};

use crate::error::{Error, Result};
use crate::graph_access::GraphAccess;
use crate::merge::{merge_round, DeltaEntry};
pub use crate::scope::ScopeState;
use crate::scope::{self, by_id};
use crate::source::{SourceUser, READ_SELECT};
use crate::store::{ScopeChange, Store};

mod follow;

/// How a round read the directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadMode {
    Full,
    Delta,
}

impl ReadMode {
    pub fn as_str(self) -> &'static str {
        match self {
            ReadMode::Full => "full",
            ReadMode::Delta => "delta",
        }
    }
}

type ScopeKey = (String, String);

/// The read scopes of every tenant, cached in memory over the store.
#[derive(Debug)]
pub struct DirectoryReads {
    store: Store,
    graph: Arc<GraphAccess>,
    /// `$batch` calls of mailbox-purpose reads in flight at once.
    purpose_batches_in_flight: usize,
    cache: Mutex<HashMap<ScopeKey, ScopeState>>,
    round_locks: Mutex<HashMap<ScopeKey, Arc<Mutex<()>>>>,
}

/// The key of a read scope: everything that changes which users Graph returns.
pub fn scope_key(prefilter: &str) -> String {
    let mut hasher = Sha256::new();
    hasher.update(READ_SELECT.as_bytes());
    hasher.update([0]);
    hasher.update(prefilter.as_bytes());
    hex::encode(&hasher.finalize()[..16])
}

fn encode_query_value(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// The `$select` of delta rounds: the read properties and `manager`, which
/// makes Graph send `manager@delta` (the manager's id) — delta refuses
/// `$expand` (delta-query-overview, user-delta).
fn delta_select() -> String {
    format!("{READ_SELECT},manager")
}

impl DirectoryReads {
    pub fn new(store: Store, graph: Arc<GraphAccess>, purpose_batches_in_flight: usize) -> Self {
        Self {
            store,
            graph,
            purpose_batches_in_flight,
            cache: Mutex::new(HashMap::new()),
            round_locks: Mutex::new(HashMap::new()),
        }
    }

    pub fn graph(&self) -> &Arc<GraphAccess> {
        &self.graph
    }

    async fn round_lock(&self, key: &ScopeKey) -> Arc<Mutex<()>> {
        let mut locks = self.round_locks.lock().await;
        locks.entry(key.clone()).or_default().clone()
    }

    /// Starts a round of the scope: its lock (rounds of one scope run one at
    /// a time; hold the guard for the round) and a client counting into `stats`.
    async fn begin_round(
        &self,
        key: &ScopeKey,
        stats: &Arc<RequestStats>,
    ) -> Result<(tokio::sync::OwnedMutexGuard<()>, GraphClient)> {
        let guard = self.round_lock(key).await.lock_owned().await;
        let client = self.graph.client(&key.0).await?.with_stats(stats.clone());
        Ok((guard, client))
    }

    /// The scope as a round of this process left it at most `max_age` ago
    /// (e.g. the snapshot round of the same run), else a new round: a run
    /// that reads the directory twice costs one delta request.
    pub async fn read_recent(
        &self,
        tenant_id: &str,
        prefilter: &str,
        max_age: Duration,
        stats: &Arc<RequestStats>,
    ) -> Result<(ScopeState, ReadMode)> {
        let key = (tenant_id.to_owned(), scope_key(prefilter));
        let round_lock = self.round_lock(&key).await;
        {
            let _round = round_lock.lock().await;
            if let Some(cached) = self.cache.lock().await.get(&key) {
                if cached.read_at.elapsed() <= max_age {
                    return Ok((cached.clone(), ReadMode::Delta));
                }
            }
        }
        self.read(tenant_id, prefilter, false, stats).await
    }

    /// Runs one round for the scope and commits it; a round that fails
    /// commits nothing (the delta link stays where it was).
    pub async fn read(
        &self,
        tenant_id: &str,
        prefilter: &str,
        force_full_read: bool,
        stats: &Arc<RequestStats>,
    ) -> Result<(ScopeState, ReadMode)> {
        if !prefilter.is_empty() {
            return self
                .read_followed(tenant_id, prefilter, force_full_read, stats)
                .await;
        }
        let key = (tenant_id.to_owned(), scope_key(prefilter));
        let (_round, client) = self.begin_round(&key, stats).await?;
        let stored = self.store.scope(&key.0, &key.1).await?;
        let Some(stored) = stored else {
            let state = self.full_round(&client, &key, prefilter, None).await?;
            return Ok((state, ReadMode::Full));
        };
        if force_full_read {
            let state = self
                .full_round(&client, &key, prefilter, Some(stored.version))
                .await?;
            return Ok((state, ReadMode::Full));
        }
        let current = self
            .current_state(&key, stored.version, &stored.delta_link)
            .await?;
        match client
            .with_header("Prefer", DELTA_PAGE_PREFERENCE)
            .delta::<DeltaEntry>(&current.delta_link)
            .await
        {
            Ok(round) => {
                let state = self
                    .commit_delta(
                        &client,
                        &key,
                        prefilter,
                        current,
                        round.items,
                        &round.delta_link,
                    )
                    .await?;
                Ok((state, ReadMode::Delta))
            }
            // delta-query-overview: 410 Gone (its Location starts a fresh
            // round) and an expired token (`syncStateNotFound`, after 7 days)
            // both mean: restart with a full synchronization.
            Err(error) if error.is_resync_required() => {
                warn!(tenant_id, %error, "graph no longer accepts the delta link; reading the directory in full");
                let state = self
                    .full_round(&client, &key, prefilter, Some(stored.version))
                    .await?;
                Ok((state, ReadMode::Full))
            }
            Err(error) => Err(Error::graph(tenant_id, error)),
        }
    }

    /// The cached state when it is the stored version, else the stored users.
    async fn current_state(
        &self,
        key: &ScopeKey,
        version: i64,
        delta_link: &str,
    ) -> Result<ScopeState> {
        if let Some(cached) = self.cache.lock().await.get(key) {
            if cached.version == version {
                return Ok(cached.clone());
            }
        }
        let users = self.store.scope_users(&key.0, &key.1).await?;
        Ok(ScopeState::read_now(
            version,
            delta_link.to_owned(),
            by_id(users),
        ))
    }

    async fn remember(&self, key: &ScopeKey, state: &ScopeState) {
        self.cache.lock().await.insert(key.clone(), state.clone());
    }

    async fn full_round(
        &self,
        client: &GraphClient,
        key: &ScopeKey,
        prefilter: &str,
        expected_version: Option<i64>,
    ) -> Result<ScopeState> {
        let tenant_id = key.0.as_str();
        let (mut users, delta_link) = read_through_initial_round(client)
            .await
            .map_err(|error| Error::graph(tenant_id, error))?;
        crate::purpose::carry_over(&self.store, key, &mut users).await?;
        let version = self
            .store
            .commit_round(
                tenant_id,
                &key.1,
                prefilter,
                expected_version,
                &delta_link,
                ScopeChange::Replace(&users),
                None,
            )
            .await?;
        info!(tenant_id, users = users.len(), "read the directory in full");
        let state = ScopeState::read_now(version, delta_link, by_id(users));
        self.completed(client, key, state).await
    }

    /// The committed `state` with the mailbox purposes it lacks read,
    /// remembered as the scope's current state.
    async fn completed(
        &self,
        client: &GraphClient,
        key: &ScopeKey,
        state: ScopeState,
    ) -> Result<ScopeState> {
        let state = crate::purpose::complete(
            client,
            &self.store,
            key,
            state,
            self.purpose_batches_in_flight,
        )
        .await?;
        self.remember(key, &state).await;
        Ok(state)
    }

    async fn commit_delta(
        &self,
        client: &GraphClient,
        key: &ScopeKey,
        prefilter: &str,
        current: ScopeState,
        entries: Vec<DeltaEntry>,
        delta_link: &str,
    ) -> Result<ScopeState> {
        let tenant_id = key.0.as_str();
        let merged = merge_round(&current.users, &entries)
            .map_err(|error| Error::graph(tenant_id, error))?;
        let removals = merged.removals;
        let upserts = merged.upserts;
        let version = self
            .store
            .commit_round(
                tenant_id,
                &key.1,
                prefilter,
                Some(current.version),
                delta_link,
                ScopeChange::Apply {
                    upserts: &upserts,
                    removals: &removals,
                },
                None,
            )
            .await?;
        let unchanged = upserts.is_empty() && removals.is_empty();
        info!(
            tenant_id,
            entries = entries.len(),
            changed = upserts.len(),
            removed = removals.len(),
            "applied a delta round"
        );
        let state = if unchanged {
            // A round that changed nobody keeps the users' generation, so
            // what was built from them is reused.
            ScopeState {
                version,
                delta_link: delta_link.to_owned(),
                read_at: std::time::Instant::now(),
                ..current
            }
        } else {
            let users = scope::changed(&current.users, &removals, &upserts);
            ScopeState::read_now(version, delta_link.to_owned(), users)
        };
        // Upserts come without a mailbox purpose: exactly the new and changed
        // users (and any a failed attempt left unread) are read again.
        self.completed(client, key, state).await
    }
}

/// Up to 200 users a delta page, the most Graph gives (docs/graph-contract.md):
/// half the round trips of the default 100.
const DELTA_PAGE_PREFERENCE: &str = "odata.maxpagesize=200";

/// The whole directory through the initial delta round: every user with the
/// manager's id, and the delta link, in one pass (repeated users merged).
async fn read_through_initial_round(
    client: &GraphClient,
) -> Result<(Vec<SourceUser>, String), GraphError> {
    let url = format!("/users/delta?$select={}", delta_select());
    let round = client
        .with_header("Prefer", DELTA_PAGE_PREFERENCE)
        .delta::<DeltaEntry>(&url)
        .await?;
    let merged = merge_round(&HashMap::new(), &round.items)?;
    Ok((merged.upserts, round.delta_link))
}
