-- Delivery: targets, the deliveries outbox, their attempts, and the last value each
-- channel was given per SKU (to push only changes, and to rank lowering pushes first).

CREATE TABLE targets (
    name TEXT PRIMARY KEY,
    config TEXT NOT NULL,
    paused INTEGER NOT NULL DEFAULT 0,
    updated_us INTEGER NOT NULL
);

CREATE TABLE deliveries (
    id INTEGER PRIMARY KEY,
    target TEXT NOT NULL,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    payload TEXT NOT NULL,
    priority INTEGER NOT NULL,
    state TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    coalesced INTEGER NOT NULL DEFAULT 0,
    next_attempt_us INTEGER NOT NULL,
    lease_until_us INTEGER,
    created_us INTEGER NOT NULL,
    updated_us INTEGER NOT NULL,
    delivered_us INTEGER,
    last_status INTEGER,
    last_error TEXT,
    causes TEXT NOT NULL
);
-- Coalescing: at most one pending availability push per (target, channel/sku).
CREATE UNIQUE INDEX deliveries_pending_push ON deliveries (target, key)
    WHERE state = 'pending' AND kind = 'availability';
CREATE INDEX deliveries_work ON deliveries (target, state, priority, id);
CREATE INDEX deliveries_key ON deliveries (target, kind, key, id);

CREATE TABLE delivery_attempts (
    id INTEGER PRIMARY KEY,
    delivery_id INTEGER NOT NULL,
    at_us INTEGER NOT NULL,
    status INTEGER,
    duration_ms REAL NOT NULL,
    error TEXT,
    verdict TEXT NOT NULL
);
CREATE INDEX delivery_attempts_delivery ON delivery_attempts (delivery_id, id);

CREATE TABLE channel_values (
    channel TEXT NOT NULL,
    sku TEXT NOT NULL,
    value INTEGER NOT NULL,
    updated_us INTEGER NOT NULL,
    PRIMARY KEY (channel, sku)
);

CREATE TABLE location_status (
    location TEXT PRIMARY KEY,
    stale INTEGER NOT NULL,
    updated_us INTEGER NOT NULL
);
