-- Each attempt the server makes to call a callback's visitor back: when it
-- started, how it ended (answered, busy, no_answer, rejected,
-- invalid_number, unavailable, fax, machine; "dialing" while it runs, and
-- still after a restart cut it short), the final SIP status and how long it
-- lasted. A restart counts the rows to continue the attempts where they were.
CREATE TABLE callback_attempts (
    id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    -- No foreign key: the attempt is written beside the desk's writer, and
    -- may reach the database before the contact's own row when a callback
    -- dials at once.
    contact_id INTEGER NOT NULL,
    attempt INTEGER NOT NULL,
    started_at INTEGER NOT NULL,
    result TEXT NOT NULL,
    sip_code INTEGER,
    duration_ms INTEGER,
    UNIQUE (tenant_id, contact_id, attempt)
);
