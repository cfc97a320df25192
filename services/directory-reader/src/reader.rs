//! Reading a tenant's directory at Graph's cost floor: a full read
//! (`/users?$select=…&$top=999`, nextLinks verbatim) the first time, then one
//! `/users/delta` round per snapshot from the stored delta link. The reader
//! keeps every user of the read scope (tenant + OData pre-filter), so a delta
//! round still yields the whole directory. Changing the rest of the source
//! filter needs no re-read: it is applied to the users kept here.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use galsync_graph::{GraphClient, GraphError, RequestStats};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use tokio::sync::Mutex;
use tracing::{info, warn};

use crate::error::{Error, Result};
use crate::graph_access::GraphAccess;
use crate::source::{GraphUser, SourceUser, MANAGER_EXPAND, READ_SELECT};
use crate::store::{ScopeChange, Store};

/// Largest `id in (…)` list sent when re-checking changed users against a pre-filter.
const PREFILTER_RECHECK_IDS: usize = 15;

/// Users of one read scope after a committed round.
#[derive(Debug, Clone)]
pub struct ScopeState {
    pub version: i64,
    pub delta_link: String,
    pub users: Arc<HashMap<String, SourceUser>>,
}

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

#[derive(Deserialize)]
struct IdOnly {
    id: String,
}

impl DirectoryReads {
    pub fn new(store: Store, graph: Arc<GraphAccess>) -> Self {
        Self {
            store,
            graph,
            cache: Mutex::new(HashMap::new()),
            round_locks: Mutex::new(HashMap::new()),
        }
    }

    pub fn graph(&self) -> &Arc<GraphAccess> {
        &self.graph
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
        let key = (tenant_id.to_owned(), scope_key(prefilter));
        let round_lock = {
            let mut locks = self.round_locks.lock().await;
            locks.entry(key.clone()).or_default().clone()
        };
        let _round = round_lock.lock().await;
        let client = self
            .graph
            .client(tenant_id)
            .await?
            .with_stats(stats.clone());
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
        match client.delta::<GraphUser>(&current.delta_link).await {
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
        let mut by_id = HashMap::with_capacity(users.len());
        for user in users {
            by_id.insert(user.id.clone(), user);
        }
        Ok(ScopeState {
            version,
            delta_link: delta_link.to_owned(),
            users: Arc::new(by_id),
        })
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
        // The delta position is taken before the read, so a change made while
        // the pages are read comes again in the next round (upserts are idempotent).
        let latest_url = format!(
            "/users/delta?$deltatoken=latest&$select={READ_SELECT}&$expand={MANAGER_EXPAND}"
        );
        let latest = client
            .delta::<GraphUser>(&latest_url)
            .await
            .map_err(|error| Error::graph(tenant_id, error))?;
        let graph_users = read_all_users(client, prefilter)
            .await
            .map_err(|error| Error::graph(tenant_id, error))?;
        let mut users = Vec::with_capacity(graph_users.len());
        for graph_user in graph_users {
            users.push(SourceUser::from_graph(graph_user, None));
        }
        crate::purpose::carry_over(&self.store, key, &mut users).await?;
        let version = self
            .store
            .commit_round(
                tenant_id,
                &key.1,
                prefilter,
                expected_version,
                &latest.delta_link,
                ScopeChange::Replace(&users),
            )
            .await?;
        info!(tenant_id, users = users.len(), "read the directory in full");
        let mut by_id = HashMap::with_capacity(users.len());
        for user in users {
            by_id.insert(user.id.clone(), user);
        }
        let state = ScopeState {
            version,
            delta_link: latest.delta_link,
            users: Arc::new(by_id),
        };
        let state = crate::purpose::complete(client, &self.store, key, state).await?;
        self.remember(key, &state).await;
        Ok(state)
    }

    async fn commit_delta(
        &self,
        client: &GraphClient,
        key: &ScopeKey,
        prefilter: &str,
        current: ScopeState,
        items: Vec<GraphUser>,
        delta_link: &str,
    ) -> Result<ScopeState> {
        let tenant_id = key.0.as_str();
        let mut removals: Vec<String> = Vec::new();
        let mut upserts: Vec<SourceUser> = Vec::new();
        for item in items {
            if item.removed.is_some() {
                if current.users.contains_key(&item.id) {
                    removals.push(item.id);
                }
                continue;
            }
            let previous = current.users.get(&item.id);
            upserts.push(SourceUser::from_graph(item, previous));
        }
        if !prefilter.is_empty() && !upserts.is_empty() {
            let changed_ids: Vec<String> = upserts.iter().map(|user| user.id.clone()).collect();
            let in_scope = ids_matching_prefilter(client, prefilter, &changed_ids)
                .await
                .map_err(|error| Error::graph(tenant_id, error))?;
            let mut kept = Vec::with_capacity(upserts.len());
            for user in upserts {
                if in_scope.contains(&user.id) {
                    kept.push(user);
                } else if current.users.contains_key(&user.id) {
                    removals.push(user.id);
                }
            }
            upserts = kept;
        }
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
            )
            .await?;
        let users = if upserts.is_empty() && removals.is_empty() {
            current.users
        } else {
            let mut users = (*current.users).clone();
            for removed_id in &removals {
                users.remove(removed_id);
            }
            for user in upserts.iter() {
                users.insert(user.id.clone(), user.clone());
            }
            Arc::new(users)
        };
        info!(
            tenant_id,
            changed = upserts.len(),
            removed = removals.len(),
            "applied a delta round"
        );
        let state = ScopeState {
            version,
            delta_link: delta_link.to_owned(),
            users,
        };
        // Upserts come without a mailbox purpose: exactly the new and changed
        // users (and any a failed attempt left unread) are read again.
        let state = crate::purpose::complete(client, &self.store, key, state).await?;
        self.remember(key, &state).await;
        Ok(state)
    }
}

/// `/users` with exactly the mapped fields, 999 per page, the pre-filter as `$filter`.
async fn read_all_users(
    client: &GraphClient,
    prefilter: &str,
) -> Result<Vec<GraphUser>, GraphError> {
    let mut url = format!("/users?$select={READ_SELECT}&$expand={MANAGER_EXPAND}&$top=999");
    if prefilter.is_empty() {
        return client.get_all_pages(&url).await;
    }
    // Most useful properties (companyName, officeLocation, …) filter only as
    // advanced queries: ConsistencyLevel eventual with $count.
    url.push_str("&$count=true&$filter=");
    url.push_str(&encode_query_value(prefilter));
    client
        .with_header("ConsistencyLevel", "eventual")
        .get_all_pages(&url)
        .await
}

/// Which of `ids` the pre-filter keeps, in `id in (…)` queries of 15 ids.
async fn ids_matching_prefilter(
    client: &GraphClient,
    prefilter: &str,
    ids: &[String],
) -> Result<HashSet<String>, GraphError> {
    let advanced = client.with_header("ConsistencyLevel", "eventual");
    let mut matching = HashSet::new();
    for chunk in ids.chunks(PREFILTER_RECHECK_IDS) {
        let quoted: Vec<String> = chunk
            .iter()
            .map(|id| format!("'{}'", id.replace('\'', "''")))
            .collect();
        let filter = format!("({prefilter}) and id in ({})", quoted.join(","));
        let url = format!(
            "/users?$select=id&$count=true&$top=999&$filter={}",
            encode_query_value(&filter)
        );
        let found: Vec<IdOnly> = advanced.get_all_pages(&url).await?;
        for user in found {
            matching.insert(user.id);
        }
    }
    Ok(matching)
}
