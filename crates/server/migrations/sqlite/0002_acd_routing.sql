-- ACD routing: centers and entitlements per tenant, per-queue rules, agents'
-- centers and capacities, what a waiting contact needs to be routed again after a
-- restart, and the stat events of every routing transition.
-- The routing documents are JSON text using names (skills, centers, queues), as
-- written in the tenant file; the desk resolves them to ids when it loads them.

ALTER TABLE tenants ADD COLUMN routing TEXT NOT NULL DEFAULT '{}';
ALTER TABLE queues ADD COLUMN routing TEXT NOT NULL DEFAULT '{}';
ALTER TABLE users ADD COLUMN center TEXT;
ALTER TABLE users ADD COLUMN capacity TEXT NOT NULL DEFAULT '{}';
-- Priority, attributes, preferred agent, callback plan and schedule of a contact.
ALTER TABLE contacts ADD COLUMN routing TEXT NOT NULL DEFAULT '{}';
CREATE INDEX contacts_open ON contacts (state);

CREATE TABLE acd_events (
    id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    at INTEGER NOT NULL,
    kind TEXT NOT NULL,
    contact_id INTEGER,
    agent_id INTEGER,
    queue_id INTEGER,
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX acd_events_tenant_at ON acd_events (tenant_id, at);
CREATE INDEX acd_events_contact ON acd_events (tenant_id, contact_id);
