-- What platform connectors must not lose across a restart.
--
-- connector_inbox: notifications acknowledged to a platform whose meaning needs a read
-- from it (a Square order): kept until the read succeeds, retried with backoff.
-- amazon_feeds: listings feeds Amazon accepted and is processing, with the pushes each
-- message carries, so a restarted hub polls them instead of submitting them again.
-- xrefs_by_code: outbound mapping reads cross references from the enterprise side.

CREATE TABLE connector_inbox (
    id INTEGER PRIMARY KEY,
    connector TEXT NOT NULL,
    key TEXT NOT NULL,
    payload TEXT NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_attempt_us INTEGER NOT NULL,
    received_us INTEGER NOT NULL,
    last_error TEXT,
    UNIQUE (connector, key)
);
CREATE INDEX connector_inbox_due ON connector_inbox (next_attempt_us);

CREATE TABLE amazon_feeds (
    target TEXT NOT NULL,
    batch_key TEXT NOT NULL,
    feed_id TEXT NOT NULL,
    lines TEXT NOT NULL,
    submitted_us INTEGER NOT NULL,
    PRIMARY KEY (target, batch_key)
);

CREATE INDEX xrefs_by_code ON xrefs (source, kind, code);
