-- Blocks of ids handed to the desk, which numbers new contacts itself so that
-- starting one never waits for the database. A row per numbered table; a
-- block is taken by moving next_id on under the row's lock.
CREATE TABLE id_blocks (
    name TEXT PRIMARY KEY,
    next_id BIGINT NOT NULL
);
