-- Channels and location freshness.

ALTER TABLE locations ADD COLUMN freshness_sla_seconds DOUBLE PRECISION;

CREATE TABLE location_liveness (
    location TEXT PRIMARY KEY,
    last_seen_us BIGINT NOT NULL,
    last_source TEXT
);

CREATE TABLE channels (
    name TEXT PRIMARY KEY,
    config TEXT NOT NULL,
    updated_us BIGINT NOT NULL
);
