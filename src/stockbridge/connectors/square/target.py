"""The Square delivery target: BatchChangeInventory (`POST /v2/inventory/changes/batch-create`).

Availability pushes become PHYSICAL_COUNTs and postings ADJUSTMENTs (see `changes`).
One call carries at most `max_changes_per_request` changes; a larger batch goes as
several calls. Each call's idempotency key is derived from its deliveries' keys and its
body, so a retry of the same request replays Square's first answer instead of booking
twice. Square's answers are mapped for the dispatcher: 429 RATE_LIMITED stays 429 (Square
sends no Retry-After: the dispatcher's backoff waits); errors whose `field` names a change
refuse that delivery alone, and the rest are sent again without it; other errors fail
the whole request with their status and code.
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from ...app.ports import ConnectorState, Delivery
from ...app.targets import TargetIn
from ...delivery.policy import RETRYABLE_4XX
from ..mapping import externals
from ..webhook import SendResult
from .changes import Planned, Refused, plan
from .config import SquareTargetSettings
from .protocol import VERSION_HEADER, change_index, describe

log = logging.getLogger(__name__)

PATH = "/v2/inventory/changes/batch-create"


def idempotency_key(deliveries: list[Delivery], changes: list[dict[str, Any]]) -> str:
    """Stable for the same deliveries and body; 67 characters (Square allows 128)."""
    digest = hashlib.sha256()
    for key in sorted(d.idempotency_key for d in deliveries):
        digest.update(key.encode() + b"\n")
    digest.update(orjson.dumps(changes))
    return "sb-" + digest.hexdigest()


@dataclass(slots=True)
class _Call:
    """One BatchChangeInventory request: its changes and the delivery of each."""

    owners: list[Delivery] = field(default_factory=list)
    changes: list[dict[str, Any]] = field(default_factory=list)

    def deliveries(self) -> list[Delivery]:
        return list({d.id: d for d in self.owners}.values())


@dataclass(slots=True)
class _Outcome:
    status: int | None
    headers: dict[str, str]
    error: str | None
    rejected: dict[int, str] = field(default_factory=dict)
    #: Status of a call that failed for good, if any.
    failed: int | None = None


def _retryable(status: int | None) -> bool:
    return status is None or status in RETRYABLE_4XX or status >= 500


class SquareTarget:
    #: Reads cross references from the hub's database (mapping = "xrefs").
    uses_state = True
    #: Square's 24-hour `occurred_at` rule is kept on the hub's clock.
    uses_clock = True

    def __init__(
        self,
        name: str,
        config: TargetIn,
        client: httpx.AsyncClient,
        *,
        state: ConnectorState | None = None,
        env: Mapping[str, str] | None = None,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        self.name = name
        self.config = config
        self.client = client
        self.state = state
        self.env = os.environ if env is None else env
        self.now = now or (lambda: datetime.now(UTC))
        self._settings: tuple[dict[str, Any], SquareTargetSettings] | None = None

    @property
    def settings(self) -> SquareTargetSettings:
        # The dispatcher swaps in a new config when the target is reconfigured.
        if self._settings is None or self._settings[0] is not self.config.platform:
            model = SquareTargetSettings.model_validate(self.config.platform)
            self._settings = (self.config.platform, model)
        return self._settings[1]

    async def send(self, delivery: Delivery) -> SendResult:
        return await self.send_batch([delivery])

    async def send_batch(self, deliveries: list[Delivery]) -> SendResult:
        started = time.perf_counter()
        outcome = await self._deliver(deliveries)
        elapsed = (time.perf_counter() - started) * 1000
        if outcome.status == 200 and all(d.id in outcome.rejected for d in deliveries):
            # Nothing went through: the request's status says so too.
            reason = outcome.rejected[deliveries[0].id]
            return SendResult(outcome.failed or 422, {}, reason, elapsed, outcome.rejected)
        return SendResult(outcome.status, outcome.headers, outcome.error, elapsed, outcome.rejected)

    def _mapped(
        self, settings: SquareTargetSettings, deliveries: list[Delivery]
    ) -> SquareTargetSettings:
        """With mapping = "xrefs", the settings with the catalog objects and Square
        locations of this batch's SKUs and locations read from the cross references."""
        if settings.mapping == "settings":
            return settings
        source = settings.xref_source or self.name
        skus = [str(d.payload.get("sku")) for d in deliveries]
        places = [str(d.payload.get("location")) for d in deliveries if d.payload.get("location")]
        items = externals(self.state, source, "item", skus)
        sites = externals(self.state, source, "location", places)
        return settings.model_copy(
            update={
                "catalog": {k: v for k, v in items.items() if isinstance(v, str)},
                "locations": {k: v for k, v in sites.items() if isinstance(v, str)},
            }
        )

    async def _deliver(self, deliveries: list[Delivery]) -> _Outcome:
        settings = self._mapped(self.settings, deliveries)
        token = self.env.get(settings.access_token_env)
        if not token:
            # Held back, not refused: deliveries flow once the variable is set.
            return _Outcome(
                None,
                {},
                f"platform.access_token_env: environment variable "
                f"{settings.access_token_env} is not set",
            )
        rejected: dict[int, str] = {}
        failed: int | None = None
        for call in self._calls(deliveries, settings, rejected):
            outcome, sent = await self._call(call, settings, token, rejected)
            if _retryable(outcome.status):
                # The rest waits for the retry; calls already made replay idempotently.
                outcome.rejected = rejected
                return outcome
            if outcome.status is not None and outcome.status >= 300:
                failed = outcome.status
                reason = outcome.error or f"HTTP {outcome.status}"
                for d in sent:
                    rejected.setdefault(d.id, reason)
        return _Outcome(200, {}, None, rejected, failed)

    def _calls(
        self,
        deliveries: list[Delivery],
        settings: SquareTargetSettings,
        rejected: dict[int, str],
    ) -> list[_Call]:
        now = self.now()
        calls: list[_Call] = []
        current = _Call()
        for d in deliveries:
            planned = plan(d.payload, settings, now)
            if isinstance(planned, Refused):
                rejected[d.id] = planned.reason
                continue
            assert isinstance(planned, Planned)
            if planned.redated:
                log.warning("target %s: delivery %s re-dated into Square's window", self.name, d.id)
            if len(current.changes) + len(planned.changes) > settings.max_changes_per_request:
                calls.append(current)
                current = _Call()
            for change in planned.changes:
                current.owners.append(d)
                current.changes.append(change)
        if current.changes:
            calls.append(current)
        return calls

    async def _call(
        self,
        call: _Call,
        settings: SquareTargetSettings,
        token: str,
        rejected: dict[int, str],
    ) -> tuple[_Outcome, list[Delivery]]:
        """One request, and the deliveries it carried last; changes refused one by one
        are dropped and the rest sent again."""
        while call.changes:
            outcome, errors = await self._post(call, settings, token)
            refused = _attribute(call, errors)
            if errors and refused is None:
                # Errors that name no change: the whole request fails with them.
                status = outcome.status if outcome.status and outcome.status >= 400 else 422
                return _Outcome(status, outcome.headers, describe(errors)), call.deliveries()
            if not refused or outcome.status == 200:
                rejected.update(refused or {})
                return outcome, call.deliveries()
            rejected.update(refused)
            kept = [i for i, d in enumerate(call.owners) if d.id not in refused]
            call = _Call([call.owners[i] for i in kept], [call.changes[i] for i in kept])
        return _Outcome(200, {}, None), []

    async def _post(
        self, call: _Call, settings: SquareTargetSettings, token: str
    ) -> tuple[_Outcome, list[Any]]:
        body = {
            "idempotency_key": idempotency_key(call.deliveries(), call.changes),
            "changes": call.changes,
            "ignore_unchanged_counts": True,
        }
        headers = {
            "Authorization": f"Bearer {token}",
            VERSION_HEADER: settings.square_version,
            "Content-Type": "application/json",
        }
        url = self.config.address.rstrip("/") + PATH
        try:
            response = await self.client.post(
                url,
                content=orjson.dumps(body),
                headers=headers,
                timeout=self.config.timeout_seconds,
            )
        except httpx.TimeoutException:
            return _Outcome(None, {}, "timeout"), []
        except httpx.HTTPError as e:
            return _Outcome(None, {}, f"{type(e).__name__}: {e}"), []
        errors = _errors(response)
        error = (
            None if response.is_success else (describe(errors) if errors else response.text[:500])
        )
        return _Outcome(response.status_code, dict(response.headers), error), errors


def _errors(response: httpx.Response) -> list[Any]:
    try:
        body = response.json()
    except ValueError:
        return []
    errors = body.get("errors") if isinstance(body, dict) else None
    return errors if isinstance(errors, list) else []


def _attribute(call: _Call, errors: list[Any]) -> dict[int, str] | None:
    """Delivery id -> reason when every error names a change of this call, else None."""
    refused: dict[int, list[str]] = {}
    for e in errors:
        index = change_index(e.get("field")) if isinstance(e, dict) else None
        if index is None or index >= len(call.owners):
            return None
        refused.setdefault(call.owners[index].id, []).append(describe([e]))
    return {d: "; ".join(reasons) for d, reasons in refused.items()}
