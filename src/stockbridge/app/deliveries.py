"""Operating delivery: targets (declare, pause, resume), deliveries, replays."""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from ..domain.errors import NotFound, StockbridgeError
from ..domain.model import from_micros, to_micros
from .ports import DECLARED, Clock, ConfigChange, Delivery, Store
from .targets import TargetIn, unset_credentials


class InvalidTarget(StockbridgeError):
    def __init__(self, name: str, problems: list[dict[str, str]]) -> None:
        super().__init__(
            f"target {name!r} is invalid: "
            + "; ".join(f"{p['field']}: {p['message']}" for p in problems)
        )
        self.problems = problems


class DeliveryService:
    def __init__(self, store: Store, clock: Clock, live: Any = None) -> None:
        self.store = store
        self.clock = clock
        #: The dispatcher running in this process, if any (circuit state, in flight).
        self.live = live

    def _now_us(self) -> int:
        return to_micros(self.clock.now())

    def put_target(self, name: str, body: Any, change: ConfigChange | None = None) -> TargetIn:
        try:
            target = TargetIn.model_validate(body)
        except ValidationError as e:
            raise InvalidTarget(
                name,
                [
                    {"field": ".".join(str(p) for p in err["loc"]) or "$", "message": err["msg"]}
                    for err in e.errors()
                ],
            ) from None
        self.store.put_target(name, target.model_dump(mode="json"), self._now_us(), change)
        return target

    def declare(self, targets: Mapping[str, Any], env: Mapping[str, str] | None = None) -> None:
        """Store the targets a configuration file declares, at start: a platform target
        whose credentials name an environment variable that is not set stops the start,
        rather than failing every send later."""
        env = os.environ if env is None else env
        for name, body in targets.items():
            target = self.put_target(name, body, DECLARED)
            missing = unset_credentials(target, env)
            if missing:
                raise InvalidTarget(
                    name, [{"field": key, "message": message} for key, message in missing]
                )

    def set_paused(self, name: str, paused: bool) -> None:
        if not self.store.set_target_paused(name, paused, self._now_us()):
            raise NotFound("target", name)

    def targets(self) -> list[dict[str, Any]]:
        now_us = self._now_us()
        stats = self.store.target_stats()
        live = self.live.snapshot() if self.live is not None else {}
        out = []
        for name, (raw, paused) in self.store.targets().items():
            depth, oldest, dead, saved = stats.get(name, (0, None, 0, 0))
            config = TargetIn.model_validate(raw)
            state = live.get(name, {})
            out.append(
                {
                    "name": name,
                    "paused": paused,
                    "backlog": depth,
                    "oldest_age_seconds": (now_us - oldest) / 1e6 if oldest is not None else None,
                    "dead_letters": dead,
                    # Pushes replaced by a newer value before they were sent: calls saved.
                    "pushes_saved": saved,
                    "circuit": state.get("circuit", {"state": "closed" if not live else "unknown"}),
                    "in_flight": state.get("in_flight", 0),
                    "sent": state.get("sent", 0),
                    "failed": state.get("failed", 0),
                    "last_error": state.get("last_error"),
                    "config": config.public(),
                }
            )
        return out

    def get(self, delivery_id: int) -> Delivery:
        found = self.store.delivery(delivery_id)
        if found is None:
            raise NotFound("delivery", str(delivery_id))
        return found

    def replay(self, delivery_id: int) -> Delivery:
        self.get(delivery_id)
        self.store.requeue([delivery_id], self._now_us())
        return self.get(delivery_id)

    def replay_dead_letters(
        self, target: str | None, since: datetime | None, until: datetime | None
    ) -> int:
        ids = self.store.dead_letter_ids(
            target,
            to_micros(since) if since else None,
            to_micros(until) if until else None,
        )
        return self.store.requeue(ids, self._now_us())


def delivery_view(d: Delivery, attempts: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": d.id,
        "target": d.target,
        "kind": d.kind,
        "key": d.key,
        "idempotency_key": d.idempotency_key,
        "state": d.state,
        "priority": d.priority,
        "attempts": d.attempts,
        "coalesced": d.coalesced,
        "created_at": from_micros(d.created_us),
        "updated_at": from_micros(d.updated_us),
        "next_attempt_at": from_micros(d.next_attempt_us),
        "delivered_at": from_micros(d.delivered_us) if d.delivered_us else None,
        "last_status": d.last_status,
        "last_error": d.last_error,
        "causes": d.causes,
        "payload": d.payload,
    }
    if attempts is not None:
        view["attempt_log"] = [{**a, "at": from_micros(a.pop("at_us"))} for a in attempts]
    return view
