-- Foundation schema: tenants, staff, routing setup, CRM customers, contacts.
-- Times are Unix milliseconds; flags are 0/1 integers; lists are JSON text.

CREATE TABLE tenants (
    id INTEGER PRIMARY KEY,
    slug TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    widget_secret TEXT NOT NULL,
    allowed_origins TEXT NOT NULL DEFAULT '[]',
    wrapup_codes TEXT NOT NULL DEFAULT '["resolved","follow-up","no-action"]',
    created_at INTEGER NOT NULL
);

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    name TEXT NOT NULL,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL,
    password_hash TEXT NOT NULL,
    max_chats INTEGER NOT NULL DEFAULT 2,
    created_at INTEGER NOT NULL,
    UNIQUE (tenant_id, name)
);

CREATE TABLE sessions (
    id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    user_id INTEGER NOT NULL REFERENCES users(id),
    token_hash TEXT NOT NULL UNIQUE,
    csrf_token TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL
);

CREATE TABLE api_keys (
    id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL
);

CREATE TABLE skills (
    id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    name TEXT NOT NULL,
    UNIQUE (tenant_id, name)
);

CREATE TABLE user_skills (
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    user_id INTEGER NOT NULL REFERENCES users(id),
    skill_id INTEGER NOT NULL REFERENCES skills(id),
    level INTEGER NOT NULL DEFAULT 5,
    PRIMARY KEY (user_id, skill_id)
);

CREATE TABLE queues (
    id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    name TEXT NOT NULL,
    skill_id INTEGER NOT NULL REFERENCES skills(id),
    UNIQUE (tenant_id, name)
);

CREATE TABLE links (
    id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    slug TEXT NOT NULL,
    name TEXT NOT NULL,
    queue_id INTEGER NOT NULL REFERENCES queues(id),
    UNIQUE (tenant_id, slug)
);

CREATE TABLE customers (
    id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    external_id TEXT NOT NULL,
    name TEXT NOT NULL,
    email TEXT,
    phone TEXT,
    tier TEXT,
    entitlements TEXT NOT NULL DEFAULT '[]',
    notes TEXT,
    updated_at INTEGER NOT NULL,
    UNIQUE (tenant_id, external_id)
);

CREATE TABLE tickets (
    id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    customer_id INTEGER NOT NULL REFERENCES customers(id) ON DELETE CASCADE,
    reference TEXT NOT NULL,
    subject TEXT NOT NULL,
    status TEXT NOT NULL
);
CREATE INDEX tickets_customer ON tickets (tenant_id, customer_id);

CREATE TABLE contacts (
    id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    link_id INTEGER NOT NULL REFERENCES links(id),
    media TEXT NOT NULL,
    resume_hash TEXT NOT NULL,
    page_url TEXT NOT NULL,
    page_title TEXT NOT NULL,
    referrer TEXT NOT NULL,
    pages TEXT NOT NULL,
    language TEXT NOT NULL,
    timezone TEXT NOT NULL,
    verified INTEGER NOT NULL,
    customer_ref TEXT,
    identity TEXT NOT NULL,
    agent_id INTEGER REFERENCES users(id),
    state TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    queued_at INTEGER,
    offered_at INTEGER,
    answered_at INTEGER,
    ended_at INTEGER,
    outcome TEXT,
    wrapup_code TEXT,
    wrapup_note TEXT
);
CREATE INDEX contacts_tenant_created ON contacts (tenant_id, created_at);
CREATE INDEX contacts_customer ON contacts (tenant_id, customer_ref);
CREATE INDEX contacts_resume ON contacts (tenant_id, resume_hash);

CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    contact_id INTEGER NOT NULL REFERENCES contacts(id),
    sender TEXT NOT NULL,
    body TEXT NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX messages_contact ON messages (tenant_id, contact_id, id);
