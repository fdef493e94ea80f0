"""Service level rules: which workflow a push measures, judging, compliance, episodes."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from stockbridge.app.slas import objectives
from stockbridge.app.targets import TargetIn
from stockbridge.config import ConfigError, Settings, load_settings_from
from stockbridge.domain.model import EventType
from stockbridge.domain.slas import (
    CANARY_SOURCE,
    LATENCY_BUCKETS,
    Compliance,
    Objective,
    Transition,
    Workflow,
    compliance,
    judge,
    latency_bucket,
    push_workflow,
    transition,
)

S = 1_000_000
SALES = Objective("store_sale_to_channel", 60, 0.99, 3600, min_samples=10)


def test_a_delivery_is_met_missed_or_waiting() -> None:
    assert judge(0, 60 * S, 100 * S, 60 * S) == "met"
    assert judge(0, 60 * S + 1, 100 * S, 60 * S) == "missed"
    assert judge(0, None, 61 * S, 60 * S) == "missed"
    assert judge(0, None, 60 * S, 60 * S) == "waiting"


def test_compliance_judges_only_what_occurred_in_the_window() -> None:
    now = 4000 * S
    pairs = [
        (now - 3700 * S, None),  # before the window: not judged
        (now - 100 * S, now - 90 * S),  # met
        (now - 100 * S, now - 10 * S),  # delivered late
        (now - 100 * S, None),  # undelivered past the target
        (now - 5 * S, None),  # still within the target
    ]
    c = compliance(pairs, now, SALES)
    assert c == Compliance(met=1, missed=2, waiting=1)
    assert c.ratio == pytest.approx(1 / 3)
    assert compliance([], now, SALES).ratio is None


def test_a_breach_needs_enough_judged_deliveries_below_objective() -> None:
    few = Compliance(met=0, missed=9, waiting=0)
    many = Compliance(met=95, missed=5, waiting=3)
    assert transition(False, few, SALES) is None
    assert transition(False, many, SALES) is Transition.BREACH
    assert transition(False, Compliance(99, 1, 0), SALES) is None


def test_an_episode_stays_open_until_compliance_returns_then_recovers_once() -> None:
    # While breached, fewer samples than min_samples do not end the episode...
    assert transition(True, Compliance(met=1, missed=1, waiting=0), SALES) is None
    assert transition(True, Compliance(met=95, missed=5, waiting=0), SALES) is None
    # ...compliance back at the objective, or nothing judged in the window, does
    assert transition(True, Compliance(met=99, missed=1, waiting=0), SALES) is Transition.RECOVERY
    assert transition(True, Compliance(0, 0, 4), SALES) is Transition.RECOVERY
    # And a recovered workflow meeting its objective raises nothing again
    assert transition(False, Compliance(99, 1, 0), SALES) is None


def test_a_push_measures_canary_then_sale_then_reservation() -> None:
    sale, reserve = EventType.SALE, EventType.RESERVE
    assert push_workflow([("pos", reserve), ("pos", sale)]) is Workflow.STORE_SALE_TO_CHANNEL
    assert push_workflow([("web", reserve)]) is Workflow.RESERVATION_TO_CHANNEL
    assert push_workflow([("pos", sale), (CANARY_SOURCE, EventType.COUNT)]) is Workflow.CANARY
    assert push_workflow([("wms", EventType.RECEIPT)]) is None


def test_latency_buckets_hold_their_upper_bound() -> None:
    assert latency_bucket(0) == 0
    assert latency_bucket(int(0.05 * S)) == 0
    assert latency_bucket(int(0.05 * S) + 1) == 1
    assert latency_bucket(3600 * S) == len(LATENCY_BUCKETS) - 1
    assert latency_bucket(3600 * S + 1) == len(LATENCY_BUCKETS)


def test_the_five_workflows_and_the_canary_are_on_by_default() -> None:
    found = {o.workflow: o for o in objectives(Settings().slas)}
    assert list(found) == [w.value for w in Workflow]
    assert found["store_sale_to_channel"].target_seconds == 60
    assert found["store_sale_to_channel"].objective == 0.99
    assert found["ticket_to_erp"].target_seconds == 900


def test_sla_settings_are_checked_and_name_the_key() -> None:
    settings = load_settings_from(
        {"slas": {"order_to_erp": {"target_seconds": 120, "objective": 0.95, "enabled": False}}}
    )
    assert "order_to_erp" not in {o.workflow for o in objectives(settings.slas)}
    with pytest.raises(ConfigError, match=r"slas\.return_to_erp\.objective"):
        load_settings_from({"slas": {"return_to_erp": {"target_seconds": 60, "objective": 1.5}}})
    with pytest.raises(ConfigError, match=r"slas\.ticket_to_pos"):
        load_settings_from({"slas": {"ticket_to_pos": {"target_seconds": 60}}})


def test_only_a_webhook_target_takes_alerts() -> None:
    assert TargetIn.model_validate({"url": "https://ops.example.com/hook", "alerts": True}).alerts
    with pytest.raises(ValidationError, match="only a webhook target receives alerts"):
        TargetIn.model_validate({"kind": "csv", "alerts": True})
