"""JSON_LISTINGS_FEED (Feeds API 2021-06-30): the feed document and its processing report
(pure)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .listings import quantity_patch

API = "/feeds/2021-06-30"
FEED_TYPE = "JSON_LISTINGS_FEED"
CONTENT_TYPE = "application/json; charset=UTF-8"
#: processingStatus values after which a feed changes no more.
FINISHED = frozenset({"DONE", "FATAL", "CANCELLED"})


def feed_document(
    seller_id: str,
    product_type: str,
    channel_code: str,
    lines: Sequence[tuple[str, int]],
    issue_locale: str = "en_US",
) -> dict[str, Any]:
    """The listings feed for (seller SKU, quantity) lines; message ids count from 1 in
    the order given."""
    return {
        "header": {"sellerId": seller_id, "version": "2.0", "issueLocale": issue_locale},
        "messages": [
            {
                "messageId": i,
                "sku": sku,
                "operationType": "PATCH",
                "productType": product_type,
                "patches": [quantity_patch(channel_code, units)],
            }
            for i, (sku, units) in enumerate(lines, start=1)
        ],
    }


def message_errors(report: Any) -> dict[int, str]:
    """messageId -> `code: message` of its ERROR issues (joined), from a processing
    report. Warnings do not refuse a message."""
    errors: dict[int, list[str]] = {}
    if not isinstance(report, Mapping):
        return {}
    for issue in report.get("issues") or []:
        if not isinstance(issue, Mapping) or issue.get("severity") != "ERROR":
            continue
        message_id = issue.get("messageId")
        if not isinstance(message_id, int):
            continue
        errors.setdefault(message_id, []).append(f"{issue.get('code')}: {issue.get('message')}")
    return {k: "; ".join(v) for k, v in errors.items()}
