//! Per (profile, mailbox): the folder, whether the contact rows can be
//! trusted, and where the next repair pass starts.

use galsync_platform::with_pool;

use super::{unix_now, WriterStore};

/// What the writer knows about one mailbox of one profile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MailboxState {
    pub folder_id: String,
    pub state_valid: bool,
    /// Where the next repair pass (contacts delta) starts; empty = from scratch.
    pub delta_link: String,
}

impl WriterStore {
    pub async fn mailbox_state(
        &self,
        profile_id: &str,
        mailbox_id: &str,
    ) -> Result<Option<MailboxState>, sqlx::Error> {
        let row: Option<(String, bool, String)> = with_pool!(&self.pool, pool => {
            sqlx::query_as(
                "SELECT folder_id, state_valid, delta_link FROM writer_mailboxes \
                 WHERE profile_id = $1 AND mailbox_id = $2",
            )
            .bind(profile_id)
            .bind(mailbox_id)
            .fetch_optional(pool)
            .await?
        });
        Ok(
            row.map(|(folder_id, state_valid, delta_link)| MailboxState {
                folder_id,
                state_valid,
                delta_link,
            }),
        )
    }

    /// Records the folder and whether the contact rows are trustworthy.
    pub async fn save_mailbox_state(
        &self,
        profile_id: &str,
        mailbox_id: &str,
        state: &MailboxState,
    ) -> Result<(), sqlx::Error> {
        with_pool!(&self.pool, pool => {
            sqlx::query(
                "INSERT INTO writer_mailboxes \
                   (profile_id, mailbox_id, folder_id, state_valid, delta_link, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) \
                 ON CONFLICT (profile_id, mailbox_id) DO UPDATE SET \
                   folder_id = excluded.folder_id, state_valid = excluded.state_valid, \
                   delta_link = excluded.delta_link, updated_at = excluded.updated_at",
            )
            .bind(profile_id)
            .bind(mailbox_id)
            .bind(&state.folder_id)
            .bind(state.state_valid)
            .bind(&state.delta_link)
            .bind(unix_now())
            .execute(pool)
            .await?;
        });
        Ok(())
    }

    /// Marks the rows untrustworthy before a run writes to Graph.
    pub async fn mark_uncertain(
        &self,
        profile_id: &str,
        mailbox_id: &str,
        folder_id: &str,
    ) -> Result<(), sqlx::Error> {
        let state = MailboxState {
            folder_id: folder_id.to_owned(),
            state_valid: false,
            delta_link: String::new(),
        };
        self.save_mailbox_state(profile_id, mailbox_id, &state)
            .await
    }

    /// Marks untrustworthy the rows of every profile writing `folder_id` of
    /// the mailbox (a purge emptied it, whichever profile it named): their
    /// next runs read the folder again instead of trusting the store.
    pub async fn invalidate_folder(
        &self,
        mailbox_id: &str,
        folder_id: &str,
    ) -> Result<u64, sqlx::Error> {
        let invalidated = with_pool!(&self.pool, pool => {
            sqlx::query(
                "UPDATE writer_mailboxes SET state_valid = $1, delta_link = '', updated_at = $2 \
                 WHERE mailbox_id = $3 AND folder_id = $4 AND state_valid = $5",
            )
            .bind(false)
            .bind(unix_now())
            .bind(mailbox_id)
            .bind(folder_id)
            .bind(true)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(invalidated)
    }

    /// Forgets the mailbox entirely (after a purge).
    pub async fn forget_mailbox(
        &self,
        profile_id: &str,
        mailbox_id: &str,
    ) -> Result<(), sqlx::Error> {
        self.forget_contacts(profile_id, mailbox_id).await?;
        with_pool!(&self.pool, pool => {
            sqlx::query("DELETE FROM writer_mailboxes WHERE profile_id = $1 AND mailbox_id = $2")
                .bind(profile_id)
                .bind(mailbox_id)
                .execute(pool)
                .await?;
        });
        Ok(())
    }
}
