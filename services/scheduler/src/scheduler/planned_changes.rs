//! The changes a run's writers planned (dry runs and the deletion guard),
//! read a page at a time.

use galsync_proto::v1;
use prost::Message;

use super::Scheduler;
use crate::error::SchedulerError;

impl Scheduler {
    /// One page of the changes a run's writers planned (see
    /// `ListPlannedChanges`). The page token is `{mailbox_id}:{index}`: the
    /// first change not yet returned.
    pub async fn planned_changes(
        &self,
        run_id: &str,
        only_mailbox: &str,
        page_size: u32,
        page_token: &str,
    ) -> Result<v1::ListPlannedChangesResponse, SchedulerError> {
        self.run(run_id).await?;
        let page_size = match page_size {
            0 => 500,
            size => size.min(5_000),
        } as usize;
        let (mut from_mailbox, mut skip) = if page_token.is_empty() {
            (String::new(), 0usize)
        } else {
            let parsed = page_token
                .rsplit_once(':')
                .and_then(|(mailbox, index)| Some((mailbox.to_owned(), index.parse().ok()?)));
            parsed.ok_or_else(|| {
                SchedulerError::invalid(
                    "page_token",
                    "is not a token this API gave; pass next_page_token as it came, or nothing for the first page",
                )
            })?
        };
        let mut response = v1::ListPlannedChangesResponse::default();
        let mut inclusive = true;
        loop {
            let plans = self
                .store
                .plans_of_run(run_id, &from_mailbox, inclusive, only_mailbox, 50)
                .await?;
            let fetched = plans.len();
            for (mailbox_id, bytes) in plans {
                let plan = v1::MailboxPlan::decode(bytes.as_slice()).map_err(|error| {
                    SchedulerError::Internal(format!(
                        "the plan of {mailbox_id} is unreadable: {error}"
                    ))
                })?;
                let start = if mailbox_id == from_mailbox { skip } else { 0 };
                for (index, change) in plan.changes.into_iter().enumerate().skip(start) {
                    if response.changes.len() == page_size {
                        response.next_page_token = format!("{mailbox_id}:{index}");
                        return Ok(response);
                    }
                    response.changes.push(v1::MailboxChange {
                        mailbox_id: mailbox_id.clone(),
                        change: Some(change),
                    });
                }
                // The next query starts after this mailbox.
                from_mailbox = mailbox_id;
                inclusive = false;
                skip = 0;
            }
            if fetched < 50 {
                return Ok(response);
            }
        }
    }
}
