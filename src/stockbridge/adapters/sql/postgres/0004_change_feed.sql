-- The outbox's positions_changed rows are the ledger's change feed: read caches drop the
-- SKUs each one names. Rows older than the retention are pruned; readers that fall behind
-- the highest pruned id start over from the database.
INSERT INTO meta (name, value) VALUES ('outbox_pruned_through', 0);
