"""Postings are filed under their events' correlation ids, however many one transaction
queues (they are inserted a chunk per statement, ids matched back by idempotency key)."""

from __future__ import annotations

from stockbridge.adapters.delivery_store import NAMED_CHUNK
from stockbridge.adapters.sql_store import SqlStore
from stockbridge.app.ports import NewDelivery

NOW = 1_000_000_000


def posting(target: str, n: int, key: str | None = None) -> NewDelivery:
    return NewDelivery(
        target,
        "posting",
        f"SKU-{n % 7}/S1",
        key or f"pos:e{n}",
        {"event": n},
        2,
        [f"pos/e{n}"],
        correlation_ids=(f"order:web:{n}", f"event:pos:e{n}"),
    )


def test_every_posting_is_found_by_each_of_its_correlation_ids(store: SqlStore) -> None:
    # Given more postings than one statement takes, to two targets, in one transaction
    count = NAMED_CHUNK + 37
    rows = [posting(t, n) for n in range(count) for t in ("erp", "wms")]
    with store.transaction() as tx:
        tx.enqueue_deliveries(rows, NOW)
    # Then each correlation id finds exactly its own event's postings, one per target
    for n in (0, NAMED_CHUNK - 1, NAMED_CHUNK, count - 1):
        for cid in (f"order:web:{n}", f"event:pos:e{n}"):
            found = store.deliveries_by_correlation(cid, 10)
            assert sorted((d.target, d.payload["event"]) for d in found) == [
                ("erp", n),
                ("wms", n),
            ]


def test_two_postings_with_one_key_keep_their_own_correlations(store: SqlStore) -> None:
    # Given two deliveries to one target sharing an idempotency key (not something the
    # planners make, but the store must not mix them up)
    with store.transaction() as tx:
        tx.enqueue_deliveries([posting("erp", 1, "same"), posting("erp", 2, "same")], NOW)
    # Then each is found under its own correlation ids only
    assert [d.payload["event"] for d in store.deliveries_by_correlation("order:web:1", 10)] == [1]
    assert [d.payload["event"] for d in store.deliveries_by_correlation("order:web:2", 10)] == [2]
