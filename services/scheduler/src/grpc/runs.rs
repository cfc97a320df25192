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
use crate::profiles;
use crate::run_state::RunState;
use crate::scheduler::Scheduler;

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
    Ok(Response::new(service.scheduler.run_view(run).await?))
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
    Ok(Response::new(service.scheduler.run_view(run).await?))
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
    let runs = service
        .scheduler
        .list_runs(message.profile_id.trim(), tenant_id, i64::from(limit))
        .await?;
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
    Ok(Response::new(service.scheduler.run_view(run).await?))
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
    Ok(Response::new(service.scheduler.run_view(run).await?))
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
        // Whether the run had ended before reading, so no event is missed.
        self.run_ended = self.scheduler.run_has_ended(&self.run_id).await?;
        let rows = self
            .scheduler
            .run_events_after(&self.run_id, self.last_sequence)
            .await?;
        for (sequence, bytes) in rows {
            self.last_sequence = sequence;
            let Ok(mut event) = v1::RunEvent::decode(bytes.as_slice()) else {
                continue;
            };
            event.sequence = sequence as u64;
            if let Some(v1::run_event::Detail::StateChanged(state)) = event.detail {
                let active = RunState::ACTIVE
                    .iter()
                    .any(|active| active.to_proto() as i32 == state);
                self.end_read |= !active;
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
        appended: scheduler.watch_run_events(&run_id),
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
