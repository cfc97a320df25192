-- Issue 17: when the administrator allows it (per tenant, off by default),
-- `cert rotate` and the renewal before expiry upload the new certificate's
-- public part to the app registration themselves (Graph `addKey`, proven
-- with the current certificate), and remove the old key once the new one
-- works (`removeKey`, proven with the new certificate).
--
-- upload_rotated_certificates: 1 = allowed, 0 = the .cer is uploaded by hand.
-- apps.object_id: the application's object id in Entra (a proof's `iss`),
-- recorded by `tenant provision` / `tenant adopt`; NULL when unknown.
-- certificates.app_key_id: the keyCredential keyId Graph gave the
-- certificate when the broker added it; NULL when added by anyone else.
ALTER TABLE tenants ADD COLUMN upload_rotated_certificates BIGINT NOT NULL DEFAULT 0;
ALTER TABLE apps ADD COLUMN object_id TEXT;
ALTER TABLE certificates ADD COLUMN app_key_id TEXT;
