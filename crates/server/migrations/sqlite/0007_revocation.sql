-- Revocation: a user can be disabled (refused at login, sessions ended), an
-- API key can expire and carries scopes (a JSON list of strings, e.g.
-- ["recordings"]), and expired sessions are purged by time.
ALTER TABLE users ADD COLUMN disabled_at INTEGER;
ALTER TABLE api_keys ADD COLUMN expires_at INTEGER;
ALTER TABLE api_keys ADD COLUMN scopes TEXT NOT NULL DEFAULT '[]';
CREATE INDEX sessions_expires_at ON sessions (expires_at);
CREATE INDEX sessions_user ON sessions (tenant_id, user_id);
