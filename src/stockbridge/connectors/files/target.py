"""The `csv` delivery target: availability written as CSV files in a folder.

For systems that only take files. "snapshot" keeps one file per channel with every SKU's
latest value, rewritten at each send; "delta" writes one new file per send. Every file is
written under a hidden temporary name and renamed into place (then its marker, if asked),
so a reader sees a whole file or none. Folder trouble (missing mount, full disk) is a
failed attempt, retried like a network error; postings and prices are refused (422): this
target takes availability only.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from ...app.ports import Delivery
from ...app.targets import TargetIn
from ..webhook import SendResult
from . import feed
from .config import CsvFeedTargetSettings
from .folder import write_atomically


class CsvFeedTarget:
    def __init__(self, name: str, config: TargetIn, client: httpx.AsyncClient) -> None:
        self.name = name
        self.config = config
        # Sends of one target are written one at a time: a snapshot is read, merged and
        # replaced as a whole.
        self._writing = asyncio.Lock()

    @property
    def settings(self) -> CsvFeedTargetSettings:
        return CsvFeedTargetSettings.model_validate(self.config.platform)

    async def send(self, delivery: Delivery) -> SendResult:
        return await self.send_batch([delivery])

    async def send_batch(self, deliveries: list[Delivery]) -> SendResult:
        started = time.perf_counter()
        refused = {
            d.id: f"a csv feed takes availability only, not {d.kind}"
            for d in deliveries
            if d.kind != "availability"
        }
        if len(refused) == len(deliveries):
            return SendResult(422, {}, next(iter(refused.values())), _ms(started))
        pushes = [(d.id, d.payload) for d in deliveries if d.id not in refused]
        settings = self.settings
        try:
            async with self._writing:
                await asyncio.to_thread(self._write, pushes, settings, datetime.now(UTC))
        except OSError as e:
            return SendResult(None, {}, f"{type(e).__name__}: {e}", _ms(started))
        return SendResult(200, {}, None, _ms(started), refused)

    def _write(
        self,
        pushes: list[tuple[int, dict[str, object]]],
        settings: CsvFeedTargetSettings,
        now: datetime,
    ) -> None:
        folder = Path(settings.folder)
        for name, rows in feed.group_by_file(pushes, settings, now).items():
            path = folder / name
            if settings.mode == "snapshot" and path.is_file():
                rows = feed.merge(feed.read(path.read_text(encoding="utf-8"), settings), rows)
            elif settings.mode == "snapshot":
                rows = feed.merge([], rows)
            write_atomically(path, feed.render(rows, settings))
            if settings.marker_suffix:
                write_atomically(path.with_name(path.name + settings.marker_suffix), "")


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
