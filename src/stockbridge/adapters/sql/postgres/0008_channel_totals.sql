-- Per (channel, SKU) the sum of location contributions behind the last queued value, and
-- the master data version it was computed under: the ingest path moves the sum by what a
-- changed position gives before and after, instead of reading every feeding location.
ALTER TABLE channel_values ADD COLUMN total BIGINT;
ALTER TABLE channel_values ADD COLUMN basis BIGINT;
