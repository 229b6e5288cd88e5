-- A member's email address for the mailbox's new-message notice (empty: none).
ALTER TABLE member_settings ADD COLUMN email TEXT NOT NULL DEFAULT '';
