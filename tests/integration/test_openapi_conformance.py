"""Every operation in the OpenAPI document, exercised by schemathesis over real HTTP.

The whole document is read from the running server, so operations added later are
covered without listing them. Each operation gets valid (positive) and invalid (negative)
cases, derandomized so a run is the same on every machine; every answer must be no server
error, with a documented status, content type and schema. schemathesis's pytest plugin
reads a node attribute pytest 9 no longer has, so each operation's strategy is driven
with Hypothesis directly.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error
from schemathesis.generation.modes import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from stockbridge.api.app import create_app
from stockbridge.app.bootstrap import bootstrap, open_store
from stockbridge.app.clock import ManualClock
from tests.conftest import ADMIN_KEY, START, LiveServer, hub_settings, seed_master


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    path = tmp_path_factory.mktemp("conformance") / "stockbridge.db"
    store = open_store(str(path))
    hub = bootstrap(hub_settings(), store=store, clock=ManualClock(START))
    seed_master(hub)
    server = LiveServer(create_app(hub)).start()
    try:
        yield server
    finally:
        server.stop()
        store.close()


@pytest.fixture(scope="module")
def api_schema(served: LiveServer) -> schemathesis.schemas.BaseSchema:
    return schemathesis.openapi.from_url(served.url + "/openapi.json")


#: Cases per operation and mode: enough to reach each documented status, small enough
#: for the whole document to run in well under two minutes on two cores.
EXAMPLES = 10
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def exercise(operation: Any, mode: GenerationMode, base_url: str) -> str | None:
    """Run one operation's generated cases; the first failure's report, or None."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        derandomize=True,
        deadline=None,
        database=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(
            base_url=base_url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, checks=CHECKS
        )

    try:
        run()
    except Unsatisfiable:
        # Nothing in the operation can be made invalid (no parameters, a free-form body).
        return None
    except (Exception, BaseExceptionGroup) as e:
        return "\n".join(str(e).splitlines()[:40])
    return None


def test_every_operation_honours_the_document(api_schema: Any, served: LiveServer) -> None:
    # Given the served document and a hub holding a small estate
    # When every operation is called with generated valid and invalid requests
    failures = []
    for result in api_schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            report = exercise(operation, mode, served.url)
            if report:
                failures.append(f"{operation.label} [{mode.value}]: {report}")
    # Then every answer is what the document promises
    assert not failures, "\n\n".join(failures)
