-- Per (profile, mailbox): the galsync folder and whether the contact rows
-- below can be trusted (0 while a reconciliation is under way or after one
-- ended unfinished: the next run rebuilds them from the mailbox).
CREATE TABLE writer_mailboxes (
    profile_id TEXT NOT NULL,
    mailbox_id TEXT NOT NULL,
    folder_id TEXT NOT NULL DEFAULT '',
    state_valid BOOLEAN NOT NULL DEFAULT FALSE,
    delta_link TEXT NOT NULL DEFAULT '',
    updated_at BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (profile_id, mailbox_id)
);

-- Per (profile, mailbox, source user): the contact galsync wrote and the
-- hashes of what it wrote.
CREATE TABLE writer_contacts (
    profile_id TEXT NOT NULL,
    mailbox_id TEXT NOT NULL,
    source_id TEXT NOT NULL,
    contact_id TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    photo_hash TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (profile_id, mailbox_id, source_id)
);
