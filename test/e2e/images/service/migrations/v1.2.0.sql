-- v1.2.0: a bad migration. The first statement succeeds, the second fails
-- (the table does not exist), so the transaction must leave no trace.
ALTER TABLE items ADD COLUMN archived_at timestamptz;
ALTER TABLE item_tags ADD COLUMN weight integer NOT NULL DEFAULT 1;
