"""What the hub remembers per trading partner, in the partner's state folder.

One JSON file, read and rewritten under an exclusive lock, so the delivery target (in the
server) and the inbound pass (in `stockbridge edi poll`) can share it: the control
numbers handed out, the interchanges received (a re-sent one is recognised), the
interchanges sent and whether their 997 came back, and the depositor order numbers of
the 940s and 943s written (what a 945 or 944 refers to).
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

#: Interchange control numbers remembered per partner for the replay guard.
RECEIVED_KEPT = 50_000


def atomic_write(folder: Path, name: str, content: bytes) -> Path:
    """Write a file under a temporary name, then rename it: a reader never sees half."""
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / name
    temp = folder / f".{name}.tmp"
    with open(temp, "wb") as f:
        f.write(content)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temp, final)
    return final


def _empty() -> dict[str, Any]:
    return {
        "next_interchange": 1,
        "next_group": 1,
        "next_set": 1,
        "received": {},
        "sent": {},
        "documents": {},
        "references": {},
    }


class PartnerState:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.path = folder / "state.json"

    @contextmanager
    def locked(self) -> Iterator[dict[str, Any]]:
        """The state, to read and change; written back when the block ends cleanly."""
        self.folder.mkdir(parents=True, exist_ok=True)
        with open(self.folder / "state.lock", "a+") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                data = _empty()
                if self.path.exists():
                    data.update(json.loads(self.path.read_text()))
                yield data
                received = data["received"]
                if len(received) > RECEIVED_KEPT:
                    for key in list(received)[: len(received) - RECEIVED_KEPT]:
                        del received[key]
                atomic_write(self.folder, self.path.name, json.dumps(data, indent=1).encode())
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def read(self) -> dict[str, Any]:
        data = _empty()
        if self.path.exists():
            data.update(json.loads(self.path.read_text()))
        return data


def take_numbers(data: dict[str, Any], sets: int = 1) -> tuple[int, int, int]:
    """The next interchange, group and first set control numbers (wrapping at 9 digits)."""
    interchange, group, first = data["next_interchange"], data["next_group"], data["next_set"]
    data["next_interchange"] = interchange % 999_999_999 + 1
    data["next_group"] = group % 999_999_999 + 1
    data["next_set"] = (first + sets - 1) % 9_999 + 1
    return interchange, group, first
