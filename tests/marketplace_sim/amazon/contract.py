"""Validate SP-API requests and responses against Amazon's own models.

The models (``amzn/selling-partner-api-models``) are not copied into the
repository: they are read from ``<repo>/../shared/amazon-sp-api-models`` (or
``$AMAZON_SP_API_MODELS``). :func:`models_available` says whether they are
there, so a test can skip with a clear reason elsewhere.

Usage (the simulator's contract tests, and later the adapter's)::

    contract = Contract.load()
    contract.validate_request(
        "searchOrders", "GET", "/orders/2026-01-01/orders",
        {"createdAfter": "...", "marketplaceIds": "ATVPDKIKX0DER"},
    )
    contract.validate_response("getOrder", 200, body)
    contract.validate_feed(document)            # listings-feed-schema-v2.json

Every ``validate_*`` raises :class:`ContractError` listing every problem.
The Swagger 2.0 schemas are checked with JSON Schema draft 4 (what Swagger
2.0 schemas are), ``$ref`` resolved against the model's ``definitions``;
``format: date-time`` is enforced (ISO 8601 with a zone).
"""

import functools
import json
import os
import re
from pathlib import Path

import jsonschema

from .clock import parse_ts

MODEL_FILES = (
    "models/orders-api-model/orders_2026-01-01.json",
    "models/orders-api-model/ordersV0.json",
    "models/listings-items-api-model/listingsItems_2021-08-01.json",
    "models/feeds-api-model/feeds_2021-06-30.json",
)
SCHEMAS = {
    "feed": "schemas/feeds/listings-feed-schema-v2.json",
    "feed_report": "schemas/feeds/listings-feed-processing-report-schema-v2.json",
    "order_change": "schemas/notifications/OrderChangeNotification.json",
}


class ContractError(AssertionError):
    pass


def models_dir():
    override = os.environ.get("AMAZON_SP_API_MODELS")
    if override:
        return Path(override)
    repo = Path(__file__).resolve().parents[3]
    return repo.parent / "shared" / "amazon-sp-api-models"


def models_available():
    return all((models_dir() / name).is_file() for name in MODEL_FILES)


_formats = jsonschema.FormatChecker()


@_formats.checks("date-time", raises=ValueError)
def _date_time(value):
    if not isinstance(value, str):
        return True
    parse_ts(value)
    return True


def _errors(validator, instance, where):
    found = sorted(
        validator.iter_errors(instance), key=lambda e: list(map(str, e.path))
    )
    return [
        f"{where}: {'/'.join(map(str, e.absolute_path)) or '(root)'}: {e.message}"
        for e in found
    ]


class Operation:
    def __init__(self, model, path, method, spec):
        self.model, self.path, self.method, self.spec = (
            model,
            path,
            method.upper(),
            spec,
        )
        self.operation_id = spec["operationId"]
        self.parameters = list(model["paths"][path].get("parameters", [])) + list(
            spec.get("parameters", [])
        )
        pattern = re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", path)
        self.path_pattern = re.compile(pattern)

    def validator(self, schema):
        wrapped = dict(schema)
        wrapped["definitions"] = self.model.get("definitions", {})
        return jsonschema.Draft4Validator(wrapped, format_checker=_formats)


class Contract:
    def __init__(self, root):
        self.root = Path(root)
        self.operations = {}
        for name in MODEL_FILES:
            model = json.loads((self.root / name).read_text())
            for path, item in model["paths"].items():
                for method, spec in item.items():
                    if method == "parameters":
                        continue
                    operation = Operation(model, path, method, spec)
                    # v2026 getOrder shadows v0 getOrder: keep both addressable
                    key = operation.operation_id
                    if key in self.operations:
                        key = f"{key}@{path.split('/')[2]}"
                    self.operations[key] = operation

    @classmethod
    @functools.cache
    def load(cls, root=None):
        return cls(root or models_dir())

    def operation(self, operation_id):
        try:
            return self.operations[operation_id]
        except KeyError:
            raise ContractError(
                f"no operation {operation_id!r} in the models"
            ) from None

    # Requests

    def validate_request(self, operation_id, method, path, params=None, body=None):
        """``params``: query parameters, values as strings or lists of
        strings (csv arrays may be joined or repeated)."""
        operation = self.operation(operation_id)
        problems = []
        if method.upper() != operation.method:
            problems.append(f"method {method} is not {operation.method}")
        match = operation.path_pattern.fullmatch(path)
        if not match:
            problems.append(f"path {path} does not match {operation.path}")
        params = dict(params or {})
        known = set()
        for parameter in operation.parameters:
            name, where = parameter.get("name"), parameter.get("in")
            known.add(name)
            if where == "query":
                problems += self._check_query(parameter, params.get(name))
            elif where == "body":
                if body is None:
                    if parameter.get("required"):
                        problems.append("the request needs a body")
                    continue
                problems += _errors(
                    operation.validator(parameter["schema"]), body, "body"
                )
        unknown = set(params) - known
        if unknown:
            problems.append(f"parameters not in the model: {sorted(unknown)}")
        if problems:
            raise ContractError(f"{operation_id} request: " + "; ".join(problems))

    @staticmethod
    def _check_query(parameter, raw):
        name = parameter["name"]
        if raw is None:
            return [f"{name} is required"] if parameter.get("required") else []
        values = raw if isinstance(raw, list | tuple) else [raw]
        if parameter.get("type") == "array":
            items = [part for value in values for part in str(value).split(",")]
            schema = {
                key: parameter[key]
                for key in ("items", "maxItems", "minItems")
                if key in parameter
            }
            schema["type"] = "array"
            item_type = parameter.get("items", {}).get("type")
            instance = [_coerce(item, item_type) for item in items]
        else:
            if len(values) != 1:
                return [f"{name} is given {len(values)} times"]
            schema = {
                key: value
                for key, value in parameter.items()
                if key in ("type", "enum", "format", "minimum", "maximum")
            }
            instance = _coerce(values[0], parameter.get("type"))
        validator = jsonschema.Draft4Validator(schema, format_checker=_formats)
        return _errors(validator, instance, name)

    # Responses

    def validate_response(self, operation_id, status, body):
        operation = self.operation(operation_id)
        responses = operation.spec["responses"]
        spec = responses.get(str(status))
        if spec is None:
            raise ContractError(f"{operation_id}: status {status} is not in the model")
        schema = spec.get("schema")
        if schema is None:
            if body not in (None, b"", ""):
                raise ContractError(f"{operation_id} {status}: the model has no body")
            return
        problems = _errors(operation.validator(schema), body, f"{status} body")
        if problems:
            raise ContractError(f"{operation_id} response: " + "; ".join(problems))

    # JSON schemas

    @functools.cache  # noqa: B019 - one Contract per models directory
    def _schema_validator(self, kind):
        schema = json.loads((self.root / SCHEMAS[kind]).read_text())
        cls = jsonschema.validators.validator_for(schema)
        return cls(schema, format_checker=_formats)

    def _validate(self, kind, instance):
        problems = _errors(self._schema_validator(kind), instance, kind)
        if problems:
            raise ContractError("; ".join(problems[:20]))

    def validate_feed(self, document):
        self._validate("feed", document)

    def validate_feed_report(self, report):
        self._validate("feed_report", report)

    def validate_order_change(self, notification):
        self._validate("order_change", notification)


def _coerce(text, kind):
    """A query string as the model's type (so ``maximum`` etc. apply)."""
    if kind == "integer":
        try:
            return int(text)
        except ValueError:
            return text
    if kind == "boolean":
        return {"true": True, "false": False}.get(str(text), text)
    return text
