-- Whether a run included the repair pass (a profile's repair interval, or
-- repair on every run): the next repair is due an interval after the last
-- successful one.
ALTER TABLE runs ADD COLUMN repair BOOLEAN NOT NULL DEFAULT FALSE;
