"""The GraphQL Admin endpoint's operations, as far as the connector uses them.

Enough of the document is parsed to find the operation (its type, root field and the
`@idempotent(key: $var)` directive); variables are validated as the 2026-01 and 2026-04
schemas declare them. Errors, codes, messages and `extensions.cost` are Shopify's.
Every answer costs points from the store's bucket; a query that does not fit is refused
with THROTTLED, before anything runs.
"""

from __future__ import annotations

import base64
import hashlib
import re
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..config import REASONS
from ..ids import gid, number
from .shop import Level, Shop, Webhook

SET_ROOT = "inventorySetQuantities"
NODES_ROOT = "nodes"
LOCATION_ROOT = "location"
#: Versions this simulator serves; 2026-04 makes @idempotent and changeFromQuantity
#: mandatory and drops compareQuantity/ignoreCompareQuantity.
VERSIONS = ("2026-01", "2026-04")
MAX_INPUT = 250
LIMIT = 1_000_000_000
#: Cost model: the captured set mutation costs 13 requested, 13 actual when applied and
#: 10 when refused; a nodes read costs 1 + 3 per id requested, 1 + 2 per item found.
SET_REQUESTED, SET_ACTUAL, SET_REFUSED = 13, 13, 10

_OPERATION = re.compile(r"^\s*(query|mutation)\b[^{]*\{\s*([_A-Za-z]\w*)", re.DOTALL)
_IDEMPOTENT = re.compile(r"@idempotent\s*\(\s*key\s*:\s*(\$\w+|\"[^\"]*\")\s*\)")
_COMMENT = re.compile(r"#[^\n]*")
_SET_INPUT_FIELDS = {"reason", "name", "referenceDocumentUri", "quantities"}
_QUANTITY_FIELDS = {"inventoryItemId", "locationId", "quantity", "changeFromQuantity"}
_OLD_INPUT_FIELDS = {"ignoreCompareQuantity"}
_OLD_QUANTITY_FIELDS = {"compareQuantity"}


@dataclass
class Answer:
    status: int
    body: dict[str, Any]
    webhooks: list[Webhook] = field(default_factory=list)


def error(message: str, code: str, **extensions: Any) -> dict[str, Any]:
    return {"message": message, "extensions": {"code": code, **extensions}}


class GraphQL:
    """Executes requests against a Shop, with its cost bucket and idempotency keys."""

    def __init__(self, shop: Shop) -> None:
        self.shop = shop
        #: idempotency key -> (fingerprint of the parameters, the original `data`).
        self.keys: dict[str, tuple[str, dict[str, Any]]] = {}
        self.calls = 0
        self.throttled = 0
        self.spent = 0.0
        #: (monotonic time, points) of every accepted request, for tests of the budget.
        self.spending: list[tuple[float, float]] = []
        #: Answer a refused query with HTTP 429 instead of THROTTLED at 200.
        self.throttle_status = 200

    def execute(self, version: str, request: Any) -> Answer:
        self.calls += 1
        if not isinstance(request, dict) or not isinstance(request.get("query"), str):
            return Answer(400, {"errors": [{"message": "No query string was present"}]})
        variables = request.get("variables") or {}
        if not isinstance(variables, dict):
            return Answer(200, {"errors": [error("Variables must be an object", "BAD_REQUEST")]})
        document = _COMMENT.sub("", request["query"])
        m = _OPERATION.match(document)
        if m is None:
            return Answer(
                200, {"errors": [error("Syntax error: no operation found", "syntaxError")]}
            )
        kind, root = m.group(1), m.group(2)
        if kind == "mutation" and root == SET_ROOT:
            return self._metered(SET_REQUESTED, lambda: self._set(version, document, variables))
        if kind == "query" and root == NODES_ROOT:
            ids = variables.get("ids")
            n = len(ids) if isinstance(ids, list) else 0
            return self._metered(1 + 3 * n, lambda: self._nodes(variables))
        if kind == "query" and root == LOCATION_ROOT:
            first = variables.get("first")
            n = first if isinstance(first, int) and not isinstance(first, bool) else 0
            return self._metered(2 + max(0, n), lambda: self._levels(variables))
        on = "Mutation" if kind == "mutation" else "QueryRoot"
        message = f"Field '{root}' doesn't exist on type '{on}'"
        return Answer(200, {"errors": [error(message, "undefinedField", typeName=on)]})

    # --- cost ------------------------------------------------------------------------------
    def _metered(self, requested: int, run: Any) -> Answer:
        now = self.shop.clock.now()
        bucket = self.shop.bucket
        if not bucket.try_spend(requested, now):
            self.throttled += 1
            body = {
                "errors": [
                    {
                        "message": "Throttled",
                        "extensions": {
                            "code": "THROTTLED",
                            "documentation": "https://shopify.dev/api/usage/rate-limits",
                        },
                    }
                ],
                "extensions": self._cost(requested, None, now),
            }
            return Answer(self.throttle_status, body)
        answer, actual = run()
        # The requested cost is taken up front; what the query did not use comes back.
        bucket.available = min(bucket.maximum, bucket.available + max(0, requested - actual))
        self.spent += actual
        self.spending.append((now, actual))
        answer.body["extensions"] = self._cost(requested, actual, now)
        return answer  # type: ignore[no-any-return]

    def _cost(self, requested: int, actual: int | None, now: float) -> dict[str, Any]:
        return {
            "cost": {
                "requestedQueryCost": requested,
                "actualQueryCost": actual,
                "throttleStatus": self.shop.bucket.status(now),
            }
        }

    # --- inventorySetQuantities --------------------------------------------------------------
    def _set(self, version: str, document: str, variables: dict[str, Any]) -> tuple[Answer, int]:
        modern = version >= "2026-04"
        directive = _IDEMPOTENT.search(document)
        key: str | None = None
        if directive is not None:
            ref = directive.group(1)
            key = variables.get(ref[1:]) if ref.startswith("$") else ref.strip('"')
        if directive is None and modern:
            message = (
                "The @idempotent directive is required for this mutation but was not provided."
            )
            return _top(error(message, "BAD_REQUEST"), path=[SET_ROOT]), SET_REFUSED
        if directive is not None and (not isinstance(key, str) or not key.strip()):
            message = "The idempotency key must not be empty."
            return _top(error(message, "BAD_REQUEST"), path=[SET_ROOT]), SET_REFUSED
        value = _find_input(document, variables)
        problem = self._check_input(value, modern)
        if problem is not None:
            return Answer(200, {"errors": [problem]}), 0
        assert isinstance(value, dict)
        if modern and any("changeFromQuantity" not in q for q in value["quantities"]):
            message = (
                "InventoryQuantityInput must include the following argument: changeFromQuantity."
            )
            return _top(error(message, "INVALID_FIELD_ARGUMENTS"), path=[SET_ROOT]), SET_REFUSED
        if key is not None:
            fingerprint = _fingerprint(value)
            seen = self.keys.get(key)
            if seen is not None:
                if seen[0] != fingerprint:
                    message = (
                        "The same idempotency key cannot be used with different operation "
                        "parameters."
                    )
                    errors = [
                        {
                            "field": None,
                            "message": message,
                            "code": "IDEMPOTENCY_KEY_PARAMETER_MISMATCH",
                        }
                    ]
                    return _payload(None, errors), SET_REFUSED
                # A replay: the original result, nothing applied again.
                return Answer(200, {"data": orjson.loads(orjson.dumps(seen[1]))}), SET_ACTUAL
        user_errors = self._user_errors(value, modern)
        if user_errors:
            return _payload(None, user_errors), SET_REFUSED
        group, hooks = self._apply(value)
        answer = _payload(group, [])
        answer.webhooks = hooks
        if key is not None:
            self.keys[key] = (_fingerprint(value), answer.body["data"])
        return answer, SET_ACTUAL

    def _check_input(self, value: Any, modern: bool) -> dict[str, Any] | None:
        """Variable-level problems (INVALID_VARIABLE), as the schema's coercion finds them."""
        type_name = "InventorySetQuantitiesInput"

        def invalid(explanation: str, path: list[str]) -> dict[str, Any]:
            where = path[-1] if path else "input"
            message = (
                f"Variable $input of type {type_name}! was provided invalid value for {where} "
                f"({explanation})"
            )
            return error(
                message,
                "INVALID_VARIABLE",
                value=value,
                problems=[{"path": path, "explanation": explanation}],
            )

        if not isinstance(value, dict):
            return invalid("Expected value to not be null", [])
        allowed = _SET_INPUT_FIELDS | (set() if modern else _OLD_INPUT_FIELDS)
        for name in value:
            if name not in allowed:
                return invalid(f"Field is not defined on {type_name}", [name])
        for name in ("reason", "name", "quantities"):
            if value.get(name) is None:
                return invalid("Expected value to not be null", [name])
        quantities = value["quantities"]
        if not isinstance(quantities, list):
            return invalid("Expected value to be a list", ["quantities"])
        if len(quantities) > MAX_INPUT:
            return error(
                f"The input array size of {len(quantities)} is greater than the maximum "
                f"allowed of {MAX_INPUT}.",
                "MAX_INPUT_SIZE_EXCEEDED",
                path=["input", "quantities"],
            )
        fields = _QUANTITY_FIELDS | (set() if modern else _OLD_QUANTITY_FIELDS)
        for i, q in enumerate(quantities):
            if not isinstance(q, dict):
                return invalid("Expected value to be an object", ["quantities", str(i)])
            for name in q:
                if name not in fields:
                    return invalid(
                        "Field is not defined on InventoryQuantityInput",
                        ["quantities", str(i), name],
                    )
            for name in ("inventoryItemId", "locationId", "quantity"):
                if q.get(name) is None:
                    return invalid("Expected value to not be null", ["quantities", str(i), name])
            for name in ("quantity", "changeFromQuantity"):
                v = q.get(name)
                if v is not None and (isinstance(v, bool) or not isinstance(v, int)):
                    return invalid("Could not coerce value to Int", ["quantities", str(i), name])
        return None

    def _user_errors(self, value: dict[str, Any], modern: bool) -> list[dict[str, Any]]:
        errors: list[dict[str, Any]] = []

        def add(path: list[str], code: str, message: str) -> None:
            errors.append({"field": ["input", *path], "message": message, "code": code})

        name = value["name"]
        if name not in ("available", "on_hand"):
            add(
                ["name"],
                "INVALID_NAME",
                "The quantity name must be either 'available' or 'on_hand'.",
            )
        if value["reason"] not in REASONS:
            add(
                ["reason"],
                "INVALID_REASON",
                "The specified reason is invalid. Valid values are: " + ", ".join(REASONS) + ".",
            )
        if (
            not modern
            and "ignoreCompareQuantity" not in value
            and any(
                "compareQuantity" not in q and "changeFromQuantity" not in q
                for q in value["quantities"]
            )
        ):
            add(
                ["ignoreCompareQuantity"],
                "COMPARE_QUANTITY_REQUIRED",
                "The compareQuantity argument must be given to each quantity or ignored "
                "using ignoreCompareQuantity.",
            )
        seen: set[tuple[int | None, int | None]] = set()
        for i, q in enumerate(value["quantities"]):
            at = ["quantities", str(i)]
            item_id = number(q["inventoryItemId"], "InventoryItem")
            location_id = number(q["locationId"], "Location")
            if not str(q["inventoryItemId"]).startswith("gid://"):
                item_id = None
            if not str(q["locationId"]).startswith("gid://"):
                location_id = None
            known_item = item_id in self.shop.items
            known_location = location_id in self.shop.locations
            if not known_item:
                add(
                    [*at, "inventoryItemId"],
                    "INVALID_INVENTORY_ITEM",
                    "The specified inventory item could not be found.",
                )
            if not known_location:
                add(
                    [*at, "locationId"],
                    "INVALID_LOCATION",
                    "The specified location could not be found.",
                )
            if (item_id, location_id) in seen:
                add(
                    [*at, "locationId"],
                    "NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR",
                    "The combination of inventoryItemId and locationId must be unique.",
                )
            seen.add((item_id, location_id))
            quantity = q["quantity"]
            if quantity > LIMIT:
                add(
                    [*at, "quantity"],
                    "INVALID_QUANTITY_TOO_HIGH",
                    "The quantity can't be higher than 1,000,000,000.",
                )
            elif quantity < -LIMIT:
                add(
                    [*at, "quantity"],
                    "INVALID_QUANTITY_TOO_LOW",
                    "The quantity can't be lower than -1,000,000,000.",
                )
            elif name == "on_hand" and quantity < 0:
                add(
                    [*at, "quantity"],
                    "INVALID_QUANTITY_NEGATIVE",
                    "The quantity can't be negative.",
                )
            if not (known_item and known_location):
                continue
            assert item_id is not None and location_id is not None
            level = self.shop.levels.get((item_id, location_id))
            if level is None:
                add(
                    [*at, "locationId"],
                    "ITEM_NOT_STOCKED_AT_LOCATION",
                    "The specified inventory item is not stocked at the location.",
                )
                continue
            current = level.available if name == "available" else level.on_hand
            expected = q.get("changeFromQuantity", q.get("compareQuantity"))
            if expected is not None and expected != current:
                if "changeFromQuantity" in q:
                    add(
                        [*at, "changeFromQuantity"],
                        "CHANGE_FROM_QUANTITY_STALE",
                        "The specified changeFromQuantity does not match the current quantity.",
                    )
                else:
                    add(
                        [*at, "compareQuantity"],
                        "COMPARE_QUANTITY_STALE",
                        "The specified compare quantity does not match the current quantity.",
                    )
        return errors

    def _apply(self, value: dict[str, Any]) -> tuple[dict[str, Any], list[Webhook]]:
        shop = self.shop
        name = value["name"]
        changes = []
        hooks: list[Webhook] = []
        for q in value["quantities"]:
            item_id = number(q["inventoryItemId"], "InventoryItem")
            location_id = number(q["locationId"], "Location")
            assert item_id is not None and location_id is not None
            level: Level = shop.levels[(item_id, location_id)]
            before = level.available if name == "available" else level.on_hand
            delta = q["quantity"] - before
            if delta == 0:
                continue
            # Setting either name moves `available`; on_hand follows it.
            level.available += delta
            location = {"id": gid("Location", location_id), "name": shop.locations[location_id]}
            item = {"id": gid("InventoryItem", item_id)}
            for changed in (
                ["available", "on_hand"] if name == "available" else ["on_hand", "available"]
            ):
                changes.append(
                    {
                        "name": changed,
                        "delta": delta,
                        "quantityAfterChange": None,
                        "item": item,
                        "location": location,
                        "ledgerDocumentUri": None,
                    }
                )
            hooks.append(shop.level_webhook(item_id, location_id))
        group = {
            "id": gid("InventoryAdjustmentGroup", shop.next_id()),
            "createdAt": shop.clock.wall().isoformat().replace("+00:00", "Z"),
            "reason": value["reason"],
            "referenceDocumentUri": value.get("referenceDocumentUri"),
            "changes": changes,
            "app": None,
            "staffMember": None,
        }
        return group, hooks

    # --- nodes -------------------------------------------------------------------------------
    def _nodes(self, variables: dict[str, Any]) -> tuple[Answer, int]:
        ids = variables.get("ids")
        location = variables.get("locationId")
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            return Answer(
                200,
                {
                    "errors": [
                        error(
                            "Variable $ids of type [ID!]! was provided invalid value",
                            "INVALID_VARIABLE",
                        )
                    ]
                },
            ), 1
        if len(ids) > MAX_INPUT:
            return Answer(
                200,
                {
                    "errors": [
                        error(
                            f"The input array size of {len(ids)} is greater than the maximum "
                            f"allowed of {MAX_INPUT}.",
                            "MAX_INPUT_SIZE_EXCEEDED",
                        )
                    ]
                },
            ), 1
        location_id = number(location, "Location") if isinstance(location, str) else None
        nodes: list[dict[str, Any] | None] = []
        found = 0
        for node_id in ids:
            item_id = number(node_id, "InventoryItem") if node_id.startswith("gid://") else None
            if item_id not in self.shop.items:
                nodes.append(None)
                continue
            found += 1
            level = self.shop.levels.get((item_id, location_id)) if location_id else None  # type: ignore[arg-type]
            nodes.append(
                {
                    "id": node_id,
                    "inventoryLevel": None
                    if level is None
                    else {"quantities": [{"name": "available", "quantity": level.available}]},
                }
            )
        return Answer(200, {"data": {"nodes": nodes}}), 1 + 2 * found

    # --- location.inventoryLevels ----------------------------------------------------------
    def _levels(self, variables: dict[str, Any]) -> tuple[Answer, int]:
        """One page of a location's inventory levels, ordered by inventory item id; the
        cursor is opaque to the client (here: the last item id, base64)."""
        first = variables.get("first")
        if not isinstance(first, int) or isinstance(first, bool) or not 0 < first <= MAX_INPUT:
            message = (
                f"The input array size of {first} is greater than the maximum allowed of "
                f"{MAX_INPUT}."
                if isinstance(first, int) and first > MAX_INPUT
                else "Variable $first of type Int! was provided invalid value"
            )
            code = "MAX_INPUT_SIZE_EXCEEDED" if isinstance(first, int) else "INVALID_VARIABLE"
            return Answer(200, {"errors": [error(message, code)]}), 1
        location = variables.get("locationId")
        location_id = number(location, "Location") if isinstance(location, str) else None
        if location_id not in self.shop.locations:
            return Answer(200, {"data": {LOCATION_ROOT: None}}), 1
        after = variables.get("after")
        start = 0
        if isinstance(after, str):
            try:
                start = int(base64.b64decode(after).decode().removeprefix("item:"))
            except ValueError:
                return Answer(200, {"errors": [error("Invalid cursor", "BAD_REQUEST")]}), 1
        stocked = sorted(
            item_id
            for (item_id, at) in self.shop.levels
            if at == location_id and item_id > start and item_id in self.shop.items
        )
        page = stocked[:first]
        nodes = [
            {
                "item": {"id": gid("InventoryItem", i), "sku": self.shop.items[i].sku},
                "quantities": [
                    {"name": "available", "quantity": self.shop.levels[(i, location_id)].available}
                ],
            }
            for i in page
        ]
        cursor = base64.b64encode(f"item:{page[-1]}".encode()).decode() if page else None
        data = {
            "id": gid("Location", location_id),
            "inventoryLevels": {
                "pageInfo": {"hasNextPage": len(stocked) > first, "endCursor": cursor},
                "nodes": nodes,
            },
        }
        return Answer(200, {"data": {LOCATION_ROOT: data}}), 2 + len(page)


def _find_input(document: str, variables: dict[str, Any]) -> Any:
    """The mutation's `input` argument: a variable (the connector's way) or absent."""
    m = re.search(r"inventorySetQuantities\s*\(\s*input\s*:\s*\$(\w+)", document)
    return variables.get(m.group(1)) if m else None


def _fingerprint(value: dict[str, Any]) -> str:
    return hashlib.sha256(orjson.dumps(value, option=orjson.OPT_SORT_KEYS)).hexdigest()


def _top(err: dict[str, Any], path: list[str]) -> Answer:
    return Answer(200, {"errors": [{**err, "path": path}], "data": {SET_ROOT: None}})


def _payload(group: dict[str, Any] | None, user_errors: list[dict[str, Any]]) -> Answer:
    return Answer(
        200,
        {"data": {SET_ROOT: {"inventoryAdjustmentGroup": group, "userErrors": user_errors}}},
    )
