-- Ledger, positions, reservations, master data, exceptions, outbox and API keys.
-- Quantities are integers in millionths of the base unit; instants are microseconds
-- since the Unix epoch (UTC). Both keep sums and ordering exact.

CREATE TABLE events (
    seq INTEGER PRIMARY KEY,
    source TEXT NOT NULL,
    event_id TEXT NOT NULL,
    payload_hash TEXT NOT NULL,
    type TEXT NOT NULL,
    sku TEXT NOT NULL,
    location TEXT NOT NULL,
    counterparty_location TEXT,
    quantity INTEGER NOT NULL,
    on_hand_delta INTEGER NOT NULL,
    occurred_us INTEGER NOT NULL,
    recorded_us INTEGER NOT NULL,
    reservation_id TEXT,
    expires_us INTEGER,
    condition TEXT,
    reference TEXT,
    reason TEXT,
    correlation_id TEXT,
    raw TEXT NOT NULL,
    UNIQUE (source, event_id)
);
CREATE INDEX events_position ON events (sku, location, occurred_us);
CREATE INDEX events_inbound ON events (sku, counterparty_location)
    WHERE counterparty_location IS NOT NULL;

CREATE TABLE positions (
    sku TEXT NOT NULL,
    location TEXT NOT NULL,
    on_hand INTEGER NOT NULL,
    non_sellable INTEGER NOT NULL,
    reserved INTEGER NOT NULL,
    in_transit INTEGER NOT NULL,
    count_us INTEGER,
    count_source TEXT,
    count_event_id TEXT,
    updated_us INTEGER NOT NULL,
    PRIMARY KEY (sku, location)
) WITHOUT ROWID;

CREATE TABLE reservations (
    reservation_id TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    sku TEXT,
    location TEXT,
    quantity INTEGER NOT NULL,
    expires_us INTEGER,
    reserve_us INTEGER,
    reserve_source TEXT,
    reserve_event_id TEXT,
    holding INTEGER NOT NULL,
    updated_us INTEGER NOT NULL
);
CREATE INDEX reservations_due ON reservations (expires_us) WHERE holding = 1;

CREATE TABLE exceptions (
    id INTEGER PRIMARY KEY,
    source TEXT,
    event_id TEXT,
    payload_hash TEXT,
    reason TEXT NOT NULL,
    field TEXT,
    detail TEXT NOT NULL,
    payload TEXT NOT NULL,
    status TEXT NOT NULL,
    note TEXT,
    occurrences INTEGER NOT NULL,
    created_us INTEGER NOT NULL,
    updated_us INTEGER NOT NULL
);
CREATE UNIQUE INDEX exceptions_open_key ON exceptions (source, event_id, payload_hash, reason)
    WHERE status = 'open';
CREATE INDEX exceptions_status ON exceptions (status, id);
CREATE INDEX exceptions_event ON exceptions (source, event_id);

CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    payload TEXT NOT NULL,
    state TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    available_us INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX outbox_due ON outbox (state, available_us);

CREATE TABLE items (
    sku TEXT PRIMARY KEY,
    gtin TEXT,
    base_uom TEXT NOT NULL,
    category TEXT,
    conversions TEXT NOT NULL,
    safety_stock INTEGER NOT NULL,
    description TEXT,
    updated_us INTEGER NOT NULL
);

CREATE TABLE locations (
    code TEXT PRIMARY KEY,
    kind TEXT NOT NULL,
    timezone TEXT NOT NULL,
    name TEXT,
    updated_us INTEGER NOT NULL
);

CREATE TABLE xrefs (
    source TEXT NOT NULL,
    kind TEXT NOT NULL,
    external_code TEXT NOT NULL,
    code TEXT NOT NULL,
    updated_us INTEGER NOT NULL,
    PRIMARY KEY (source, kind, external_code)
);

CREATE TABLE api_keys (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    prefix TEXT NOT NULL,
    scopes TEXT NOT NULL,
    created_us INTEGER NOT NULL,
    revoked_us INTEGER
);

CREATE TABLE meta (
    name TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
INSERT INTO meta (name, value) VALUES ('master_version', 0);
