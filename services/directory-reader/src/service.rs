//! The reader's domain: snapshots, filter explanations, target lists and
//! photos, on top of the directory reads.

use std::collections::HashMap;
use std::sync::Arc;

use galsync_graph::RequestStats;
use galsync_proto::v1;
use prost::Message;

use crate::error::{Error, Result};
use crate::filter::{CompiledFilter, GroupMembers};
use crate::reader::{DirectoryReads, ReadMode, ScopeState};
use crate::snapshot;
use crate::snapshot_cache::{FilterResult, SnapshotCache};
use crate::store::{SnapshotRow, Store};

/// Service-wide settings from the configuration.
#[derive(Debug, Clone)]
pub struct ReaderSettings {
    pub snapshot_retention: u32,
    pub fetch_photos: bool,
    pub max_graph_concurrency: usize,
    /// How old a round of the whole directory may be for a target list to
    /// reuse it instead of reading Graph again.
    pub target_round_reuse: std::time::Duration,
}

/// A validated snapshot request.
#[derive(Debug, Clone)]
pub struct SnapshotRequest {
    pub tenant_id: String,
    pub filter: CompiledFilter,
    pub force_full_read: bool,
    pub include_photos: bool,
}

#[derive(Debug)]
pub struct Reader {
    pub(crate) store: Store,
    pub(crate) reads: DirectoryReads,
    pub(crate) settings: ReaderSettings,
    metrics: ReaderMetrics,
    /// The last snapshot of each filter, reused while its input is the same.
    last_snapshots: SnapshotCache,
}

/// The reader's Prometheus metrics (served on `--metrics-listen`).
#[derive(Debug)]
struct ReaderMetrics {
    registry: galsync_platform::metrics::Metrics,
    snapshots_full: Arc<std::sync::atomic::AtomicI64>,
    snapshots_delta: Arc<std::sync::atomic::AtomicI64>,
    snapshots_reused: Arc<std::sync::atomic::AtomicI64>,
}

impl ReaderMetrics {
    fn new() -> Self {
        const HELP: &str = "directory snapshots taken, by how the directory was read (full: every user; delta: changes since the last round)";
        let registry = galsync_platform::metrics::Metrics::default();
        registry.add_renderer(galsync_graph::traffic::render_prometheus);
        Self {
            snapshots_full: registry.counter("galsync_reader_snapshots_total{mode=\"full\"}", HELP),
            snapshots_delta: registry
                .counter("galsync_reader_snapshots_total{mode=\"delta\"}", HELP),
            snapshots_reused: registry.counter(
                "galsync_reader_snapshots_reused_total",
                "snapshots taken of a directory, filter, group members and photos unchanged since the last snapshot of the filter, whose stored snapshot was reused without filtering, normalising or hashing the users again",
            ),
            registry,
        }
    }
}

/// A directory round filtered: the users kept and the counts, and what
/// they were worked out from.
struct Filtered {
    state: ScopeState,
    mode: ReadMode,
    groups: GroupMembers,
    result: FilterResult,
}

pub fn validate_tenant_id(tenant_id: &str) -> Result<String> {
    let trimmed = tenant_id.trim();
    let well_formed = !trimmed.is_empty()
        && trimmed.len() <= 253
        && trimmed
            .chars()
            .all(|character| character.is_ascii_alphanumeric() || matches!(character, '-' | '.'));
    if !well_formed {
        return Err(Error::invalid(
            "tenant_id",
            format!("{tenant_id:?} is not a tenant id"),
        ));
    }
    Ok(trimmed.to_ascii_lowercase())
}

fn timestamp(unix_seconds: i64) -> prost_types::Timestamp {
    prost_types::Timestamp {
        seconds: unix_seconds,
        nanos: 0,
    }
}

impl Reader {
    pub fn new(store: Store, reads: DirectoryReads, settings: ReaderSettings) -> Self {
        Self {
            store,
            reads,
            settings,
            metrics: ReaderMetrics::new(),
            last_snapshots: SnapshotCache::default(),
        }
    }

    /// The Prometheus metrics of this reader (Graph traffic included).
    pub fn metrics(&self) -> &galsync_platform::metrics::Metrics {
        &self.metrics.registry
    }

    /// One directory round, group memberships, and the filter applied off the runtime.
    async fn read_filtered(
        &self,
        tenant_id: &str,
        filter: &CompiledFilter,
        force_full_read: bool,
        stats: &Arc<RequestStats>,
    ) -> Result<Filtered> {
        let (state, mode) = self
            .reads
            .read(tenant_id, &filter.odata_prefilter, force_full_read, stats)
            .await?;
        let client = self
            .reads
            .graph()
            .client(tenant_id)
            .await?
            .with_stats(stats.clone());
        let concurrency = self.settings.max_graph_concurrency;
        let mut groups = GroupMembers::default();
        if !filter.include_group_ids.is_empty() {
            let members = crate::groups::union_of_members(
                &client,
                tenant_id,
                &filter.include_group_ids,
                concurrency,
            )
            .await?;
            groups.included = Some(members);
        }
        if !filter.exclude_group_ids.is_empty() {
            groups.excluded = crate::groups::union_of_members(
                &client,
                tenant_id,
                &filter.exclude_group_ids,
                concurrency,
            )
            .await?;
        }
        if let Some(result) =
            self.last_snapshots
                .filtered(tenant_id, filter, state.users_generation, &groups)
        {
            return Ok(Filtered {
                state,
                mode,
                groups,
                result,
            });
        }
        let users = state.users.clone();
        let owned_filter = filter.clone();
        let owned_groups = groups.clone();
        let (kept_ids, counts) = tokio::task::spawn_blocking(move || {
            let (kept, counts) = owned_filter.apply(users.values(), &owned_groups);
            let kept_ids: Vec<String> = kept.into_iter().map(|user| user.id.clone()).collect();
            (kept_ids, counts)
        })
        .await?;
        let result = FilterResult {
            kept_ids: Arc::new(kept_ids),
            counts,
        };
        self.last_snapshots.remember_filtered(
            tenant_id,
            filter,
            state.users_generation,
            &groups,
            &result,
        );
        Ok(Filtered {
            state,
            mode,
            groups,
            result,
        })
    }

    /// The snapshot last built from exactly this input, when the store still
    /// holds it: it is taken again (its `last_taken_at` and read statistics
    /// updated) without building it anew.
    async fn reuse_snapshot(
        &self,
        tenant_id: &str,
        filter: &CompiledFilter,
        filtered: &Filtered,
        photo_hashes: &HashMap<String, String>,
        read_stats: &v1::ReadStats,
    ) -> Result<Option<String>> {
        let Some(snapshot_id) = self.last_snapshots.built(
            tenant_id,
            filter,
            filtered.state.users_generation,
            &filtered.groups,
            photo_hashes,
        ) else {
            return Ok(None);
        };
        if !self
            .store
            .retake_snapshot(&snapshot_id, &read_stats.encode_to_vec())
            .await?
        {
            // Retention removed it: it is built again.
            self.last_snapshots.forget_built(tenant_id, &snapshot_id);
            return Ok(None);
        }
        self.metrics
            .snapshots_reused
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(Some(snapshot_id))
    }

    pub async fn take_snapshot(&self, request: SnapshotRequest) -> Result<v1::Snapshot> {
        let tenant_id = request.tenant_id.as_str();
        let stats = Arc::new(RequestStats::new());
        let filtered = self
            .read_filtered(tenant_id, &request.filter, request.force_full_read, &stats)
            .await?;
        let kept_ids = filtered.result.kept_ids.clone();
        let mut photo_hashes = HashMap::new();
        let mut photos_fetched = 0;
        if request.include_photos && self.settings.fetch_photos {
            let client = self
                .reads
                .graph()
                .client(tenant_id)
                .await?
                .with_stats(stats.clone());
            let refresh = crate::photos::refresh(
                &client,
                &self.store,
                tenant_id,
                &kept_ids,
                self.settings.max_graph_concurrency,
            )
            .await?;
            photo_hashes = refresh.hashes;
            photos_fetched = refresh.fetched;
        }
        let counts = &filtered.result.counts;
        let dropped: u64 = counts.rules.iter().map(|(_, count)| count).sum();
        let read_stats = v1::ReadStats {
            mode: filtered.mode.as_str().to_owned(),
            graph_requests: stats.requests(),
            retries: stats.retries(),
            users_read: counts.users_read,
            users_dropped_by_filter: dropped,
            photos_fetched,
        };
        let reused = self
            .reuse_snapshot(
                tenant_id,
                &request.filter,
                &filtered,
                &photo_hashes,
                &read_stats,
            )
            .await?;
        let was_reused = reused.is_some();
        let snapshot_id = match reused {
            Some(snapshot_id) => snapshot_id,
            None => {
                self.build_and_save(
                    tenant_id,
                    &request.filter,
                    &filtered,
                    photo_hashes,
                    &read_stats,
                )
                .await?
            }
        };
        let taken = match filtered.mode {
            crate::reader::ReadMode::Full => &self.metrics.snapshots_full,
            crate::reader::ReadMode::Delta => &self.metrics.snapshots_delta,
        };
        taken.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let pruned = self
            .store
            .prune_snapshots(tenant_id, self.settings.snapshot_retention)
            .await?;
        tracing::info!(
            tenant_id,
            %snapshot_id,
            entries = kept_ids.len(),
            mode = filtered.mode.as_str(),
            graph_requests = read_stats.graph_requests,
            reused = was_reused,
            pruned,
            "took a snapshot"
        );
        let mut summary = self.get_snapshot(&snapshot_id).await?;
        summary.read_stats = Some(read_stats);
        Ok(summary)
    }

    /// Normalises, hashes and stores the users the filter kept (off the
    /// runtime), and remembers the snapshot for the next one; its id.
    async fn build_and_save(
        &self,
        tenant_id: &str,
        filter: &CompiledFilter,
        filtered: &Filtered,
        photo_hashes: HashMap<String, String>,
        read_stats: &v1::ReadStats,
    ) -> Result<String> {
        let users = filtered.state.users.clone();
        let kept_ids = filtered.result.kept_ids.clone();
        let photo_hashes = Arc::new(photo_hashes);
        let hashes = photo_hashes.clone();
        let built = tokio::task::spawn_blocking(move || {
            let mut entries = Vec::with_capacity(kept_ids.len());
            for user_id in kept_ids.iter() {
                if let Some(user) = users.get(user_id) {
                    let photo_hash = hashes.get(user_id).map(String::as_str);
                    entries.push(snapshot::normalise(user, &users, photo_hash));
                }
            }
            snapshot::build(entries)
        })
        .await?;
        let row = SnapshotRow {
            snapshot_id: built.snapshot_id.clone(),
            tenant_id: tenant_id.to_owned(),
            entry_count: built.entry_count as i64,
            created_at: chrono::Utc::now().timestamp(),
            read_stats: read_stats.encode_to_vec(),
        };
        self.store.save_snapshot(&row, &built.blob).await?;
        self.last_snapshots.remember_built(
            tenant_id,
            filter,
            filtered.state.users_generation,
            &filtered.groups,
            &filtered.result,
            photo_hashes,
            &built.snapshot_id,
        );
        Ok(built.snapshot_id)
    }

    pub async fn explain_filter(
        &self,
        tenant_id: &str,
        filter: &CompiledFilter,
    ) -> Result<v1::FilterExplanation> {
        let stats = Arc::new(RequestStats::new());
        let filtered = self.read_filtered(tenant_id, filter, false, &stats).await?;
        let counts = filtered.result.counts;
        let mut rules = Vec::with_capacity(counts.rules.len());
        for (rule, dropped) in counts.rules {
            rules.push(v1::FilterRuleCount { rule, dropped });
        }
        Ok(v1::FilterExplanation {
            users_read: counts.users_read,
            users_kept: counts.users_kept,
            rules,
        })
    }

    pub async fn get_snapshot(&self, snapshot_id: &str) -> Result<v1::Snapshot> {
        let Some(row) = self.store.snapshot(snapshot_id).await? else {
            return Err(snapshot_not_found(snapshot_id));
        };
        let read_stats = v1::ReadStats::decode(row.read_stats.as_slice()).ok();
        Ok(v1::Snapshot {
            snapshot_id: row.snapshot_id,
            tenant_id: row.tenant_id,
            entry_count: row.entry_count.max(0) as u64,
            created_at: Some(timestamp(row.created_at)),
            read_stats,
        })
    }

    /// A snapshot's entries in id order (decoded off the runtime).
    pub async fn snapshot_entries(&self, snapshot_id: &str) -> Result<Vec<v1::DirectoryEntry>> {
        let Some(blob) = self.store.snapshot_entries(snapshot_id).await? else {
            return Err(snapshot_not_found(snapshot_id));
        };
        tokio::task::spawn_blocking(move || snapshot::decode(&blob)).await?
    }

    pub async fn diff(
        &self,
        from_snapshot_id: &str,
        to_snapshot_id: &str,
    ) -> Result<v1::SnapshotDiff> {
        let from = self.snapshot_entries(from_snapshot_id).await?;
        let to = self.snapshot_entries(to_snapshot_id).await?;
        Ok(tokio::task::spawn_blocking(move || snapshot::diff(&from, &to)).await?)
    }

    pub async fn photo(&self, photo_hash: &str) -> Result<v1::Photo> {
        let Some(photo) = self.store.photo(photo_hash).await? else {
            return Err(Error::NotFound(format!("no photo with hash {photo_hash}")));
        };
        Ok(v1::Photo {
            photo_hash: photo_hash.to_owned(),
            content_type: photo.content_type,
            data: photo.data,
        })
    }
}

fn snapshot_not_found(snapshot_id: &str) -> Error {
    Error::NotFound(format!(
        "snapshot {snapshot_id} does not exist or retention removed it"
    ))
}
