"""The folders of a drop: which files are complete, where they go after, what was seen.

Files are only taken once complete: under the "marker" convention when the marker file
stands beside them, under "rename" when they carry their final name (producers write
under a temporary name, `.tmp`/`.filepart`..., then rename). Files written here (feeds,
error files, the sequence record) are written under a temporary name and renamed, so a
reader never sees half of one.
"""

from __future__ import annotations

import csv
import fnmatch
import io
import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .config import TEMP_SUFFIXES, SourceSettings
from .parse import LineError

#: The sequence record kept in a source's archive folder.
SEQUENCE_FILE = ".sequence.json"


def complete_files(folder: Path, settings: SourceSettings) -> list[Path]:
    """The drops ready to take, in order: by sequence number when there is one, else name."""
    if not folder.is_dir():
        return []
    names = {p.name for p in folder.iterdir() if p.is_file()}
    ready = []
    for name in names:
        if name.startswith(".") or name.endswith(TEMP_SUFFIXES):
            continue
        if not fnmatch.fnmatchcase(name, settings.pattern):
            continue
        marker = settings.marker_suffix
        if settings.complete == "marker" and (name.endswith(marker) or name + marker not in names):
            continue
        ready.append(folder / name)
    return sorted(ready, key=lambda p: (sequence_of(p.name, settings.sequence) or 0, p.name))


def sequence_of(name: str, pattern: str | None) -> int | None:
    if pattern is None:
        return None
    found = re.search(pattern, name)
    if found is None or not found.group(1).isdigit():
        return None
    return int(found.group(1))


@dataclass
class SequenceBook:
    """The last sequence number taken, and numbers skipped that have not arrived since."""

    last: int | None = None
    missing: list[int] = field(default_factory=list)

    @classmethod
    def load(cls, folder: Path) -> SequenceBook:
        path = folder / SEQUENCE_FILE
        if not path.is_file():
            return cls()
        data = json.loads(path.read_text())
        return cls(data.get("last"), list(data.get("missing", [])))

    def save(self, folder: Path) -> None:
        write_atomically(
            folder / SEQUENCE_FILE, json.dumps({"last": self.last, "missing": self.missing})
        )

    def take(self, number: int) -> Taken:
        """Record a file's number: what it skipped, or which gap it fills."""
        if self.last is None or number == self.last + 1:
            self.last = number
            return Taken()
        if number > self.last + 1:
            skipped = list(range(self.last + 1, number))
            self.missing = sorted({*self.missing, *skipped})
            self.last = number
            return Taken(skipped=skipped)
        if number in self.missing:
            self.missing.remove(number)
            return Taken(late=True)
        return Taken(reused=True)


@dataclass(frozen=True)
class Taken:
    #: Numbers between the last one and this one that never came.
    skipped: list[int] = field(default_factory=list)
    #: The number was missing: this file fills a gap.
    late: bool = False
    #: The number was taken already (a re-drop, or a producer reusing numbers).
    reused: bool = False


def write_atomically(path: Path, text: str, encoding: str = "utf-8") -> None:
    """Write under a hidden temporary name, flush to disk, then rename over `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    with open(temp, "w", encoding=encoding, newline="") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(temp, path)


def move_aside(path: Path, folder: Path) -> Path:
    """Move a taken file into `folder`, never over an earlier one of the same name."""
    folder.mkdir(parents=True, exist_ok=True)
    dest = folder / path.name
    n = 1
    while dest.exists() or error_file_for(dest).exists():
        dest = folder / f"{path.stem}.{n}{path.suffix}"
        n += 1
    os.replace(path, dest)
    return dest


def error_file_for(kept: Path) -> Path:
    """Where a file's line errors are listed: beside it, `<stem>.errors.csv`."""
    return kept.with_name(f"{kept.stem}.errors.csv")


def error_csv(errors: Iterable[LineError]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["line", "column", "value", "message"])
    for e in errors:
        writer.writerow([e.line, e.column, e.value, e.message])
    return out.getvalue()
