-- A claim asks whether an earlier delivery of the same key is in flight (or, for
-- postings, still pending). With the state in the index that is one seek, however many
-- delivered rows the key has collected over the day.
CREATE INDEX deliveries_key_state ON deliveries (target, kind, key, state, id);
DROP INDEX deliveries_key;
