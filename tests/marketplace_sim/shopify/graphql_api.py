"""``POST /admin/api/{version}/graphql.json``.

Every query is parsed and validated against the version's schema
(:mod:`.graphql_schema`); errors are answered as Shopify does, HTTP 200 with
``{"errors": [{"message", "locations", "extensions": {"code"}}]}``. Then the
cost is computed (:mod:`.cost`): over 1000 is ``MAX_COST_EXCEEDED``; more than
the bucket holds is ``THROTTLED`` (HTTP 200, or ``sim.graphql_throttle_status``).
Every answer carries ``extensions.cost``.

Parsed and validated documents are cached per query text, so a client that
sends the same query with new variables pays for validation once.
"""

import base64
import binascii
import dataclasses
import json
import re
import threading

from graphql import (
    GraphQLError,
    GraphQLSyntaxError,
    execute,
    get_operation_ast,
    parse,
    validate,
)
from graphql.execution.values import get_directive_values, get_variable_values

from . import (
    fulfillment_graphql,
    graphql_schema,
    orders_graphql,
    webhook_subscriptions,
)
from .clock import SHOP_IANA_TIMEZONE, format_utc
from .cost import MAX_QUERY_COST, CostCalculator
from .inventory import InventoryInputError, parse_gid
from .store import Level
from .wire import json_response

MAX_PAGE_SIZE = 250
THROTTLED_DOCS = "https://shopify.dev/api/usage/rate-limits"
BAD_QUERY = {"errors": {"query": "Required parameter missing or invalid"}}

# graphql-core validation messages -> Shopify's (graphql-ruby) code and wording
_VALIDATION_RULES = (
    (
        re.compile(r"^Cannot query field '(\w+)' on type '(\w+)'"),
        "undefinedField",
        "Field '{0}' doesn't exist on type '{1}'",
    ),
    (
        re.compile(r"^Unknown argument '(\w+)' on field '\w+\.(\w+)'"),
        "argumentNotAccepted",
        "Field '{1}' doesn't accept argument '{0}'",
    ),
    (
        re.compile(r"^Field '(\w+)' argument '(\w+)' of type .* is required"),
        "missingRequiredArguments",
        "Field '{0}' is missing required arguments: {1}",
    ),
    (
        re.compile(r"^Field '(\w+)' is not defined by type '(\w+)'"),
        "argumentNotAccepted",
        "InputObject '{1}' doesn't accept argument '{0}'",
    ),
    (re.compile(r"^Unknown type '(\w+)'"), "undefinedType", "No such type {0}"),
    (
        re.compile(r"^Field '(\w+)' of type .* must have a selection of subfields"),
        "selectionMismatch",
        "Field must have selections (field '{0}' has no selections)",
    ),
    (re.compile(r"^Unknown directive '@?(\w+)'"), "undefinedDirective", None),
    (re.compile(r"^Variable '\$(\w+)' is never used"), "variableNotUsed", None),
)


def _shopify_validation_error(error):
    formatted = {"message": error.message}
    if error.locations:
        formatted["locations"] = [
            {"line": loc.line, "column": loc.column} for loc in error.locations
        ]
    code = "GRAPHQL_VALIDATION_FAILED"
    for pattern, rule_code, wording in _VALIDATION_RULES:
        match = pattern.match(error.message)
        if match:
            code = rule_code
            if wording:
                formatted["message"] = wording.format(*match.groups())
            break
    formatted["extensions"] = {"code": code}
    return formatted


class _DocumentCache:
    """Parsed + validated documents per (schema shape, query text)."""

    MAX_ENTRIES = 512

    def __init__(self):
        self._lock = threading.Lock()
        self._entries = {}

    def get(self, schema, shape, query):
        key = (shape, query)
        with self._lock:
            cached = self._entries.get(key)
        if cached is not None:
            return cached
        try:
            document = parse(query)
        except GraphQLSyntaxError as err:
            cached = (None, [_shopify_validation_error(err)])
        else:
            errors = validate(schema, document)
            cached = (document, [_shopify_validation_error(e) for e in errors])
        with self._lock:
            if len(self._entries) >= self.MAX_ENTRIES:
                self._entries.clear()
            self._entries[key] = cached
        return cached


_documents = _DocumentCache()


# Views: plain dicts graphql-core's default resolver reads; a callable value
# is called with (info, **arguments), so nested data is built on demand.


def _gid(kind, number):
    return f"gid://shopify/{kind}/{number}"


def _cursor(number):
    raw = json.dumps({"last_id": number, "last_value": str(number)})
    return base64.b64encode(raw.encode()).decode()


def _after(cursor):
    try:
        return int(json.loads(base64.b64decode(cursor, validate=True))["last_id"])
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise GraphQLError(
            f"Invalid cursor for current pagination sort: {cursor!r}",
            extensions={"code": "BAD_REQUEST"},
        ) from None


def _connection(items, key, view, first, after):
    if not 0 <= first <= MAX_PAGE_SIZE:
        raise GraphQLError(
            f"The first argument must be between 0 and {MAX_PAGE_SIZE}.",
            extensions={"code": "argumentLiteralsIncompatible"},
        )
    if after is not None:
        start = _after(after)
        items = [item for item in items if key(item) > start]
    page = items[:first]
    edges = [{"cursor": _cursor(key(item)), "node": view(item)} for item in page]
    return {
        "edges": edges,
        "nodes": [edge["node"] for edge in edges],
        "pageInfo": {
            "hasNextPage": len(items) > first,
            "hasPreviousPage": after is not None,
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
    }


_SEARCH_TERM = re.compile(r"""(?:(\w+):)?("[^"]*"|'[^']*'|\S+)""")


def _search(variants, query):
    """Shopify search syntax, the part used here: ``sku:X``, ``id:N``, free
    text (matches SKU or title), terms joined by spaces or ``AND``. Unknown
    fields are ignored, as Shopify does (with a search warning)."""
    for field, value in _SEARCH_TERM.findall(query or ""):
        if not field and value in ("AND", "and"):
            continue
        value = value.strip("'\"")
        if field == "sku":
            variants = [v for v in variants if v.sku == value]
        elif field == "id":
            variants = [
                v
                for v in variants
                if str(v.variant_id) == value or str(v.inventory_item_id) == value
            ]
        elif not field:
            needle = value.lower()
            variants = [
                v
                for v in variants
                if needle in (v.sku or "").lower() or needle in v.title.lower()
            ]
    return variants


@dataclasses.dataclass
class Context:
    sim: object
    version: str

    @property
    def store(self):
        return self.sim.store

    def location(self, location):
        return {
            "id": location.gid,
            "legacyResourceId": str(location.id),
            "name": location.name,
            "isActive": location.is_active,
        }

    def location_by_id(self, location_id):
        return self.location(self.store.locations[location_id])

    def variant(self, variant):
        return {
            "id": _gid("ProductVariant", variant.variant_id),
            "legacyResourceId": str(variant.variant_id),
            "sku": variant.sku,
            "price": variant.price,
            "title": "Default Title",
            "displayName": f"{variant.title} - Default Title",
            "product": {
                "id": _gid("Product", variant.product_id),
                "legacyResourceId": str(variant.product_id),
                "title": variant.title,
            },
            "inventoryItem": lambda _info: self.item(variant),
            "inventoryQuantity": lambda _info: sum(
                level.available
                for level in self.store.levels_of(variant.inventory_item_id)
            ),
        }

    def item(self, variant):
        item_id = variant.inventory_item_id

        def inventory_level(_info, locationId):
            location_id = parse_gid_or_error(locationId, "Location")
            level = self.store.level(item_id, location_id)
            return None if level is None else self.level(level)

        def inventory_levels(_info, first, after=None):
            return _connection(
                self.store.levels_of(item_id),
                lambda level: level.location_id,
                self.level,
                first,
                after,
            )

        return {
            "id": _gid("InventoryItem", item_id),
            "legacyResourceId": str(item_id),
            "sku": variant.sku,
            "tracked": variant.tracked,
            "variant": lambda _info: self.variant(variant),
            "inventoryLevel": inventory_level,
            "inventoryLevels": inventory_levels,
        }

    def item_by_id(self, item_id):
        variant = self.store.variants_by_item.get(item_id)
        return None if variant is None else self.item(variant)

    def level(self, level):
        def quantities(_info, names):
            unknown = [name for name in names if name not in Level.QUANTITY_NAMES]
            if unknown:
                raise GraphQLError(
                    f"Invalid quantity names: {', '.join(unknown)}. Valid names "
                    f"are: {', '.join(Level.QUANTITY_NAMES)}.",
                    extensions={"code": "BAD_REQUEST"},
                )
            with self.store.lock:  # a consistent set (orders move two numbers)
                values = [(name, level.quantity(name)) for name in names]
                stamp = format_utc(level.updated_at)
            return [
                {
                    "id": _gid("InventoryQuantity", level.id) + f"?name={name}",
                    "name": name,
                    "quantity": quantity,
                    "updatedAt": stamp,
                }
                for name, quantity in values
            ]

        return {
            "id": level.gid,
            "item": lambda _info: self.item_by_id(level.inventory_item_id),
            "location": lambda _info: self.location_by_id(level.location_id),
            "quantities": quantities,
            "updatedAt": lambda _info: format_utc(level.updated_at),
        }

    def change(self, change):
        return {
            "name": change.name,
            "delta": change.delta,
            "quantityAfterChange": change.quantity_after,
            "item": lambda _info: self.item_by_id(change.inventory_item_id),
            "location": lambda _info: self.location_by_id(change.location_id),
            "ledgerDocumentUri": None,
        }

    def set_result(self, result):
        group = None
        if result.group is not None:
            group = dict(result.group)
            changes = result.group["changes"]

            def select(
                _info, inventoryItemIds=None, locationIds=None, quantityNames=None
            ):
                items = {
                    parse_gid_or_error(i, "InventoryItem")
                    for i in inventoryItemIds or ()
                }
                places = {parse_gid_or_error(i, "Location") for i in locationIds or ()}
                return [
                    self.change(change)
                    for change in changes
                    if (not items or change.inventory_item_id in items)
                    and (not places or change.location_id in places)
                    and (not quantityNames or change.name in quantityNames)
                ]

            group["changes"] = select
        return {
            "inventoryAdjustmentGroup": group,
            "userErrors": list(result.user_errors),
        }


def parse_gid_or_error(value, kind):
    try:
        return parse_gid(value, kind)
    except InventoryInputError as err:
        raise GraphQLError(str(err), extensions={"code": err.code}) from None


# Root resolvers


def _shop(_root, info):
    sim = info.context.sim
    return {
        "id": _gid("Shop", sim.shop_id),
        "name": sim.shop_name,
        "myshopifyDomain": sim.shop_domain,
        "currencyCode": sim.currency,
        "ianaTimezone": SHOP_IANA_TIMEZONE,
    }


def _location(_root, info, id):
    location_id = parse_gid_or_error(id, "Location")
    location = info.context.store.locations.get(location_id)
    return None if location is None else info.context.location(location)


def _locations(_root, info, first, after=None):
    ctx = info.context
    return _connection(
        ctx.store.sorted_locations(), lambda loc: loc.id, ctx.location, first, after
    )


def _product_variant(_root, info, id):
    variant = info.context.store.variants_by_id.get(
        parse_gid_or_error(id, "ProductVariant")
    )
    return None if variant is None else info.context.variant(variant)


def _product_variants(_root, info, first, after=None, query=None):
    ctx = info.context
    variants = _search(ctx.store.sorted_variants(), query)
    return _connection(variants, lambda v: v.variant_id, ctx.variant, first, after)


def _inventory_item(_root, info, id):
    return info.context.item_by_id(parse_gid_or_error(id, "InventoryItem"))


def _inventory_items(_root, info, first, after=None, query=None):
    ctx = info.context
    variants = sorted(
        _search(ctx.store.sorted_variants(), query), key=lambda v: v.inventory_item_id
    )
    return _connection(variants, lambda v: v.inventory_item_id, ctx.item, first, after)


def _inventory_set_quantities(_root, info, input):
    ctx = info.context
    directive = info.schema.get_directive("idempotent")
    values = get_directive_values(directive, info.field_nodes[0], info.variable_values)
    key = values["key"] if values else None
    try:
        result = ctx.sim.inventory_setter.set_quantities(input, ctx.version, key)
    except InventoryInputError as err:
        raise GraphQLError(str(err), extensions={"code": err.code}) from None
    ctx.sim.notify_inventory_levels(result.changed_levels)
    return ctx.set_result(result)


def _attach_resolvers(schema):
    query_fields = schema.query_type.fields
    for name, resolver in (
        ("shop", _shop),
        ("location", _location),
        ("locations", _locations),
        ("productVariant", _product_variant),
        ("productVariants", _product_variants),
        ("inventoryItem", _inventory_item),
        ("inventoryItems", _inventory_items),
    ):
        query_fields[name].resolve = resolver
    schema.mutation_type.fields[
        "inventorySetQuantities"
    ].resolve = _inventory_set_quantities
    webhook_subscriptions.attach_resolvers(schema)
    fulfillment_graphql.attach_resolvers(schema)
    orders_graphql.attach_resolvers(schema)


def schema_for(version):
    return graphql_schema.schema_for(version, _attach_resolvers)


# The endpoint


def _cost_extension(sim, requested, actual):
    bucket = sim.graphql_bucket
    return {
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": {
                "maximumAvailable": float(bucket.capacity),
                "currentlyAvailable": int(bucket.available()),
                "restoreRate": float(bucket.leak_rate),
            },
        }
    }


def _answer(sim, payload, requested, actual, status=200):
    payload["extensions"] = _cost_extension(sim, requested, actual)
    return json_response(status, payload)


def throttled_response(sim, requested=None):
    """The answer to a query the bucket cannot afford."""
    error = {
        "message": "Throttled",
        "extensions": {"code": "THROTTLED", "documentation": THROTTLED_DOCS},
    }
    sim.count_throttled()
    return _answer(
        sim, {"errors": [error]}, requested, None, status=sim.graphql_throttle_status
    )


def _read_request(request):
    """``(query, variables, operation_name)`` or None when malformed."""
    content_type = (request.header("Content-Type") or "").split(";")[0].strip()
    if content_type == "application/graphql":
        try:
            return request.body.decode("utf-8"), {}, None
        except UnicodeDecodeError:
            return None
    try:
        data = request.json()
    except ValueError:
        return None
    if not isinstance(data, dict):
        return None
    query = data.get("query")
    variables = data.get("variables") or {}
    operation_name = data.get("operationName")
    if (
        not isinstance(query, str)
        or not query.strip()
        or not isinstance(variables, dict)
        or not (operation_name is None or isinstance(operation_name, str))
    ):
        return None
    return query, variables, operation_name


def handle(sim, request, version, _match):
    parsed = _read_request(request)
    if parsed is None:
        return json_response(400, BAD_QUERY)
    query, variables, operation_name = parsed
    schema = schema_for(version)
    document, errors = _documents.get(schema, graphql_schema.shape_for(version), query)
    if errors:
        return _answer(sim, {"errors": errors}, 0, 0)
    operation = get_operation_ast(document, operation_name)
    if operation is None:
        message = (
            f"No operation named '{operation_name}'"
            if operation_name
            else "An operation name is required when sending multiple operations."
        )
        return _answer(sim, {"errors": [{"message": message}]}, 0, 0)
    coerced = get_variable_values(
        schema, operation.variable_definitions or [], variables
    )
    if isinstance(coerced, list):
        errors = [
            {"message": err.message, "extensions": {"code": "INVALID_VARIABLE"}}
            for err in coerced
        ]
        return _answer(sim, {"errors": errors}, 0, 0)
    requested = CostCalculator(schema, document, coerced).operation_cost(operation)
    if requested > MAX_QUERY_COST:
        error = {
            "message": f"Query cost is {requested}, which exceeds the single query "
            f"max cost limit ({MAX_QUERY_COST}).",
            "extensions": {
                "code": "MAX_COST_EXCEEDED",
                "cost": requested,
                "maxCost": MAX_QUERY_COST,
            },
        }
        return _answer(sim, {"errors": [error]}, requested, None)
    accepted, _level = sim.graphql_bucket.try_pour(requested)
    if not accepted:
        return throttled_response(sim, requested)
    sim.request_stats.count_graphql(
        operation.name.value if operation.name else None, requested
    )
    result = execute(
        schema,
        document,
        context_value=Context(sim, version),
        variable_values=variables,
        operation_name=operation_name,
    )
    payload = {"data": result.data}
    if result.errors:
        payload["errors"] = [_execution_error(sim, err) for err in result.errors]
    return _answer(sim, payload, requested, requested)


def _execution_error(sim, error):
    """A resolver's GraphQLError as it is; anything else is a simulator bug:
    recorded in ``sim.internal_errors`` and answered without internals."""
    original = error.original_error
    formatted = error.formatted
    if original is not None and not isinstance(original, GraphQLError):
        sim.record_internal_error(original)
        formatted["message"] = (
            "Internal error. Looks like something went wrong on our end."
        )
        formatted["extensions"] = {"code": "INTERNAL_SERVER_ERROR"}
    return formatted
