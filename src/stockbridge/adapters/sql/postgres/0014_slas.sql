-- Observability and service levels.
-- Each delivery names the workflow whose SLA it measures and when its earliest cause
-- occurred at the source; the SLA window reads them by (workflow, occurred_us).
ALTER TABLE deliveries ADD COLUMN workflow TEXT;
ALTER TABLE deliveries ADD COLUMN occurred_us BIGINT;
CREATE INDEX deliveries_workflow ON deliveries (workflow, occurred_us)
    WHERE workflow IS NOT NULL;

-- Counters kept by the transactions that do the work, so that a scrape of any hub
-- process sees the writer process's and every dispatcher's figures. `shard` spreads
-- concurrent writers (PostgreSQL) over different rows; a scrape sums the shards.
CREATE TABLE event_counts (
    source TEXT NOT NULL,
    type TEXT NOT NULL,
    status TEXT NOT NULL,
    shard INTEGER NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (source, type, status, shard)
);

CREATE TABLE delivery_outcomes (
    target TEXT NOT NULL,
    kind TEXT NOT NULL,
    outcome TEXT NOT NULL,
    shard INTEGER NOT NULL,
    count BIGINT NOT NULL,
    PRIMARY KEY (target, kind, outcome, shard)
);

-- Propagation latency (occurred -> delivered) as histogram buckets (not cumulative).
CREATE TABLE delivery_latency (
    target TEXT NOT NULL,
    kind TEXT NOT NULL,
    bucket INTEGER NOT NULL,
    shard INTEGER NOT NULL,
    count BIGINT NOT NULL,
    sum_us BIGINT NOT NULL,
    PRIMARY KEY (target, kind, bucket, shard)
);

-- One row per workflow in breach: raised once per episode, deleted at recovery.
CREATE TABLE sla_breaches (
    workflow TEXT PRIMARY KEY,
    since_us BIGINT NOT NULL,
    exception_id BIGINT
);
