"""Business exception reasons and the domain's exception tree.

A business exception is never retried by itself: it waits, with its reason code and the
original payload, until someone fixes the cause and replays it (DESIGN §8).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Reason(StrEnum):
    INVALID_EVENT = "invalid_event"
    UNKNOWN_SKU = "unknown_sku"
    UNKNOWN_LOCATION = "unknown_location"
    UNKNOWN_UOM = "unknown_uom"
    BAD_QUANTITY = "bad_quantity"
    CONFLICTING_DUPLICATE = "conflicting_duplicate"
    #: A delivery target refused a request as a business error (e.g. unknown item in the ERP).
    TARGET_REJECTED = "target_rejected"
    #: A POS or channel reported a price other than the one in force (expected vs observed).
    PRICE_MISMATCH = "price_mismatch"
    #: A POS ticket that is malformed as a whole (sent in a batch, judged alone).
    INVALID_TICKET = "invalid_ticket"
    #: A ticket whose lines net of discounts plus tax do not equal its tenders.
    UNBALANCED_TICKET = "unbalanced_ticket"
    #: An order, shipment or cancellation that names no such order or line.
    INVALID_ORDER = "invalid_order"
    #: A shipment of more than an order line has open.
    OVER_FULFILMENT = "over_fulfilment"
    #: A cancellation of more than an order line has open (shipped units included).
    OVER_CANCELLATION = "over_cancellation"
    #: A return or grading that is malformed for its return (unknown line, nothing to grade).
    INVALID_RETURN = "invalid_return"
    #: A grading of more units than a return line has pending inspection.
    OVER_GRADING = "over_grading"
    #: A transfer command that names no such line, or a transfer already closed.
    INVALID_TRANSFER = "invalid_transfer"
    #: A shipment of more than a transfer line has left to ship.
    OVER_SHIPMENT = "over_shipment"
    #: A receipt of more than was shipped and is still in transit (the units are declared).
    OVER_RECEIPT = "over_receipt"
    #: A transfer closed with shipped units never received (in transit remainder).
    SHORT_RECEIPT = "short_receipt"
    #: A system's stock differs from the ledger at a reconciliation (hub vs system).
    RECONCILIATION_DRIFT = "reconciliation_drift"
    #: An EDI file refused whole by its checks (the segment and element at fault named).
    EDI_REJECTED = "edi_rejected"
    #: An EDI interchange the hub sent that its trading partner has not acknowledged (997)
    #: within the agreed time.
    EDI_ACK_OVERDUE = "edi_ack_overdue"
    #: A workflow's deliveries fell below their SLA objective (open until it recovers).
    SLA_BREACH = "sla_breach"


@dataclass(frozen=True, slots=True)
class Refusal:
    """A document step refused by the rules: the reason, the field at fault and why."""

    reason: Reason
    field: str
    detail: str


class StockbridgeError(Exception):
    """Root of every error Stockbridge raises on purpose."""


class InvalidMasterData(StockbridgeError):
    """Master data rows that cannot be accepted; `problems` lists each one."""

    def __init__(self, problems: list[dict[str, object]]) -> None:
        super().__init__(f"{len(problems)} invalid master data row(s)")
        self.problems = problems


class NotFound(StockbridgeError):
    def __init__(self, what: str, key: str) -> None:
        super().__init__(f"{what} {key!r} not found")
        self.what = what
        self.key = key


class StoreUnavailable(StockbridgeError):
    """The database cannot be reached or refused the operation for a technical reason."""
