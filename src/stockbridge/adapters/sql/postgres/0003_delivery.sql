-- Delivery: targets, the deliveries outbox, their attempts, and the last value each
-- channel was given per SKU (to push only changes, and to rank lowering pushes first).

CREATE TABLE targets (
    name TEXT PRIMARY KEY,
    config TEXT NOT NULL,
    paused BIGINT NOT NULL DEFAULT 0,
    updated_us BIGINT NOT NULL
);

CREATE TABLE deliveries (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    target TEXT NOT NULL,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    payload TEXT NOT NULL,
    priority BIGINT NOT NULL,
    state TEXT NOT NULL,
    attempts BIGINT NOT NULL DEFAULT 0,
    coalesced BIGINT NOT NULL DEFAULT 0,
    next_attempt_us BIGINT NOT NULL,
    lease_until_us BIGINT,
    created_us BIGINT NOT NULL,
    updated_us BIGINT NOT NULL,
    delivered_us BIGINT,
    last_status BIGINT,
    last_error TEXT,
    causes TEXT NOT NULL
);
-- Coalescing: at most one pending availability push per (target, channel/sku).
CREATE UNIQUE INDEX deliveries_pending_push ON deliveries (target, key)
    WHERE state = 'pending' AND kind = 'availability';
CREATE INDEX deliveries_work ON deliveries (target, state, priority, id);
CREATE INDEX deliveries_key ON deliveries (target, kind, key, id);

CREATE TABLE delivery_attempts (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    delivery_id BIGINT NOT NULL,
    at_us BIGINT NOT NULL,
    status BIGINT,
    duration_ms DOUBLE PRECISION NOT NULL,
    error TEXT,
    verdict TEXT NOT NULL
);
CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id, id);

CREATE TABLE channel_values (
    channel TEXT NOT NULL,
    sku TEXT NOT NULL,
    value BIGINT NOT NULL,
    updated_us BIGINT NOT NULL,
    PRIMARY KEY (channel, sku)
);

CREATE TABLE location_status (
    location TEXT PRIMARY KEY,
    stale BIGINT NOT NULL,
    updated_us BIGINT NOT NULL
);
