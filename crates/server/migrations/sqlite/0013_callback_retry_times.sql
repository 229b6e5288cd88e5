-- A callback's times across a restart: each attempt keeps the give-up time
-- in force when it started (the first attempt's holds for all), and a failed
-- attempt that is tried again keeps when the next attempt is due, so a line
-- rebuilt between two attempts waits for the same time, not from scratch.
ALTER TABLE callback_attempts ADD COLUMN give_up_at INTEGER;
ALTER TABLE callback_attempts ADD COLUMN retry_at INTEGER;
