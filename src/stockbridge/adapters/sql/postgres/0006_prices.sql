-- Prices and promotions mirrored from the ERP. Amounts (and percentages off) are integers
-- in millionths, instants microseconds since the Unix epoch, like every other table.

CREATE TABLE prices (
    book TEXT NOT NULL,
    sku TEXT NOT NULL,
    scope TEXT NOT NULL,
    start_us BIGINT NOT NULL,
    end_us BIGINT,
    amount BIGINT NOT NULL,
    currency TEXT NOT NULL,
    updated_us BIGINT NOT NULL,
    PRIMARY KEY (book, sku, scope, start_us)
);
CREATE INDEX prices_sku ON prices (sku);

CREATE TABLE promotions (
    id TEXT PRIMARY KEY,
    scope TEXT NOT NULL,
    start_us BIGINT NOT NULL,
    end_us BIGINT,
    price BIGINT,
    currency TEXT,
    percent_off BIGINT,
    description TEXT,
    updated_us BIGINT NOT NULL
);

CREATE TABLE promotion_skus (
    sku TEXT NOT NULL,
    promotion_id TEXT NOT NULL,
    PRIMARY KEY (sku, promotion_id)
);
CREATE INDEX promotion_skus_promotion ON promotion_skus (promotion_id);
