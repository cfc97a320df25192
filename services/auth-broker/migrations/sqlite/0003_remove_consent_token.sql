-- Consent-token (delegated) mode is removed: a delegated token acts as the
-- signed-in account and reaches only the contacts that account can reach, so
-- it could never keep the directory in every target mailbox. Its credentials
-- go with it: the sealed refresh tokens (cleared before their columns are
-- dropped, so no live row version keeps them) and the device-code sign-ins
-- with their sealed device codes.
--
-- An app registered in consent-token mode keeps its row and its mode: the
-- broker refuses its token requests and names the fix (register the app
-- again in certificate mode).
--
-- secure_delete overwrites the freed content with zeros, so the file keeps
-- no copy of the deleted values in free pages.
PRAGMA secure_delete = ON;
UPDATE apps SET sealed_refresh_token = NULL, refresh_token_used_at = NULL;
ALTER TABLE apps DROP COLUMN sealed_refresh_token;
ALTER TABLE apps DROP COLUMN refresh_token_used_at;
DELETE FROM device_sign_ins;
DROP TABLE device_sign_ins;
