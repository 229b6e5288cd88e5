-- The telephone network: each tenant's trunks, numbers, caller-id pool and push
-- codes (a JSON document, as written in the tenant file's [phone] section), and
-- what a call over a trunk adds to its contact's record. Numbers are E.164.

ALTER TABLE tenants ADD COLUMN phone TEXT NOT NULL DEFAULT '{}';
-- 'outbound' (a browser calling a call center's number) or 'inbound' (a
-- caller dialling one of the tenant's numbers).
ALTER TABLE contacts ADD COLUMN phone_direction TEXT;
ALTER TABLE contacts ADD COLUMN phone_trunk TEXT;
ALTER TABLE contacts ADD COLUMN phone_center TEXT;
ALTER TABLE contacts ADD COLUMN phone_from TEXT;
ALTER TABLE contacts ADD COLUMN phone_to TEXT;
ALTER TABLE contacts ADD COLUMN sip_call_id TEXT;
-- The final SIP status: 200 when answered, else the failure (486 busy...).
ALTER TABLE contacts ADD COLUMN sip_code BIGINT;
-- When the far end answered, Unix ms.
ALTER TABLE contacts ADD COLUMN phone_answered_at BIGINT;
-- The CRM asks "who is this caller?" by the caller id it sees.
CREATE INDEX contacts_phone_from ON contacts (tenant_id, phone_from);
