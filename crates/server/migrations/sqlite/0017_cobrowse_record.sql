-- What happened while a contact's page was shared (docs/cobrowse.md, "In the
-- contact's record"): every agent action (view start and stop, control
-- granted and withdrawn, clicks, fills, pushes, highlights) and every
-- whiteboard shape or clear, by either side. No page content: a fill names
-- the field, never the value typed; a shape is the whiteboard's own JSON.
CREATE TABLE cobrowse_events (
    id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    contact_id BIGINT NOT NULL,
    at BIGINT NOT NULL,
    -- 'agent', 'visitor' or 'supervisor'.
    actor TEXT NOT NULL,
    -- The staff member for 'agent' and 'supervisor'.
    user_id BIGINT,
    action TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX cobrowse_events_contact ON cobrowse_events (tenant_id, contact_id, id);
