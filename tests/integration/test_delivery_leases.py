"""Leases: a delivery whose dispatcher died mid-flight goes back to the queue.

The claim looks for run-out leases at most once a second per target (the look costs every
round under the write lock), so a run-out lease is taken again within a second of running
out, never before it runs out.
"""

from __future__ import annotations

from stockbridge.adapters.sql_store import SqlStore
from stockbridge.app.ports import NewDelivery

S = 1_000_000  # one second in µs
LEASE = 5 * S


def queue_posting(store: SqlStore, key: str, at_us: int) -> None:
    with store.transaction() as tx:
        tx.enqueue_deliveries(
            [NewDelivery("erp", "posting", key, f"post:{key}", {"key": key}, 2, [])], at_us
        )


def test_a_run_out_lease_is_claimed_again_within_a_second(store: SqlStore) -> None:
    # Given a posting claimed by a dispatcher that then died (its lease runs 5 s)
    store.put_target("erp", {"url": "http://127.0.0.1:9/erp", "postings": True}, 0)
    t0 = 1_000 * S
    queue_posting(store, "A/S1", t0)
    first = store.claim_deliveries("erp", t0, LEASE, 10)
    assert [d.key for d in first] == ["A/S1"]
    # When another dispatcher claims while the lease still runs, it gets nothing
    assert store.claim_deliveries("erp", t0 + LEASE - 1, LEASE, 10) == []
    # Then once the lease has run out, a claim within the next second takes it again,
    # with its attempt counted
    again = store.claim_deliveries("erp", t0 + LEASE + S, LEASE, 10)
    assert [(d.id, d.key) for d in again] == [(first[0].id, "A/S1")]
    assert again[0].attempts == first[0].attempts + 1


def test_claims_between_lease_checks_still_take_new_work(store: SqlStore) -> None:
    # Given a target whose leases were just looked at
    store.put_target("erp", {"url": "http://127.0.0.1:9/erp", "postings": True}, 0)
    t0 = 2_000 * S
    assert store.claim_deliveries("erp", t0, LEASE, 10) == []
    # When a posting is queued and claimed a moment later (no lease look this time)
    queue_posting(store, "B/S1", t0 + 1)
    claimed = store.claim_deliveries("erp", t0 + 2, LEASE, 10)
    # Then it is claimed at once, and not twice
    assert [d.key for d in claimed] == ["B/S1"]
    assert store.claim_deliveries("erp", t0 + 3, LEASE, 10) == []
