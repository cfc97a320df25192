//! Scopes with an OData pre-filter follow the whole directory's rounds.
//!
//! Graph cannot filter `/users/delta` (delta-query-overview: `$filter` on
//! delta takes object ids only), so a pre-filtered scope's own delta round
//! would be a whole-directory round anyway, and a run that also needs the
//! whole directory (its target list) would pay two. Instead the whole
//! directory does the one round, logs which users it changed or removed, and
//! a pre-filtered scope re-checks only those against its filter with
//! `/users?$filter=(<pre-filter>) and id in (…)`. A scope that cannot follow
//! the log (new, a full read in between, the log pruned) reads its users in
//! full with `/users?$filter=<pre-filter>`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use galsync_graph::{GraphClient, GraphError, RequestStats};
use tracing::info;

use super::{encode_query_value, scope_key, DirectoryReads, ReadMode};
use crate::error::{Error, Result};
use crate::scope::{self, by_id, ScopeState};
use crate::source::{GraphUser, SourceUser, MANAGER_EXPAND, READ_SELECT};
use crate::store::ScopeChange;

/// Largest `id in (…)` list sent when re-checking changed users against a pre-filter.
const PREFILTER_RECHECK_IDS: usize = 15;

impl DirectoryReads {
    /// The pre-filtered scope after the whole directory's round of this
    /// read: one delta request in all, none of its own.
    pub(super) async fn read_followed(
        &self,
        tenant_id: &str,
        prefilter: &str,
        force_full_read: bool,
        stats: &Arc<RequestStats>,
    ) -> Result<(ScopeState, ReadMode)> {
        let (whole, _) = Box::pin(self.read(tenant_id, "", force_full_read, stats)).await?;
        let key = (tenant_id.to_owned(), scope_key(prefilter));
        let (_round, client) = self.begin_round(&key, stats).await?;
        let stored = self.store.scope(&key.0, &key.1).await?;
        let followed = match &stored {
            Some(row) if !force_full_read => match row.base_version {
                Some(base) if base == whole.version => Some(Vec::new()),
                Some(base) if base < whole.version => {
                    self.store
                        .round_changes(tenant_id, base, whole.version)
                        .await?
                }
                _ => None,
            },
            _ => None,
        };
        let (Some(row), Some(changed_ids)) = (stored, followed) else {
            let expected_version = self
                .store
                .scope(&key.0, &key.1)
                .await?
                .map(|row| row.version);
            let state = self
                .read_in_full(&client, &key, prefilter, &whole, expected_version)
                .await?;
            return Ok((state, ReadMode::Full));
        };
        let current = self.current_state(&key, row.version, "").await?;
        if changed_ids.is_empty() && row.base_version == Some(whole.version) {
            let state = ScopeState {
                read_at: Instant::now(),
                ..current
            };
            self.remember(&key, &state).await;
            return Ok((state, ReadMode::Delta));
        }
        let state = self
            .apply_followed(&client, &key, prefilter, &whole, current, &changed_ids)
            .await?;
        Ok((state, ReadMode::Delta))
    }

    /// Every user the pre-filter keeps, from `/users`, now following `whole`.
    async fn read_in_full(
        &self,
        client: &GraphClient,
        key: &(String, String),
        prefilter: &str,
        whole: &ScopeState,
        expected_version: Option<i64>,
    ) -> Result<ScopeState> {
        let tenant_id = key.0.as_str();
        let mut users = read_prefiltered_users(client, prefilter)
            .await
            .map_err(|error| Error::graph(tenant_id, error))?;
        take_purposes(&mut users, whole);
        let version = self
            .store
            .commit_round(
                tenant_id,
                &key.1,
                prefilter,
                expected_version,
                "",
                ScopeChange::Replace(&users),
                Some(whole.version),
            )
            .await?;
        info!(
            tenant_id,
            users = users.len(),
            "read the pre-filtered directory in full"
        );
        let state = ScopeState::read_now(version, String::new(), by_id(users));
        self.completed(client, key, state).await
    }

    /// Re-checks the users the whole directory changed since this scope's
    /// base version: removed ones leave without a Graph call; the others
    /// are read again through the pre-filter (15 ids a request).
    async fn apply_followed(
        &self,
        client: &GraphClient,
        key: &(String, String),
        prefilter: &str,
        whole: &ScopeState,
        current: ScopeState,
        changed_ids: &[String],
    ) -> Result<ScopeState> {
        let tenant_id = key.0.as_str();
        let mut removals = Vec::new();
        let mut recheck = Vec::new();
        for user_id in changed_ids {
            if whole.users.contains_key(user_id) {
                recheck.push(user_id.clone());
            } else if current.users.contains_key(user_id) {
                removals.push(user_id.clone());
            }
        }
        let in_scope = users_matching_prefilter(client, prefilter, &recheck)
            .await
            .map_err(|error| Error::graph(tenant_id, error))?;
        let mut upserts = Vec::with_capacity(in_scope.len());
        for user_id in &recheck {
            match in_scope.get(user_id) {
                Some(user) => upserts.push(user.clone()),
                None if current.users.contains_key(user_id) => removals.push(user_id.clone()),
                None => {}
            }
        }
        take_purposes(&mut upserts, whole);
        let version = self
            .store
            .commit_round(
                tenant_id,
                &key.1,
                prefilter,
                Some(current.version),
                "",
                ScopeChange::Apply {
                    upserts: &upserts,
                    removals: &removals,
                },
                Some(whole.version),
            )
            .await?;
        info!(
            tenant_id,
            rechecked = recheck.len(),
            changed = upserts.len(),
            removed = removals.len(),
            "followed the directory's round through the pre-filter"
        );
        let users = scope::changed(&current.users, &removals, &upserts);
        let state = ScopeState::read_now(version, String::new(), users);
        self.completed(client, key, state).await
    }
}

/// The mailbox purposes the whole directory already read (its round read
/// them for every new and changed user), so they are not read twice.
fn take_purposes(users: &mut [SourceUser], whole: &ScopeState) {
    for user in users.iter_mut() {
        if let Some(known) = whole.users.get(&user.id) {
            user.mailbox_purpose = known.mailbox_purpose;
        }
    }
}

/// Every user the pre-filter keeps, with the manager's name expanded (the
/// manager may be outside the scope). Known issue 13635: with `$expand`
/// Graph pages by at most 100 whatever `$top` says.
async fn read_prefiltered_users(
    client: &GraphClient,
    prefilter: &str,
) -> std::result::Result<Vec<SourceUser>, GraphError> {
    let url = format!(
        "/users?$select={READ_SELECT}&$expand={MANAGER_EXPAND}&$top=999&$count=true&$filter={}",
        encode_query_value(prefilter)
    );
    // Most useful properties (companyName, officeLocation, …) filter only as
    // advanced queries: ConsistencyLevel eventual with $count.
    let graph_users: Vec<GraphUser> = client
        .with_header("ConsistencyLevel", "eventual")
        .get_all_pages(&url)
        .await?;
    let mut users = Vec::with_capacity(graph_users.len());
    for graph_user in graph_users {
        users.push(SourceUser::from_graph(graph_user, None));
    }
    Ok(users)
}

/// Which of `ids` the pre-filter keeps, read whole, in `id in (…)` queries of 15 ids.
async fn users_matching_prefilter(
    client: &GraphClient,
    prefilter: &str,
    ids: &[String],
) -> std::result::Result<HashMap<String, SourceUser>, GraphError> {
    let advanced = client.with_header("ConsistencyLevel", "eventual");
    let mut matching = HashMap::new();
    for chunk in ids.chunks(PREFILTER_RECHECK_IDS) {
        let quoted: Vec<String> = chunk
            .iter()
            .map(|id| format!("'{}'", id.replace('\'', "''")))
            .collect();
        let filter = format!("({prefilter}) and id in ({})", quoted.join(","));
        let url = format!(
            "/users?$select={READ_SELECT}&$expand={MANAGER_EXPAND}&$count=true&$top=999&$filter={}",
            encode_query_value(&filter)
        );
        let found: Vec<GraphUser> = advanced.get_all_pages(&url).await?;
        for graph_user in found {
            let user = SourceUser::from_graph(graph_user, None);
            matching.insert(user.id.clone(), user);
        }
    }
    Ok(matching)
}
