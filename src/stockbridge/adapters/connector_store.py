"""State platform connectors keep in the hub's database: the inbox of notifications
waiting for a read from their platform, Amazon feeds in processing, and cross references
read from the enterprise side for outbound mapping."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from ..app.ports import InboxItem, OpenFeed

_CHUNK = 400


class ConnectorStoreMixin:
    """Connector reads and writes; expects SqlStore's `read`, `write` and `_write`."""

    def read(self, statement: str, params: Sequence[Any] = ()) -> list[Any]:
        raise NotImplementedError

    def write(self, statement: str, params: Sequence[Any] = ()) -> None:
        raise NotImplementedError

    def _write(self) -> Any:
        raise NotImplementedError

    def sql(self, statement: str) -> str:
        raise NotImplementedError

    # --- cross references, enterprise code first ------------------------------------------
    def xrefs_for_codes(self, source: str, kind: str, codes: Sequence[str]) -> dict[str, list[str]]:
        out: dict[str, list[str]] = {}
        unique = sorted(set(codes))
        for i in range(0, len(unique), _CHUNK):
            chunk = unique[i : i + _CHUNK]
            marks = ",".join("?" * len(chunk))
            for code, external in self.read(
                f"SELECT code, external_code FROM xrefs WHERE source = ? AND kind = ? "
                f"AND code IN ({marks}) ORDER BY code, external_code",
                (source, kind, *chunk),
            ):
                out.setdefault(code, []).append(external)
        return out

    # --- the connector inbox -----------------------------------------------------------------
    def inbox_add(self, connector: str, key: str, payload: Any, now_us: int) -> bool:
        with self._write() as cur:
            cur.execute(
                self.sql(
                    "INSERT INTO connector_inbox (connector, key, payload, next_attempt_us, "
                    "received_us) VALUES (?,?,?,?,?) ON CONFLICT (connector, key) DO NOTHING"
                ),
                (connector, key, orjson.dumps(payload).decode(), now_us, now_us),
            )
            return bool(cur.rowcount)

    def inbox_due(self, now_us: int, limit: int) -> list[InboxItem]:
        rows = self.read(
            "SELECT id, connector, key, payload, attempts FROM connector_inbox "
            "WHERE next_attempt_us <= ? ORDER BY next_attempt_us, id LIMIT ?",
            (now_us, limit),
        )
        return [InboxItem(r[0], r[1], r[2], orjson.loads(r[3]), r[4]) for r in rows]

    def inbox_done(self, item_id: int) -> None:
        self.write("DELETE FROM connector_inbox WHERE id = ?", (item_id,))

    def inbox_retry(self, item_id: int, next_attempt_us: int, error: str) -> None:
        self.write(
            "UPDATE connector_inbox SET attempts = attempts + 1, next_attempt_us = ?, "
            "last_error = ? WHERE id = ?",
            (next_attempt_us, error[:1000], item_id),
        )

    def inbox_pending(self, connector: str | None = None) -> list[InboxItem]:
        where, params = ("WHERE connector = ?", (connector,)) if connector else ("", ())
        rows = self.read(
            f"SELECT id, connector, key, payload, attempts, last_error FROM connector_inbox "
            f"{where} ORDER BY id",
            params,
        )
        return [InboxItem(r[0], r[1], r[2], orjson.loads(r[3]), r[4], r[5]) for r in rows]

    # --- Amazon feeds in processing ----------------------------------------------------------
    def feed_submitted(
        self, target: str, batch_key: str, feed_id: str, lines: list[tuple[str, str]], now_us: int
    ) -> None:
        self.write(
            "INSERT INTO amazon_feeds (target, batch_key, feed_id, lines, submitted_us) "
            "VALUES (?,?,?,?,?) ON CONFLICT (target, batch_key) DO UPDATE SET "
            "feed_id = excluded.feed_id, lines = excluded.lines, "
            "submitted_us = excluded.submitted_us",
            (target, batch_key, feed_id, orjson.dumps(lines).decode(), now_us),
        )

    def open_feeds(self, target: str) -> list[OpenFeed]:
        rows = self.read(
            "SELECT batch_key, feed_id, lines, submitted_us FROM amazon_feeds "
            "WHERE target = ? ORDER BY submitted_us",
            (target,),
        )
        return [OpenFeed(r[0], r[1], [(k, s) for k, s in orjson.loads(r[2])], r[3]) for r in rows]

    def feed_finished(self, target: str, batch_key: str) -> None:
        self.write(
            "DELETE FROM amazon_feeds WHERE target = ? AND batch_key = ?", (target, batch_key)
        )
