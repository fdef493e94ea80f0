-- Exception triage: who owns an exception, how far it was escalated, when and how it was
-- closed (resolution time is reported per reason), when it went past its SLA, and a
-- thread of notes and actions. Configuration history: every version of a cross
-- reference, channel or target, who wrote it and what it was before.

ALTER TABLE exceptions ADD COLUMN assignee TEXT;
ALTER TABLE exceptions ADD COLUMN escalation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE exceptions ADD COLUMN escalated_us BIGINT;
ALTER TABLE exceptions ADD COLUMN resolved_us BIGINT;
ALTER TABLE exceptions ADD COLUMN resolution TEXT;
ALTER TABLE exceptions ADD COLUMN overdue_us BIGINT;
CREATE INDEX exceptions_age ON exceptions (status, created_us);
CREATE INDEX exceptions_resolved ON exceptions (resolved_us) WHERE resolved_us IS NOT NULL;

CREATE TABLE exception_notes (
    id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    exception_id BIGINT NOT NULL,
    -- note, assigned, escalated, replayed, ignored, resolved, overdue
    kind TEXT NOT NULL,
    author TEXT NOT NULL,
    at_us BIGINT NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX exception_notes_thread ON exception_notes (exception_id, id);
CREATE INDEX exception_notes_kind ON exception_notes (kind, id);

CREATE TABLE config_history (
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    version INTEGER NOT NULL,
    action TEXT NOT NULL,
    actor TEXT NOT NULL,
    at_us BIGINT NOT NULL,
    before TEXT,
    after TEXT,
    rollback_of INTEGER,
    PRIMARY KEY (kind, key, version)
);
CREATE INDEX config_history_recent ON config_history (kind, at_us);
