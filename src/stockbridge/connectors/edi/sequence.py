"""Segment order, loops and mandatory segments of a transaction set, against its table.

Pure code. The body of a set is walked as a translator walks it: each segment is looked
for at or after the current place of the innermost loop it may belong to, then of the
loops around it; a loop ends when a segment that is not its own comes. What the walk
finds is reported with the AK304 codes of a 997:

- 2 unexpected segment: a segment of a loop that has not begun (a W12 with no LX);
- 3 mandatory segment missing: a mandatory segment (or loop) skipped, or absent at the
  end of its loop or of the set;
- 4 loop occurs over maximum times;
- 5 segment exceeds maximum use;
- 7 segment not in proper sequence: a segment of the set found after the place it had
  to come.

Segments the set does not hold (AK304 1 and 6) are reported by the caller and skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from .definitions import Pos, SetDef
from .x12 import Segment


@dataclass(frozen=True, slots=True)
class Finding:
    segment_id: str
    #: Position in the transaction set (ST is 1) where it was found or found missing.
    position: int
    code: str
    #: The segment's position in the file (None for a missing segment).
    index: int | None = None


def _ids(table: Sequence[Pos]) -> set[str]:
    out: set[str] = set()
    for pos in table:
        out.add(pos.id)
        out |= _ids(pos.loop)
    return out


class _Walk:
    def __init__(
        self,
        body: Sequence[Segment],
        position: Callable[[Segment], int],
        end: int,
        skip: Callable[[Segment], bool],
    ) -> None:
        self.body = body
        self.position = position
        self.end = end
        self.skip = skip
        self.i = 0
        self.found: list[Finding] = []

    def here(self) -> int:
        """The set position of the next segment (SE's when the body is done)."""
        return self.position(self.body[self.i]) if self.i < len(self.body) else self.end

    def missing(self, entries: Sequence[Pos], used: list[int], start: int, stop: int) -> None:
        for k in range(start, stop):
            if entries[k].required and used[k] == 0:
                self.found.append(Finding(entries[k].id, self.here(), "3"))

    def level(self, entries: Sequence[Pos], top: bool) -> None:
        """Walk one occurrence of a loop's segments after its first (or the whole table)."""
        place = 0
        used = [0] * len(entries)
        while self.i < len(self.body):
            seg = self.body[self.i]
            if self.skip(seg):
                self.i += 1
                continue
            match = next((k for k in range(place, len(entries)) if entries[k].id == seg.id), None)
            if match is None:
                if not top:
                    break  # the loop ends here; an outer level takes the segment
                # Its place has passed (7), or it belongs in a loop not begun (2).
                code = "7" if seg.id in _ids(entries[: place + 1]) else "2"
                self.found.append(Finding(seg.id, self.position(seg), code, seg.index))
                self.i += 1
                continue
            self.missing(entries, used, place, match)
            place = match
            used[match] += 1
            entry = entries[match]
            if used[match] == entry.max + 1:
                code = "4" if entry.is_loop else "5"
                self.found.append(Finding(seg.id, self.position(seg), code, seg.index))
            self.i += 1
            if entry.is_loop:
                self.level(entry.loop, top=False)
        self.missing(entries, used, place, len(entries))


def check_sequence(
    definition: SetDef,
    body: Sequence[Segment],
    position: Callable[[Segment], int],
    end: int,
    skip: Callable[[Segment], bool],
) -> list[Finding]:
    """What is out of order, over its maximum or missing in a set's body.

    `position` gives a segment's place in the set, `end` is SE's, and segments for which
    `skip` is true (reported otherwise) are passed over.
    """
    walk = _Walk(body, position, end, skip)
    walk.level(definition.table, top=True)
    return walk.found
