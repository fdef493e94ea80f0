"""What platform connectors keep in the hub's database, on both backends: cross
references read backwards, the inbox of deferred platform reads, Amazon feeds in
processing."""

from __future__ import annotations

from stockbridge.adapters.sql_store import SqlStore
from stockbridge.domain.model import Xref, XrefKind


def test_cross_references_are_read_from_the_enterprise_side(store: SqlStore) -> None:
    # Given a source whose item references hold a variant and an inventory item for TEE-M
    store.upsert_xrefs(
        [
            Xref("shop", XrefKind.ITEM, "gid://shopify/ProductVariant/1", "TEE-M"),
            Xref("shop", XrefKind.ITEM, "gid://shopify/InventoryItem/2", "TEE-M"),
            Xref("shop", XrefKind.LOCATION, "gid://shopify/Location/3", "DC"),
            Xref("other", XrefKind.ITEM, "X-9", "TEE-M"),
        ],
        1,
    )
    # When the codes are read back for SKUs and a location
    items = store.xrefs_for_codes("shop", "item", ["TEE-M", "MUG"])
    places = store.xrefs_for_codes("shop", "location", ["DC"])
    # Then each SKU gets every code of that source and kind, and nothing for the unmapped
    assert items == {"TEE-M": ["gid://shopify/InventoryItem/2", "gid://shopify/ProductVariant/1"]}
    assert places == {"DC": ["gid://shopify/Location/3"]}


def test_the_inbox_keeps_one_entry_per_key_until_done(store: SqlStore) -> None:
    # Given a deferred read kept twice under the same key (a redelivery)
    assert store.inbox_add("sq", "e-1:ORD1", {"order_id": "ORD1"}, 100)
    assert not store.inbox_add("sq", "e-1:ORD1", {"order_id": "ORD1"}, 150)
    # When its read fails and is put off
    (due,) = store.inbox_due(200, 10)
    assert (due.connector, due.key, due.payload, due.attempts) == (
        "sq",
        "e-1:ORD1",
        {"order_id": "ORD1"},
        0,
    )
    store.inbox_retry(due.id, 1_000, "SquareUnavailable: HTTP 503")
    # Then it is not due before its time, and keeps its attempts and error
    assert store.inbox_due(999, 10) == []
    (waiting,) = store.inbox_pending("sq")
    assert (waiting.attempts, waiting.last_error) == (1, "SquareUnavailable: HTTP 503")
    # And once done it is gone
    store.inbox_done(waiting.id)
    assert store.inbox_pending() == []


def test_a_submitted_feed_is_kept_until_finished(store: SqlStore) -> None:
    lines = [("key-1", "AMZ-TEE"), ("key-2", "MUG")]
    store.feed_submitted("amz", "batch-a", "50001", lines, 10)
    store.feed_submitted("other", "batch-b", "50002", lines, 20)
    (feed,) = store.open_feeds("amz")
    assert (feed.batch_key, feed.feed_id, feed.lines, feed.submitted_us) == (
        "batch-a",
        "50001",
        lines,
        10,
    )
    store.feed_finished("amz", "batch-a")
    assert store.open_feeds("amz") == []
    assert [f.feed_id for f in store.open_feeds("other")] == ["50002"]
