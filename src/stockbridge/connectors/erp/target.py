"""A delivery target for ERP postings, over any ERP that implements `ErpDocuments`."""

from __future__ import annotations

import time

from ...app.ports import Delivery
from ...app.targets import TargetIn
from ..webhook import SendResult
from .documents import NotForErp, documents_for
from .port import ErpDocuments, ErpRejected, ErpUnavailable, file_documents


class ErpTarget:
    """Turns each posting into ERP documents and files them, looked up before created.

    Outcomes for the dispatcher: 200 when every document is filed (or was already); the
    ERP's unavailability as status None or its 5xx (retried, in order per delivery key);
    a business refusal as 422 with the ERP's message (the exception queue).
    """

    def __init__(self, name: str, config: TargetIn, documents: ErpDocuments) -> None:
        self.name = name
        self.config = config
        self.documents = documents

    async def send(self, delivery: Delivery) -> SendResult:
        started = time.perf_counter()

        def result(status: int | None, error: str | None, **headers: str) -> SendResult:
            return SendResult(status, headers, error, (time.perf_counter() - started) * 1000)

        try:
            documents = documents_for(delivery.payload)
            await file_documents(self.documents, documents)
        except NotForErp as e:
            return result(422, str(e))
        except ErpRejected as e:
            return result(e.status, e.message)
        except ErpUnavailable as e:
            headers = {"Retry-After": e.retry_after} if e.retry_after else {}
            return result(e.status, e.reason, **headers)
        return result(200, None)

    async def send_batch(self, deliveries: list[Delivery]) -> SendResult:
        """Postings always go one by one; a batch (never planned for postings) is refused."""
        return SendResult(
            422,
            {},
            "an ERP target takes postings one by one",
            0.0,
            {d.id: "an ERP target takes postings one by one" for d in deliveries},
        )
