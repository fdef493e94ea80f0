-- Traces: find everything one correlation id touched without reading JSON.
-- Events by the correlation id their source sent. An event sent without one is traced by
-- the id derived from its key (event:{source}:{event_id}), found through that key: the
-- column stays empty and the index skips it, so ingest pays nothing for it.
CREATE INDEX events_correlation ON events (correlation_id) WHERE correlation_id IS NOT NULL;

-- The correlation ids behind each delivery, written in the transaction that queues it.
-- A push coalesced into a pending one adds its ids: the value sent carries both.
CREATE TABLE delivery_correlations (
    correlation_id TEXT NOT NULL,
    delivery_id BIGINT NOT NULL,
    PRIMARY KEY (correlation_id, delivery_id)
);

-- The trace context of the ingest transaction that queued a delivery, when tracing is on:
-- the dispatcher's span links to it across the outbox.
ALTER TABLE deliveries ADD COLUMN traceparent TEXT;
