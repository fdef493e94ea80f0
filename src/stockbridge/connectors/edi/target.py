"""The x12 delivery target: ERP postings that concern a 3PL become X12 files in the
partner's outbound folder (see `outbound.py` for which ones).

A file is written under a temporary name and renamed, so the warehouse (or the transfer
agent that carries the folder to it) never picks up half a file. A delivery retried after
its file was written is not written twice: the partner's state remembers each delivery's
idempotency key. The target never sleeps; writing a file takes no rate limit.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import httpx

from ...app.ports import Delivery
from ...app.targets import TargetIn
from ...config import ConfigError
from ..webhook import SendResult
from .config import PartnerSettings, X12TargetSettings, partner_from_file
from .outbound import Outgoing, Unsendable, plan
from .state import PartnerState, atomic_write, take_numbers
from .x12 import GroupOut, SetOut, write


def write_interchange(
    partner: PartnerSettings,
    prefix: str,
    interchange: int,
    groups: Sequence[GroupOut],
    now: datetime,
    notes: Sequence[Sequence[str]] = (),
) -> str:
    """Write one interchange from the hub to the partner into its outbound folder, as
    `PREFIX-<ISA13>.x12`; the file name."""
    text = write(
        partner.hub,
        partner.warehouse,
        interchange,
        groups,
        partner.version,
        now.astimezone(partner.zone),
        partner.x12_delimiters(),
        test=partner.test,
        notes=notes,
    )
    name = f"{prefix}-{interchange:09d}.x12"
    atomic_write(partner.outbound, name, text.encode())
    return name


def write_outgoing(
    partner: PartnerSettings, out: Outgoing, key: str, delivery_id: int | None, now: datetime
) -> str | None:
    """Write one document as its own interchange; the file name (already written: the
    name written then), or None when there is nothing to write: a cancellation of a
    document never sent, or a document cancelled before it was sent."""
    state = PartnerState(partner.state_folder)
    key = out.key or key
    with state.locked() as data:
        done = data["documents"].get(key)
        if done is not None:
            return str(done["file"]) if done["file"] else None
        sent = data["documents"].get(out.cancels or "", {}).get("file")
        void = (out.cancels is not None and not sent) or f"{key}:cancel" in data["documents"]
        if void:
            data["documents"][key] = {"file": None, "interchange": None}
            return None
        interchange, group, first = take_numbers(data)
        groups = [GroupOut(out.functional_id, group, [SetOut(out.set_id, first, out.body)])]
        name = write_interchange(partner, out.set_id, interchange, groups, now)
        data["documents"][key] = {"file": name, "interchange": interchange}
        data["references"][out.depositor_order] = out.reference
        data["sent"][str(interchange)] = {
            "at": now.isoformat(),
            "file": name,
            "functional_id": out.functional_id,
            "group": group,
            "set": out.set_id,
            "depositor_order": out.depositor_order,
            "delivery": delivery_id,
            "key": key,
            "ack": None,
        }
        return name


class X12Target:
    def __init__(
        self,
        name: str,
        config: TargetIn,
        client: httpx.AsyncClient,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.name = name
        self.config = config
        self.settings = X12TargetSettings.model_validate(config.platform)
        self._partner: tuple[X12TargetSettings, PartnerSettings] | None = None
        self.now = now

    def partner(self) -> PartnerSettings:
        """The partner from the configuration file, read again when the target changes."""
        settings = X12TargetSettings.model_validate(self.config.platform)
        if self._partner is None or self._partner[0] != settings:
            self._partner = (settings, partner_from_file(settings.config, settings.partner))
        return self._partner[1]

    async def send(self, delivery: Delivery) -> SendResult:
        started = time.perf_counter()

        def done(status: int | None, error: str | None = None, file: str = "") -> SendResult:
            headers = {"X-X12-File": file} if file else {}
            return SendResult(status, headers, error, (time.perf_counter() - started) * 1000)

        try:
            partner = self.partner()
        except ConfigError as e:
            return done(None, str(e))
        payload = delivery.payload
        if delivery.kind != "posting" or not isinstance(payload, dict):
            return done(422, "an x12 target takes postings (sales orders, transfer shipments)")
        try:
            out = plan(partner, payload)
        except Unsendable as e:
            return done(422, f"cannot write this posting as X12: {e}")
        if out is None:
            return done(204)
        try:
            name = await asyncio.to_thread(
                write_outgoing, partner, out, delivery.idempotency_key, delivery.id, self.now()
            )
        except OSError as e:
            return done(None, f"cannot write to {partner.outbound}: {e}")
        if name is None:
            return done(204)
        return done(200, file=str(Path(partner.outbound) / name))

    async def send_batch(self, deliveries: list[Delivery]) -> SendResult:
        """Postings go one by one; a batch is sent as such, refusals kept per delivery."""
        started = time.perf_counter()
        rejected: dict[int, str] = {}
        for d in deliveries:
            result = await self.send(d)
            if result.status is None or result.status >= 500:
                return result
            if result.status >= 400:
                rejected[d.id] = result.error or f"status {result.status}"
        return SendResult(200, {}, None, (time.perf_counter() - started) * 1000, rejected)
