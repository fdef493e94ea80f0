-- Customer returns (with their inspection state) and transfer orders between locations,
-- kept as documents with their status. Written in the ingest transaction that applies
-- their ledger events, so a document and its stock movements commit together.

CREATE TABLE returns (
    return_id TEXT NOT NULL PRIMARY KEY,
    payload_hash TEXT NOT NULL,
    -- pending_inspection or completed
    status TEXT NOT NULL,
    state TEXT NOT NULL,
    received TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    updated_us INTEGER NOT NULL
);

CREATE TABLE transfers (
    transfer_id TEXT NOT NULL PRIMARY KEY,
    payload_hash TEXT NOT NULL,
    -- open, partially_shipped, shipped, partially_received, received or closed
    status TEXT NOT NULL,
    state TEXT NOT NULL,
    received TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    updated_us INTEGER NOT NULL
);
