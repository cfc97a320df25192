-- The change list a dry run's writer planned for the mailbox (a MailboxPlan),
-- read page by page through ListPlannedChanges.
ALTER TABLE work_items ADD COLUMN plan BLOB;
