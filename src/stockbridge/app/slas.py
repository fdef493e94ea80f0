"""Service levels: compliance per workflow over its rolling window, and breach episodes.

A breach opens an exception (reason `sla_breach`) and queues an `alert` delivery to
every alert target, in one transaction; recovery resolves the exception and alerts
again. The episode row makes both happen once, whichever hub process sees it first.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..config import SlasSettings
from ..domain.model import from_micros, to_micros
from ..domain.slas import Compliance, Objective, Transition, Workflow, meets, transition
from .ports import Clock, ExceptionRecord, NewDelivery, Store


def objectives(settings: SlasSettings) -> list[Objective]:
    """The enabled workflows' objectives, in the order Workflow lists them."""
    out = []
    for workflow in Workflow:
        s = getattr(settings, workflow.value)
        if s.enabled:
            out.append(
                Objective(
                    workflow.value, s.target_seconds, s.objective, s.window_seconds, s.min_samples
                )
            )
    return out


@dataclass(frozen=True, slots=True)
class SlaStatus:
    objective: Objective
    compliance: Compliance
    #: Since when (µs) the workflow has been in breach; None when it is not.
    breached_since_us: int | None

    @property
    def meeting(self) -> bool:
        return meets(self.compliance, self.objective)

    def view(self) -> dict[str, Any]:
        o, c = self.objective, self.compliance
        return {
            "workflow": o.workflow,
            "target_seconds": o.target_seconds,
            "objective": o.objective,
            "window_seconds": o.window_seconds,
            "min_samples": o.min_samples,
            "met": c.met,
            "missed": c.missed,
            "waiting": c.waiting,
            "compliance": c.ratio,
            "meeting_objective": self.meeting,
            "breached": self.breached_since_us is not None,
            "breached_since": (
                from_micros(self.breached_since_us) if self.breached_since_us is not None else None
            ),
        }


class SlaService:
    def __init__(self, store: Store, clock: Clock, settings: SlasSettings) -> None:
        self.store = store
        self.clock = clock
        self.objectives = objectives(settings)

    def report(self) -> list[SlaStatus]:
        now_us = to_micros(self.clock.now())
        breaches = self.store.sla_breaches()
        return [
            SlaStatus(
                o,
                self.store.sla_compliance(o.workflow, now_us - o.window_us, now_us, o.target_us),
                breaches.get(o.workflow),
            )
            for o in self.objectives
        ]

    def evaluate(self) -> list[tuple[str, Transition]]:
        """Open or close breach episodes as compliance moved; returns what changed."""
        changed: list[tuple[str, Transition]] = []
        for status in self.report():
            move = transition(
                status.breached_since_us is not None, status.compliance, status.objective
            )
            if move is None:
                continue
            now_us = to_micros(self.clock.now())
            view = status.view()
            alerts = self._alerts(move, view, now_us)
            workflow = status.objective.workflow
            if move is Transition.BREACH:
                done = self.store.open_sla_breach(
                    workflow, _breach_detail(status), view, alerts, now_us
                )
            else:
                done = self.store.close_sla_breach(workflow, _recovery_note(status), alerts, now_us)
            if done:
                changed.append((workflow, move))
        return changed

    def _alerts(self, move: Transition, view: dict[str, Any], now_us: int) -> list[NewDelivery]:
        kind = "sla_breach" if move is Transition.BREACH else "sla_recovered"
        workflow = view["workflow"]
        body = {"type": kind, "at": from_micros(now_us), **view}
        return _to_alert_targets(
            self._alert_targets(), f"sla/{workflow}", f"{kind}:{workflow}:{now_us}", body, now_us
        )

    def alert_overdue(self, records: Sequence[ExceptionRecord]) -> None:
        """Alert every alert target of exceptions found open past their SLA (once each:
        the idempotency key is the exception's)."""
        if not records:
            return
        now_us = to_micros(self.clock.now())
        # The alert targets are read once for every record.
        targets = self._alert_targets()
        alerts = [
            alert
            for r in records
            for alert in _to_alert_targets(
                targets,
                f"exception/{r.id}",
                f"exception_overdue:{r.id}",
                {
                    "type": "exception_overdue",
                    "at": from_micros(now_us),
                    "exception_id": r.id,
                    "reason": r.reason,
                    "source": r.source,
                    "detail": r.detail,
                    "created_at": from_micros(r.created_us),
                },
                now_us,
            )
        ]
        if alerts:
            self.store.queue_alerts(alerts, now_us)

    def _alert_targets(self) -> list[str]:
        """The targets that take alerts, in name order."""
        targets = sorted(self.store.targets().items())
        return [name for name, (config, _) in targets if config.get("alerts")]


def _to_alert_targets(
    targets: Sequence[str], key: str, idempotency_key: str, body: dict[str, Any], now_us: int
) -> list[NewDelivery]:
    return [
        NewDelivery(
            target=name,
            kind="alert",
            key=key,
            idempotency_key=idempotency_key,
            payload=body,
            priority=0,
            causes=[],
            occurred_us=now_us,
        )
        for name in targets
    ]


def _percent(ratio: float | None) -> str:
    return "no deliveries" if ratio is None else f"{ratio:.1%}"


def _breach_detail(s: SlaStatus) -> str:
    o, c = s.objective, s.compliance
    return (
        f"{o.workflow}: {_percent(c.ratio)} of {c.judged} deliveries within "
        f"{o.target_seconds:g} s over the last {o.window_seconds:g} s "
        f"(objective {o.objective:.1%}); {c.missed} missed"
    )


def _recovery_note(s: SlaStatus) -> str:
    return f"recovered: {_percent(s.compliance.ratio)} within target"
