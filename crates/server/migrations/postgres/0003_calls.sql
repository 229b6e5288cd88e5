-- Voice and video calls: what each link offers and whether it records, the
-- tenant's call settings, and what a call adds to the contact's record.
-- The settings documents are JSON text, as written in the tenant file.

ALTER TABLE links ADD COLUMN calls TEXT NOT NULL DEFAULT '{}';
ALTER TABLE tenants ADD COLUMN calls TEXT NOT NULL DEFAULT '{}';
ALTER TABLE contacts ADD COLUMN talk_ms BIGINT;
ALTER TABLE contacts ADD COLUMN hold_ms BIGINT;
ALTER TABLE contacts ADD COLUMN transfers BIGINT NOT NULL DEFAULT 0;
-- File stem of the call's recording under the data directory (per party files).
ALTER TABLE contacts ADD COLUMN recording TEXT;
