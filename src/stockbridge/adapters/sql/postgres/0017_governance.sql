-- API governance: keys bound to sources, locations and channels, with a rate of their
-- own, and the audit log of administrative actions (docs/security.md).
ALTER TABLE api_keys ADD COLUMN bindings TEXT NOT NULL DEFAULT '{}';
ALTER TABLE api_keys ADD COLUMN rate_per_second DOUBLE PRECISION;
ALTER TABLE api_keys ADD COLUMN rate_burst INTEGER;

CREATE TABLE audit_log (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at_us BIGINT NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    subject_kind TEXT NOT NULL,
    subject_key TEXT NOT NULL,
    outcome TEXT NOT NULL CHECK (outcome IN ('ok', 'refused')),
    detail TEXT NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON audit_log (at_us);
CREATE INDEX audit_log_actor ON audit_log (actor, at_us);
