//! The reader's domain: snapshots, filter explanations, target lists and
//! photos, on top of the directory reads.

use std::collections::HashMap;
use std::sync::Arc;

use galsync_graph::RequestStats;
use galsync_proto::v1;
use prost::Message;

use crate::error::{Error, Result};
use crate::filter::{CompiledFilter, FilterCounts, GroupMembers};
use crate::reader::{DirectoryReads, ReadMode, ScopeState};
use crate::snapshot;
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
}

/// The reader's Prometheus metrics (served on `--metrics-listen`).
#[derive(Debug)]
struct ReaderMetrics {
    registry: galsync_platform::metrics::Metrics,
    snapshots_full: Arc<std::sync::atomic::AtomicI64>,
    snapshots_delta: Arc<std::sync::atomic::AtomicI64>,
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
            registry,
        }
    }
}

/// A directory round filtered: the users kept and the counts.
struct Filtered {
    state: ScopeState,
    mode: ReadMode,
    kept_ids: Vec<String>,
    counts: FilterCounts,
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
        let users = state.users.clone();
        let owned_filter = filter.clone();
        let (kept_ids, counts) = tokio::task::spawn_blocking(move || {
            let (kept, counts) = owned_filter.apply(users.values(), &groups);
            let kept_ids: Vec<String> = kept.into_iter().map(|user| user.id.clone()).collect();
            (kept_ids, counts)
        })
        .await?;
        Ok(Filtered {
            state,
            mode,
            kept_ids,
            counts,
        })
    }

    pub async fn take_snapshot(&self, request: SnapshotRequest) -> Result<v1::Snapshot> {
        let tenant_id = request.tenant_id.as_str();
        let stats = Arc::new(RequestStats::new());
        let filtered = self
            .read_filtered(tenant_id, &request.filter, request.force_full_read, &stats)
            .await?;
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
                &filtered.kept_ids,
                self.settings.max_graph_concurrency,
            )
            .await?;
            photo_hashes = refresh.hashes;
            photos_fetched = refresh.fetched;
        }
        let users = filtered.state.users.clone();
        let kept_ids = filtered.kept_ids;
        let built = tokio::task::spawn_blocking(move || {
            let mut entries = Vec::with_capacity(kept_ids.len());
            for user_id in &kept_ids {
                if let Some(user) = users.get(user_id) {
                    let photo_hash = photo_hashes.get(user_id).map(String::as_str);
                    entries.push(snapshot::normalise(user, &users, photo_hash));
                }
            }
            snapshot::build(entries)
        })
        .await?;
        let dropped: u64 = filtered.counts.rules.iter().map(|(_, count)| count).sum();
        let read_stats = v1::ReadStats {
            mode: filtered.mode.as_str().to_owned(),
            graph_requests: stats.requests(),
            retries: stats.retries(),
            users_read: filtered.counts.users_read,
            users_dropped_by_filter: dropped,
            photos_fetched,
        };
        let row = SnapshotRow {
            snapshot_id: built.snapshot_id.clone(),
            tenant_id: tenant_id.to_owned(),
            entry_count: built.entry_count as i64,
            created_at: chrono::Utc::now().timestamp(),
            read_stats: read_stats.encode_to_vec(),
        };
        self.store.save_snapshot(&row, &built.blob).await?;
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
            snapshot_id = %built.snapshot_id,
            entries = built.entry_count,
            mode = filtered.mode.as_str(),
            graph_requests = read_stats.graph_requests,
            pruned,
            "took a snapshot"
        );
        let mut summary = self.get_snapshot(&built.snapshot_id).await?;
        summary.read_stats = Some(read_stats);
        Ok(summary)
    }

    pub async fn explain_filter(
        &self,
        tenant_id: &str,
        filter: &CompiledFilter,
    ) -> Result<v1::FilterExplanation> {
        let stats = Arc::new(RequestStats::new());
        let filtered = self.read_filtered(tenant_id, filter, false, &stats).await?;
        let mut rules = Vec::with_capacity(filtered.counts.rules.len());
        for (rule, dropped) in filtered.counts.rules {
            rules.push(v1::FilterRuleCount { rule, dropped });
        }
        Ok(v1::FilterExplanation {
            users_read: filtered.counts.users_read,
            users_kept: filtered.counts.users_kept,
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
