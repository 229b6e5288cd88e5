-- Keys the server signs with (issue 14: the callback manage links), made at
-- the first start and kept, so links sent to visitors outlive a restart and
-- every node of a cluster checks them alike.
CREATE TABLE server_keys (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
