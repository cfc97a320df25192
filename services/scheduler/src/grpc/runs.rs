//! Runs: start, read, list, watch (the run's event log, woken as events are
//! appended), cancel, approve held deletions, and the changes a run planned.

use std::collections::VecDeque;
use std::sync::Arc;

use futures::Stream;
use galsync_proto::v1;
use prost::Message;
use tonic::{Request, Response, Status};

use super::{EventStream, SchedulerService};
use crate::access::Role;
use crate::error::SchedulerError;
use crate::item_state::ItemState;
use crate::profiles;
use crate::queue::millis_timestamp;
use crate::scheduler::Scheduler;
use crate::store::{RunRow, RunSignal};
use crate::work_items::{mailbox_result, run_counts};

/// The run as the API shows it: its row, and what its work items add up to.
async fn run_message(service: &SchedulerService, run: RunRow) -> Result<v1::Run, Status> {
    let items = service
        .scheduler
        .store()
        .work_items_of_run(&run.run_id)
        .await
        .map_err(SchedulerError::from)?;
    let live: Vec<_> = items
        .iter()
        .filter(|item| item.state != ItemState::Superseded)
        .collect();
    let tally = crate::work_items::mailbox_tally(&items);
    let mailboxes = live
        .iter()
        .filter(|item| item.state.is_terminal())
        .map(|item| mailbox_result(item))
        .collect();
    Ok(v1::Run {
        trace_id: galsync_platform::telemetry::run_trace_id(&run.run_id),
        run_id: run.run_id,
        profile_id: run.profile_id,
        state: run.state.to_proto() as i32,
        trigger: run.trigger,
        dry_run: run.dry_run,
        snapshot_id: run.snapshot_id,
        created_at: Some(millis_timestamp(run.created_at)),
        started_at: run.started_at.map(millis_timestamp),
        finished_at: run.finished_at.map(millis_timestamp),
        mailboxes_total: run.mailboxes_total as u32,
        mailboxes_done: tally.done as u32,
        mailboxes_succeeded: tally.succeeded as u32,
        mailboxes_failed: tally.failed as u32,
        mailboxes_cancelled: tally.cancelled as u32,
        repair: run.repair,
        counts: Some(run_counts(&items)),
        mailboxes,
        error: run.error,
        read_stats: run
            .read_stats
            .as_deref()
            .and_then(|bytes| v1::ReadStats::decode(bytes).ok()),
    })
}

pub(super) async fn start(
    service: &SchedulerService,
    request: Request<v1::RunProfileRequest>,
) -> Result<Response<v1::Run>, Status> {
    let caller = service
        .caller(&request, Role::Operator, "galsync.v1.Scheduler/RunProfile")
        .await?;
    let message = request.into_inner();
    let trigger = format!("api:{}", caller.actor);
    let profile_id = profiles::id_field("profile_id", &message.profile_id)?;
    service.scheduler.profile_for(&caller, profile_id).await?;
    let run = service
        .scheduler
        .start_run(
            &caller,
            profile_id,
            message.dry_run,
            message.full_read,
            &trigger,
        )
        .await?;
    Ok(Response::new(run_message(service, run).await?))
}

pub(super) async fn get(
    service: &SchedulerService,
    request: Request<v1::GetRunRequest>,
) -> Result<Response<v1::Run>, Status> {
    let caller = service
        .caller(&request, Role::Viewer, "galsync.v1.Scheduler/GetRun")
        .await?;
    let run = service
        .scheduler
        .run_for(
            &caller,
            profiles::id_field("run_id", &request.into_inner().run_id)?,
        )
        .await?;
    Ok(Response::new(run_message(service, run).await?))
}

pub(super) async fn list(
    service: &SchedulerService,
    request: Request<v1::ListRunsRequest>,
) -> Result<Response<v1::ListRunsResponse>, Status> {
    let caller = service
        .caller(&request, Role::Viewer, "galsync.v1.Scheduler/ListRuns")
        .await?;
    let message = request.into_inner();
    let Some(tenant_id) = caller.tenant_filter("") else {
        return Ok(Response::new(v1::ListRunsResponse::default()));
    };
    let limit = if message.limit == 0 {
        50
    } else {
        message.limit.min(1000)
    };
    let rows = service
        .scheduler
        .store()
        .list_runs(message.profile_id.trim(), tenant_id, i64::from(limit))
        .await
        .map_err(SchedulerError::from)?;
    let mut runs = Vec::new();
    for row in rows {
        runs.push(run_message(service, row).await?);
    }
    Ok(Response::new(v1::ListRunsResponse { runs }))
}

pub(super) async fn watch(
    service: &SchedulerService,
    request: Request<v1::WatchRunRequest>,
) -> Result<Response<EventStream>, Status> {
    let caller = service
        .caller(&request, Role::Viewer, "galsync.v1.Scheduler/WatchRun")
        .await?;
    let run_id = profiles::id_field("run_id", &request.into_inner().run_id)?.to_owned();
    service.scheduler.run_for(&caller, &run_id).await?;
    let scheduler = service.scheduler.clone();
    // Events come from the store, so a watcher on any scheduler replica
    // sees every event in order: the past first, then new ones as the
    // driver appends them, until the run has ended.
    let stream = async_stream_of_events(scheduler, run_id);
    Ok(Response::new(Box::pin(stream)))
}

pub(super) async fn cancel(
    service: &SchedulerService,
    request: Request<v1::CancelRunRequest>,
) -> Result<Response<v1::Run>, Status> {
    let caller = service
        .caller(&request, Role::Operator, "galsync.v1.Scheduler/CancelRun")
        .await?;
    let message = request.into_inner();
    let run_id = profiles::id_field("run_id", &message.run_id)?;
    service.scheduler.run_for(&caller, run_id).await?;
    let run = service.scheduler.cancel_run(&caller, run_id).await?;
    Ok(Response::new(run_message(service, run).await?))
}

pub(super) async fn approve_deletions(
    service: &SchedulerService,
    request: Request<v1::ApproveDeletionsRequest>,
) -> Result<Response<v1::Run>, Status> {
    let caller = service
        .caller(
            &request,
            Role::Operator,
            "galsync.v1.Scheduler/ApproveDeletions",
        )
        .await?;
    let message = request.into_inner();
    let run_id = profiles::id_field("run_id", &message.run_id)?;
    service.scheduler.run_for(&caller, run_id).await?;
    let run = service.scheduler.approve_deletions(&caller, run_id).await?;
    Ok(Response::new(run_message(service, run).await?))
}

pub(super) async fn list_planned_changes(
    service: &SchedulerService,
    request: Request<v1::ListPlannedChangesRequest>,
) -> Result<Response<v1::ListPlannedChangesResponse>, Status> {
    let caller = service
        .caller(
            &request,
            Role::Viewer,
            "galsync.v1.Scheduler/ListPlannedChanges",
        )
        .await?;
    let message = request.into_inner();
    service
        .scheduler
        .run_for(&caller, profiles::id_field("run_id", &message.run_id)?)
        .await?;
    let page = service
        .scheduler
        .planned_changes(
            profiles::id_field("run_id", &message.run_id)?,
            message.mailbox_id.trim(),
            message.page_size,
            message.page_token.trim(),
        )
        .await?;
    Ok(Response::new(page))
}

/// Where a `WatchRun` stream is in its run's event log.
struct EventCursor {
    scheduler: Arc<Scheduler>,
    run_id: String,
    last_sequence: i64,
    pending: VecDeque<v1::RunEvent>,
    /// Changes when this process appends an event to the run.
    appended: tokio::sync::watch::Receiver<u64>,
    /// The event saying how the run ended was read.
    end_read: bool,
    /// The run's row says it ended.
    run_ended: bool,
    /// Nothing more to send once `pending` is empty.
    finished: bool,
}

impl EventCursor {
    /// Waits for an event to be appended, at most `wait`.
    async fn wait_for_event(&mut self, wait: std::time::Duration) {
        if let Ok(Err(_closed)) = tokio::time::timeout(wait, self.appended.changed()).await {
            tokio::time::sleep(wait).await;
        }
    }

    /// Reads the run's state, then the events after the last one read.
    async fn read(&mut self) -> Result<(), Status> {
        let store = self.scheduler.store();
        // Whether the run had ended before reading, so no event is missed.
        self.run_ended = match store.get_run(&self.run_id).await {
            Ok(Some(run)) => !run.state.is_active(),
            Ok(None) => true,
            Err(error) => return Err(Status::from(SchedulerError::from(error))),
        };
        let rows = store
            .events_after(&self.run_id, self.last_sequence)
            .await
            .map_err(|error| Status::from(SchedulerError::from(error)))?;
        for (sequence, bytes) in rows {
            self.last_sequence = sequence;
            let Ok(mut event) = v1::RunEvent::decode(bytes.as_slice()) else {
                continue;
            };
            event.sequence = sequence as u64;
            if let Some(v1::run_event::Detail::StateChanged(state)) = event.detail {
                let active = [
                    v1::RunState::Queued as i32,
                    v1::RunState::Reading as i32,
                    v1::RunState::Writing as i32,
                ];
                self.end_read |= !active.contains(&state);
            }
            self.pending.push_back(event);
        }
        Ok(())
    }
}

/// A run's events from the store: woken as soon as this process appends
/// one, and looking again every [`Scheduler::recheck_interval`] for events a
/// driver on another replica appends. The stream ends after the event that
/// says how the run ended.
fn async_stream_of_events(
    scheduler: Arc<Scheduler>,
    run_id: String,
) -> impl Stream<Item = Result<v1::RunEvent, Status>> + Send {
    let recheck = scheduler.recheck_interval();
    let cursor = EventCursor {
        // Subscribed before the first read, so an event appended meanwhile
        // wakes the first wait.
        appended: scheduler
            .store()
            .watch_run(&run_id, RunSignal::EventAppended),
        scheduler,
        run_id,
        last_sequence: 0,
        pending: VecDeque::new(),
        end_read: false,
        run_ended: false,
        finished: false,
    };
    futures::stream::unfold(cursor, move |mut cursor| async move {
        loop {
            if let Some(event) = cursor.pending.pop_front() {
                return Some((Ok(event), cursor));
            }
            if cursor.finished {
                return None;
            }
            if let Err(status) = cursor.read().await {
                cursor.finished = true;
                return Some((Err(status), cursor));
            }
            if cursor.run_ended {
                // The driver records the run's end, then appends the event
                // saying so: it is waited for, at most one recheck.
                let deadline = tokio::time::Instant::now() + recheck;
                while !cursor.end_read && tokio::time::Instant::now() < deadline {
                    cursor
                        .wait_for_event(deadline - tokio::time::Instant::now())
                        .await;
                    if let Err(status) = cursor.read().await {
                        cursor.finished = true;
                        return Some((Err(status), cursor));
                    }
                }
                cursor.finished = true;
                continue;
            }
            if cursor.pending.is_empty() {
                // Either way the store is read again: a signal only says to
                // look sooner.
                cursor.wait_for_event(recheck).await;
            }
        }
    })
}
