"""The port an ERP connector implements, and the one way documents are filed through it.

An ERP gives no idempotency of its own (Odoo) or only per external id (NetSuite), so every
document carries our reference and is looked up before it is created: a retry after a
timeout finds what the lost answer had created (or applied) and goes on from there.

To add an ERP, implement `ErpDocuments` (Odoo: search by `origin`/`ref`/
`client_order_ref`, create, then validate/post/confirm; NetSuite: GET by `externalId`,
upsert with `PUT .../eid:{externalId}`, nothing to apply) and build an `ErpTarget` with it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from .documents import ErpDocument


@dataclass(frozen=True, slots=True)
class Found:
    """A document the ERP holds under our reference."""

    id: str
    #: Validated, posted or confirmed: nothing left to do.
    applied: bool


class ErpUnavailable(Exception):
    """The ERP did not answer, or answered that it cannot now (outage, maintenance,
    timeout, a server error): the same request may succeed later."""

    def __init__(self, reason: str, status: int | None = None, retry_after: str | None = None):
        super().__init__(reason)
        self.reason = reason
        self.status = status
        self.retry_after = retry_after


class ErpRejected(Exception):
    """The ERP refused the document on business grounds (an unknown item, a closed
    period): the same request will be refused again until someone fixes the cause."""

    def __init__(self, message: str, status: int = 422):
        super().__init__(message)
        self.message = message
        self.status = status


class ErpDocuments(Protocol):
    """Documents in one ERP, addressed by our reference (the delivery's document number).

    Every method raises ErpUnavailable (retry later) or ErpRejected (a business refusal).
    """

    async def find(self, document: ErpDocument) -> Found | None:
        """The document already filed under `document.reference`, if any."""
        ...

    async def create(self, document: ErpDocument) -> Found:
        """File the document (a draft when the ERP separates creating and applying)."""
        ...

    async def apply(self, document: ErpDocument, found: Found) -> None:
        """Validate, post or confirm a filed document that is not applied yet."""
        ...


async def file_documents(port: ErpDocuments, documents: Sequence[ErpDocument]) -> list[Found]:
    """File each document once: found and applied -> nothing; found as a draft -> apply;
    not found -> create and apply. In order; the first failure stops the rest, and the
    retry starts again from the first (whatever was filed is found then)."""
    filed = []
    for document in documents:
        found = await port.find(document)
        if found is None:
            found = await port.create(document)
        if not found.applied:
            await port.apply(document, found)
            found = Found(found.id, True)
        filed.append(found)
    return filed
