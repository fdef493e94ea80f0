-- Channels and location freshness.

ALTER TABLE locations ADD COLUMN freshness_sla_seconds REAL;

CREATE TABLE location_liveness (
    location TEXT PRIMARY KEY,
    last_seen_us INTEGER NOT NULL,
    last_source TEXT
);

CREATE TABLE channels (
    name TEXT PRIMARY KEY,
    config TEXT NOT NULL,
    updated_us INTEGER NOT NULL
);
