-- Reconciliation: snapshots of a system's stock compared with the ledger as of the
-- snapshot's instant. A run keeps its summary and its differing lines; the open drift
-- table remembers since when each (system, SKU, location) has differed, so a report can
-- say how long. Unit costs (millionths of the currency unit) value the drift.

ALTER TABLE items ADD COLUMN unit_cost INTEGER;

CREATE TABLE reconciliation_runs (
    id INTEGER PRIMARY KEY,
    system TEXT NOT NULL,
    origin TEXT NOT NULL,
    policy TEXT NOT NULL,
    snapshot_us INTEGER NOT NULL,
    created_us INTEGER NOT NULL,
    lines_read INTEGER NOT NULL,
    lines_rejected INTEGER NOT NULL,
    matched INTEGER NOT NULL,
    differing INTEGER NOT NULL,
    drift_units INTEGER NOT NULL,
    drift_value INTEGER NOT NULL,
    oldest_us INTEGER,
    summary TEXT NOT NULL
);
CREATE INDEX reconciliation_runs_system ON reconciliation_runs (system, id);

CREATE TABLE reconciliation_lines (
    run_id INTEGER NOT NULL,
    line_no INTEGER NOT NULL,
    sku TEXT,
    location TEXT,
    system_sku TEXT NOT NULL,
    system_location TEXT NOT NULL,
    hub_quantity INTEGER,
    system_quantity INTEGER NOT NULL,
    difference INTEGER NOT NULL,
    unit_cost INTEGER,
    value INTEGER,
    cause TEXT NOT NULL,
    first_seen_us INTEGER NOT NULL,
    action TEXT NOT NULL,
    PRIMARY KEY (run_id, line_no)
);

CREATE TABLE reconciliation_drift (
    system TEXT NOT NULL,
    system_sku TEXT NOT NULL,
    system_location TEXT NOT NULL,
    first_seen_us INTEGER NOT NULL,
    last_run_id INTEGER NOT NULL,
    PRIMARY KEY (system, system_sku, system_location)
);

-- Positions as of a past instant re-fold the events of one position, including the
-- closing events of its reservations wherever they were recorded.
CREATE INDEX events_reservation ON events (reservation_id) WHERE reservation_id IS NOT NULL;
