-- Webhook endpoints, set by the tenant file's [[webhooks]] (replaced as a
-- whole on each `tenant apply`). The secret is kept as given: the server
-- needs it to sign every delivery.
CREATE TABLE webhook_endpoints (
    id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    -- Comma-separated event types, e.g. "contact.created,contact.ended".
    events TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX webhook_endpoints_tenant ON webhook_endpoints (tenant_id);
