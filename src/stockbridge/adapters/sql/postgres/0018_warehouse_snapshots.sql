-- Stock a warehouse reports of itself (an EDI 846 inventory advice kept as a snapshot):
-- one row per item and location of each report, read by reconciliation. A report sent
-- again is the same rows (its reference identifies it), never a second snapshot.

CREATE TABLE warehouse_snapshots (
    -- the trading partner (the source of the report)
    source TEXT NOT NULL,
    -- the report's own reference (846 BIA03)
    reference TEXT NOT NULL,
    sku TEXT NOT NULL,
    location TEXT NOT NULL,
    -- units on hand as the warehouse counts them, in millionths
    quantity BIGINT NOT NULL,
    -- every quantity reported, by qualifier (JSON: {"17": "7", "33": "6"})
    quantities TEXT NOT NULL,
    -- the item ids the warehouse wrote (JSON: {"VN": "W-TEE"})
    items TEXT NOT NULL,
    as_of_us BIGINT NOT NULL,
    recorded_us BIGINT NOT NULL,
    PRIMARY KEY (source, reference, sku, location)
);

CREATE INDEX warehouse_snapshots_latest ON warehouse_snapshots (source, as_of_us, recorded_us);
