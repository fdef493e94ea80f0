"""Where a platform connector finds its own codes for the hub's SKUs and locations.

`mapping = "xrefs"` reads the hub's cross references (`PUT /v1/xrefs`, source = the
connector's name, kind `item` or `location`): the same table that maps the platform's
codes to the hub's on the way in, read backwards on the way out. `mapping = "settings"`
reads explicit maps in the connector's own settings. A connector whose settings carry an
explicit map and no `mapping` keeps reading it, so existing configurations still work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any, Literal

from ..app.ports import ConnectorState

MappingSource = Literal["xrefs", "settings"]


def mapping_source(
    declared: str | None,
    explicit: Mapping[str, Mapping[str, str]],
    *,
    settings_need_a_map: bool = True,
) -> str:
    """The mapping source settings declare or imply; ValueError naming the key at fault.

    `explicit` names each explicit map setting with its value.
    """
    given = [key for key, value in explicit.items() if value]
    if declared is None:
        return "settings" if given else "xrefs"
    if declared == "xrefs" and given:
        raise ValueError(
            f"{', '.join(given)} is explicit: an explicit map is read only with "
            f'mapping = "settings" (with "xrefs" the codes come from the cross references)'
        )
    if declared == "settings" and not given and settings_need_a_map:
        raise ValueError(f'mapping = "settings" needs an explicit map in {" or ".join(explicit)}')
    return declared


class Unmapped(Exception):
    """No (or more than one) platform code for an enterprise code; says which and why."""


class Ambiguous(Unmapped):
    """More than one platform code for an enterprise code."""


def externals(
    state: ConnectorState | None,
    source: str,
    kind: Literal["item", "location"],
    codes: Iterable[str],
    accept: Callable[[str], bool] = lambda _: True,
) -> dict[str, str | Unmapped]:
    """Enterprise code -> the single cross-referenced code of `source` that `accept`s,
    or why there is none to use.

    One indexed read of at most a batch's codes, made where it is called (in the
    dispatcher's event loop): handing it to a thread costs more than the read.
    """
    wanted = sorted(set(codes))
    # A target built outside a hub (a one-off check) has no cross references to read.
    found = {} if state is None else state.xrefs_for_codes(source, kind, wanted)
    out: dict[str, str | Unmapped] = {}
    for code in wanted:
        matches = [e for e in found.get(code, []) if accept(e)]
        if len(matches) == 1:
            out[code] = matches[0]
        elif not matches:
            out[code] = Unmapped(
                f"no cross reference of source {source!r} kind {kind} for {code!r}: "
                f"add one with PUT /v1/xrefs"
            )
        else:
            out[code] = Ambiguous(
                f"{len(matches)} cross references of source {source!r} kind {kind} for "
                f"{code!r} ({', '.join(matches)}): keep one"
            )
    return out


def mapped_events(
    events: list[dict[str, Any]], items: Mapping[str, str], locations: Mapping[str, str]
) -> list[dict[str, Any]]:
    """Events with the platform's item and location codes replaced by the hub's from
    explicit maps (mapping = "settings"); a code the maps lack is kept, for the ingest's
    cross references or its exception queue."""
    return [
        {
            **e,
            "sku": items.get(str(e.get("sku")), e.get("sku")),
            "location": locations.get(str(e.get("location")), e.get("location")),
        }
        for e in events
    ]
