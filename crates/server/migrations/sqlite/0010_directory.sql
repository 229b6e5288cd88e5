-- Directory: members (staff or enrolled customers) with permanent numbers and
-- the digest secrets their SIP devices register with.

CREATE TABLE members (
    id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    -- Sign-in name, unique in the tenant; also a SIP digest user name.
    name TEXT NOT NULL,
    display_name TEXT NOT NULL,
    -- The staff user this member is, when it is one.
    user_id INTEGER REFERENCES users(id),
    -- 0: reachable by number only, not in the directory listing.
    listed INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL,
    UNIQUE (tenant_id, name)
);

-- Numbers are one space for the whole server (a SIP REGISTER names a number
-- without a tenant). A released number keeps its row, with member_id NULL and
-- released_at set, so it is not handed out again within the quarantine.
CREATE TABLE member_numbers (
    number TEXT PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    member_id INTEGER REFERENCES members(id),
    vanity INTEGER NOT NULL DEFAULT 0,
    assigned_at INTEGER NOT NULL,
    released_at INTEGER
);
CREATE INDEX member_numbers_member ON member_numbers (tenant_id, member_id);

-- HA1 = H(username:realm:password) per digest user name (the member's name
-- and each number held when the password was set), never the password.
CREATE TABLE sip_credentials (
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    member_id INTEGER NOT NULL REFERENCES members(id),
    username TEXT NOT NULL,
    ha1_md5 TEXT NOT NULL,
    ha1_sha256 TEXT NOT NULL,
    PRIMARY KEY (tenant_id, username)
);
CREATE INDEX sip_credentials_member ON sip_credentials (tenant_id, member_id);
