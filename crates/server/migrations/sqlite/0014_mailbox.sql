-- Directory calls and voice/video mail (002 Fig. 17): each member's call
-- settings, and the index of the messages left for them. The recordings
-- themselves are files under the data directory (mailbox/<tenant>/).

CREATE TABLE member_settings (
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    member_id INTEGER NOT NULL REFERENCES members(id),
    -- 'all': every signed-in device rings; 'last': only the newest one.
    ring_mode TEXT NOT NULL DEFAULT 'all',
    -- Shown to a caller before they leave a message; empty: the default one.
    greeting TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (tenant_id, member_id)
);

CREATE TABLE mailbox_messages (
    id INTEGER PRIMARY KEY,
    tenant_id INTEGER NOT NULL REFERENCES tenants(id),
    member_id INTEGER NOT NULL REFERENCES members(id),
    -- Who called, as the directory shows them (display name, number).
    caller TEXT NOT NULL,
    caller_number TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    duration_ms INTEGER NOT NULL,
    bytes INTEGER NOT NULL,
    -- File names inside the tenant's mailbox directory.
    audio_file TEXT NOT NULL,
    -- VP8 in IVF, when the caller sent video.
    video_file TEXT,
    -- 1: the message reached the length limit and was cut there.
    cut INTEGER NOT NULL DEFAULT 0,
    heard INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX mailbox_messages_member ON mailbox_messages (tenant_id, member_id, created_at);
