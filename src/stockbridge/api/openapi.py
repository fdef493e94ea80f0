"""The OpenAPI document: FastAPI's, plus every problem status the middleware and the
exception handlers can answer, so a client (and schemathesis) finds each one documented.

The statuses are derived from what an operation is, not listed per route: an operation
behind an API key can answer 401, 403 and 429; one that takes a body 400, 413 and 422;
one addressed by a path parameter 404; and any can meet an unavailable store (503). A
route declares what only it can answer (a 409, say) with `problems.responses(409)`.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi

from . import schemas
from .deprecation import Deprecations
from .problems import PROBLEM_MEDIA_TYPE, PROBLEM_SCHEMA, problem_content

_METHODS = ("get", "put", "post", "delete", "patch")
_WITH_BODY = ("put", "post", "patch")
_TITLES = {
    400: "Malformed JSON",
    401: "No API key, or an unknown or revoked one",
    403: "The key lacks the scope, or is bound to other sources, locations or channels",
    404: "Not found",
    409: "Conflict with the resource's state",
    413: "The body exceeds the size limit",
    422: "Invalid request",
    429: "Rate limit of the key exceeded; retry after `Retry-After` seconds",
    503: "The store is unavailable; retry after `Retry-After` seconds",
}
#: Models the routes answer with, documented although no route names them in a signature.
_EXTRA_MODELS = (schemas.IngestRequest, schemas.ItemsIn, schemas.LocationsIn, schemas.XrefsIn)


def statuses_of(method: str, operation: dict[str, Any]) -> set[int]:
    """The problem statuses an operation can answer, from what it is."""
    found = {503}
    if operation.get("security"):
        found |= {401, 403, 429}
    if method in _WITH_BODY:
        found |= {400, 413, 422}
    parameters = operation.get("parameters", [])
    if any(p.get("in") == "path" for p in parameters):
        found.add(404)
    if parameters:
        found.add(422)
    return found


def _document_problems(method: str, operation: dict[str, Any]) -> None:
    responses = operation.setdefault("responses", {})
    for status in sorted(statuses_of(method, operation)):
        answer = responses.setdefault(str(status), {"description": _TITLES[status]})
        # FastAPI documents its 422 as application/json; this API answers problem+json.
        answer["content"] = problem_content()
        if status in (429, 503):
            answer["headers"] = {
                "Retry-After": {
                    "description": "Seconds to wait before retrying.",
                    "schema": {"type": "integer"},
                }
            }
    for answer in responses.values():
        content = answer.get("content", {})
        if PROBLEM_MEDIA_TYPE in content:
            content.pop("application/json", None)


def build(app: FastAPI, deprecations: Deprecations) -> dict[str, Any]:
    doc = get_openapi(title=app.title, version=app.version, summary=app.summary, routes=app.routes)
    components = doc.setdefault("components", {}).setdefault("schemas", {})
    for model in _EXTRA_MODELS:
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(schema.pop("$defs", {}))
        components[model.__name__] = schema
    components["Problem"] = PROBLEM_SCHEMA
    # FastAPI's validation error schemas are never answered: 422 is a problem document.
    components.pop("HTTPValidationError", None)
    components.pop("ValidationError", None)
    for path, item in doc.get("paths", {}).items():
        for method in _METHODS:
            if method in item:
                _document_problems(method, item[method])
                if deprecations.find(method.upper(), path) is not None:
                    item[method]["deprecated"] = True
    return doc
