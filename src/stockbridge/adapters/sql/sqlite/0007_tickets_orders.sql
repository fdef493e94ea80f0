-- Store tickets and channel orders, kept as documents with their status, and the daily
-- settlements posted per (store, business day). Written in the ingest transaction that
-- applies their ledger events, so a document and its stock movements commit together.

CREATE TABLE tickets (
    source TEXT NOT NULL,
    ticket_number TEXT NOT NULL,
    payload_hash TEXT NOT NULL,
    status TEXT NOT NULL,
    location TEXT NOT NULL,
    business_date TEXT NOT NULL,
    -- per_ticket: posted as its own ERP document; settlement: summed in the daily one
    posting TEXT NOT NULL,
    settlement_seq INTEGER,
    totals TEXT NOT NULL,
    document TEXT NOT NULL,
    received TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    updated_us INTEGER NOT NULL,
    PRIMARY KEY (source, ticket_number)
);
CREATE INDEX tickets_day ON tickets (location, business_date);
CREATE INDEX tickets_unsettled ON tickets (location, business_date)
    WHERE posting = 'settlement' AND settlement_seq IS NULL;

CREATE TABLE settlements (
    store TEXT NOT NULL,
    business_date TEXT NOT NULL,
    seq INTEGER NOT NULL,
    state TEXT NOT NULL,
    ticket_count INTEGER NOT NULL,
    document TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    PRIMARY KEY (store, business_date, seq)
);

CREATE TABLE orders (
    channel TEXT NOT NULL,
    order_id TEXT NOT NULL,
    payload_hash TEXT NOT NULL,
    status TEXT NOT NULL,
    state TEXT NOT NULL,
    received TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    updated_us INTEGER NOT NULL,
    PRIMARY KEY (channel, order_id)
);
