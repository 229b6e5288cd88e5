-- The webhook outbox (issue 17): one row per event per endpoint, written in
-- the same transaction as the contact change it reports (store/webhooks.rs),
-- so an event is never lost across a restart and never sent for a change
-- that did not commit. No foreign key on endpoint_id: the desk's writer
-- inserts rows from a cached list of endpoints, and an endpoint removed a
-- moment before must not fail the contact's own write; the dispatcher drops
-- rows whose endpoint is gone.
CREATE TABLE webhook_outbox (
    id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    endpoint_id BIGINT NOT NULL,
    -- The delivery id sent in Switchboard-Delivery, the same on every retry.
    event_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    -- The event's data as JSON (names resolved at delivery).
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    -- pending, delivered, failed (given up) or dropped (endpoint gone).
    state TEXT NOT NULL DEFAULT 'pending',
    -- When the next attempt is due; while an attempt runs, the end of its lease.
    next_at BIGINT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    done_at BIGINT
);
CREATE INDEX webhook_outbox_due ON webhook_outbox (state, next_at);
CREATE INDEX webhook_outbox_endpoint ON webhook_outbox (endpoint_id, state, next_at);
CREATE INDEX webhook_outbox_tenant ON webhook_outbox (tenant_id, id);

-- The delivery log: one row per attempt, shown to the tenant's admins.
CREATE TABLE webhook_attempts (
    id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    outbox_id BIGINT NOT NULL,
    endpoint_id BIGINT NOT NULL,
    attempt INTEGER NOT NULL,
    at BIGINT NOT NULL,
    -- The HTTP status, when one came back.
    status INTEGER,
    duration_ms BIGINT NOT NULL,
    error TEXT
);
CREATE INDEX webhook_attempts_tenant ON webhook_attempts (tenant_id, id);
CREATE INDEX webhook_attempts_at ON webhook_attempts (at);

-- The admins' audit log: each change made in the admin pages (and each
-- tenant file applied through them), who made it, when, and the setup
-- before and after as tenant-file TOML (without secrets).
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    at BIGINT NOT NULL,
    -- The staff user's name (kept as text: the user may be removed later).
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    before_text TEXT NOT NULL,
    after_text TEXT NOT NULL
);
CREATE INDEX audit_log_tenant ON audit_log (tenant_id, id);
