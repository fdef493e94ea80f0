-- Reconciliation: snapshots of a system's stock compared with the ledger as of the
-- snapshot's instant. A run keeps its summary and its differing lines; the open drift
-- table remembers since when each (system, SKU, location) has differed, so a report can
-- say how long. Unit costs (millionths of the currency unit) value the drift.

ALTER TABLE items ADD COLUMN unit_cost BIGINT;

CREATE TABLE reconciliation_runs (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    system TEXT NOT NULL,
    origin TEXT NOT NULL,
    policy TEXT NOT NULL,
    snapshot_us BIGINT NOT NULL,
    created_us BIGINT NOT NULL,
    lines_read BIGINT NOT NULL,
    lines_rejected BIGINT NOT NULL,
    matched BIGINT NOT NULL,
    differing BIGINT NOT NULL,
    drift_units BIGINT NOT NULL,
    drift_value BIGINT NOT NULL,
    oldest_us BIGINT,
    summary TEXT NOT NULL
);
CREATE INDEX reconciliation_runs_system ON reconciliation_runs (system, id);

CREATE TABLE reconciliation_lines (
    run_id BIGINT NOT NULL,
    line_no BIGINT NOT NULL,
    sku TEXT,
    location TEXT,
    system_sku TEXT NOT NULL,
    system_location TEXT NOT NULL,
    hub_quantity BIGINT,
    system_quantity BIGINT NOT NULL,
    difference BIGINT NOT NULL,
    unit_cost BIGINT,
    value BIGINT,
    cause TEXT NOT NULL,
    first_seen_us BIGINT NOT NULL,
    action TEXT NOT NULL,
    PRIMARY KEY (run_id, line_no)
);

CREATE TABLE reconciliation_drift (
    system TEXT NOT NULL,
    system_sku TEXT NOT NULL,
    system_location TEXT NOT NULL,
    first_seen_us BIGINT NOT NULL,
    last_run_id BIGINT NOT NULL,
    PRIMARY KEY (system, system_sku, system_location)
);

-- Positions as of a past instant re-fold the events of one position, including the
-- closing events of its reservations wherever they were recorded.
CREATE INDEX events_reservation ON events (reservation_id) WHERE reservation_id IS NOT NULL;
