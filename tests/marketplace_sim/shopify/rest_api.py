"""The REST Admin API subset: orders (list, one, count) and the shop.

``GET orders.json`` lists orders sorted by ``updated_at`` then ``id``,
ascending (real Shopify's default order differs; a client must not depend on
either). Paging is cursor based: the ``Link`` header carries ``rel="next"``
and ``rel="previous"`` URLs with an opaque ``page_info``; a request carrying
``page_info`` may add only ``limit`` and ``fields``. The default ``status`` is
``open``, which leaves cancelled and closed orders out. Only orders created
within the last ``sim.visible_days`` days (60, as without the
``read_all_orders`` scope) are visible, in lists and by id.
"""

import base64
import binascii
import json
from urllib.parse import urlencode

from .clock import SHOP_IANA_TIMEZONE, parse_ts
from .store import ShopStore
from .wire import error_response, json_response, raw_json_response

DEFAULT_LIMIT = 50
MAX_LIMIT = 250
PAGING_PARAMS = frozenset({"limit", "fields", "page_info"})
STATUSES = ("open", "closed", "cancelled", "any")
TIME_FILTERS = (
    "created_at_min",
    "created_at_max",
    "updated_at_min",
    "updated_at_max",
    "processed_at_min",
    "processed_at_max",
)
FINANCIAL_FILTERS = {
    "authorized": {"authorized"},
    "pending": {"pending"},
    "paid": {"paid"},
    "partially_paid": {"partially_paid"},
    "refunded": {"refunded"},
    "voided": {"voided"},
    "partially_refunded": {"partially_refunded"},
    "unpaid": {"authorized", "pending", "partially_paid"},
}
FULFILLMENT_FILTERS = {
    "shipped": {"fulfilled"},
    "partial": {"partial"},
    "unshipped": {None},
    "unfulfilled": {None, "partial"},
}


class ParamError(Exception):
    """A query parameter Shopify would refuse (400)."""

    def __init__(self, name, message="Invalid value."):
        super().__init__(message)
        self.payload = {"errors": {name: message}}


def _params(request):
    """One value per parameter (the last, as Rails does)."""
    return {name: values[-1] for name, values in request.query.items()}


def _limit(params):
    raw = params.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise ParamError("limit", f"must be an integer between 1 and {MAX_LIMIT}")
    return limit


def _fields(params):
    raw = params.get("fields")
    if raw is None:
        return None
    fields = [name.strip() for name in raw.split(",") if name.strip()]
    return fields or None


def _int_list(name, raw):
    try:
        return sorted({int(part) for part in raw.split(",") if part.strip()})
    except ValueError:
        raise ParamError(name) from None


def parse_filters(params):
    """Filters of a first-page request, as JSON-able values."""
    filters = {"status": params.get("status", "open")}
    if filters["status"] not in STATUSES:
        raise ParamError("status")
    for name in TIME_FILTERS:
        if name in params:
            try:
                filters[name] = parse_ts(params[name])
            except ValueError:
                raise ParamError(name) from None
    if "ids" in params:
        filters["ids"] = _int_list("ids", params["ids"])
    if "since_id" in params:
        filters["since_id"] = (_int_list("since_id", params["since_id"]) or [0])[0]
    for name, choices in (
        ("financial_status", FINANCIAL_FILTERS),
        ("fulfillment_status", FULFILLMENT_FILTERS),
    ):
        value = params.get(name, "any")
        if value != "any" and value not in choices:
            raise ParamError(name)
        if value != "any":
            filters[name] = value
    return filters


def order_filter(filters, horizon):
    """A predicate on store rows for ``filters``; ``horizon``: the oldest
    visible ``created_at`` (epoch) or None."""
    status = filters.get("status", "open")
    bounds = [
        (
            "updated_ts" if name.startswith("updated") else "created_ts",
            name.endswith("_min"),
            value,
        )
        for name, value in filters.items()
        if name in TIME_FILTERS
    ]
    ids = set(filters["ids"]) if "ids" in filters else None
    since_id = filters.get("since_id")
    financial = FINANCIAL_FILTERS.get(filters.get("financial_status"))
    fulfillment = FULFILLMENT_FILTERS.get(filters.get("fulfillment_status"))

    def accept(row):
        state = row.state
        if horizon is not None and row.created_ts < horizon:
            return False
        if status == "open" and (state["closed_at"] or state["cancelled_at"]):
            return False
        if status == "closed" and not state["closed_at"]:
            return False
        if status == "cancelled" and not state["cancelled_at"]:
            return False
        for attribute, is_min, value in bounds:
            stamp = getattr(row, attribute)
            if (stamp < value) if is_min else (stamp > value):
                return False
        if ids is not None and state["id"] not in ids:
            return False
        if since_id is not None and state["id"] <= since_id:
            return False
        if financial is not None and state["financial_status"] not in financial:
            return False
        return fulfillment is None or state["fulfillment_status"] in fulfillment

    return accept


def encode_page_info(filters, key, direction):
    raw = json.dumps({"f": filters, "k": list(key), "d": direction})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _is_number(value):
    return isinstance(value, int | float) and not isinstance(value, bool)


def _valid_filters(filters):
    """Whether filters decoded from a page_info token are well formed."""
    checks = {
        "status": lambda value: isinstance(value, str) and value in STATUSES,
        "ids": lambda value: (
            isinstance(value, list) and all(isinstance(part, int) for part in value)
        ),
        "since_id": lambda value: isinstance(value, int),
        "financial_status": lambda value: (
            isinstance(value, str) and value in FINANCIAL_FILTERS
        ),
        "fulfillment_status": lambda value: (
            isinstance(value, str) and value in FULFILLMENT_FILTERS
        ),
    }
    checks.update(dict.fromkeys(TIME_FILTERS, _is_number))
    return all(
        name in checks and checks[name](value) for name, value in filters.items()
    )


def decode_page_info(token):
    try:
        padded = token + "=" * (-len(token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        filters, key, direction = data["f"], data["k"], data["d"]
        valid = (
            isinstance(filters, dict)
            and direction in ("next", "previous")
            and isinstance(key, list)
            and len(key) == 2
            and all(_is_number(part) for part in key)
        )
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        valid = False
    if not valid or not _valid_filters(filters):
        raise ParamError("page_info")
    return filters, tuple(key), direction


def _serialise(rows, fields):
    if fields is None:
        return [ShopStore.order_json(row) for row in rows]
    return [
        json.dumps(
            {name: row.state[name] for name in fields if name in row.state},
            separators=(",", ":"),
        )
        for row in rows
    ]


def _visible(sim):
    return sim.visibility_horizon()


def _link(sim, version, limit, fields, filters, key, direction):
    query = {"limit": limit}
    if fields:
        query["fields"] = ",".join(fields)
    query["page_info"] = encode_page_info(filters, key, direction)
    url = f"{sim.url}/admin/api/{version}/orders.json?{urlencode(query)}"
    return f'<{url}>; rel="{direction}"'


def list_orders(sim, request, version, _match):
    params = _params(request)
    try:
        limit = _limit(params)
        fields = _fields(params)
        if "page_info" in params:
            extra = sorted(set(params) - PAGING_PARAMS)
            if extra:
                raise ParamError(
                    extra[0],
                    f"{extra[0]} cannot be passed when page_info is present. See "
                    "https://shopify.dev/api/usage/pagination-rest for more "
                    "information.",
                )
            filters, key, direction = decode_page_info(params["page_info"])
        else:
            filters, key, direction = parse_filters(params), None, "next"
    except ParamError as err:
        return json_response(400, err.payload)
    store = sim.store
    accept = order_filter(filters, _visible(sim))
    if direction == "previous":
        rows, has_previous = store.scan_orders(accept, before=key, limit=limit)
        has_next = bool(rows) and store.any_order(
            accept, after=(rows[-1].updated_ts, rows[-1].state["id"])
        )
    else:
        rows, has_next = store.scan_orders(
            accept, after=key, limit=limit, since=filters.get("updated_at_min")
        )
        has_previous = (
            key is not None
            and bool(rows)
            and store.any_order(
                accept, before=(rows[0].updated_ts, rows[0].state["id"])
            )
        )
    links = []
    if rows and has_previous:
        first = (rows[0].updated_ts, rows[0].state["id"])
        links.append(_link(sim, version, limit, fields, filters, first, "previous"))
    if rows and has_next:
        last = (rows[-1].updated_ts, rows[-1].state["id"])
        links.append(_link(sim, version, limit, fields, filters, last, "next"))
    headers = {"Link": ", ".join(links)} if links else None
    body = '{"orders":[' + ",".join(_serialise(rows, fields)) + "]}"
    return raw_json_response(200, body, headers)


def get_order(sim, request, _version, match):
    order_id = int(match.group(1))
    try:
        row = sim.store.order_row(order_id)
    except KeyError:
        return error_response(404)
    horizon = _visible(sim)
    if horizon is not None and row.created_ts < horizon:
        return error_response(404)
    fields = _fields(_params(request))
    return raw_json_response(200, '{"order":' + _serialise([row], fields)[0] + "}")


def count_orders(sim, request, _version, _match):
    try:
        filters = parse_filters(_params(request))
    except ParamError as err:
        return json_response(400, err.payload)
    accept = order_filter(filters, _visible(sim))
    rows, _more = sim.store.scan_orders(accept, limit=len(sim.store.order_ids()) + 1)
    return json_response(200, {"count": len(rows)})


def get_shop(sim, _request, _version, _match):
    return json_response(
        200,
        {
            "shop": {
                "id": sim.shop_id,
                "name": sim.shop_name,
                "domain": sim.shop_domain,
                "myshopify_domain": sim.shop_domain,
                "currency": sim.currency,
                "iana_timezone": SHOP_IANA_TIMEZONE,
                "timezone": "(GMT-05:00) America/Bogota",
                "plan_name": sim.plan,
                "primary_location_id": sim.location_id,
            }
        },
    )
