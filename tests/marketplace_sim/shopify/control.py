"""``/_sim/``: drive a simulator running in another process (demo, benchmark).

No authentication, loopback clients only. JSON in, JSON out; a bad argument
is a 400 ``{"error": ...}``, an unknown order or item a 404.

==========  ===============================  ==================================
method      path                             body / answer
==========  ===============================  ==================================
GET         /_sim/stats                      ``sim.stats``
POST        /_sim/stats/reset                clears stats and the request log
GET/POST    /_sim/products                   list / ``add_product(**body)``
POST        /_sim/products/{sku}/update      ``catalogue.update_product(**body)``
DELETE      /_sim/products/{sku}             ``catalogue.delete_product``
GET         /_sim/subscriptions              webhook subscriptions made by API
POST        /_sim/orders                     ``create_order(**body)`` → order
GET         /_sim/orders                     every order (updated_at order)
GET         /_sim/orders/{id}                ``get_order``
POST        /_sim/orders/{id}/paid           ``mark_paid`` → order
POST        /_sim/orders/{id}/cancel         ``cancel_order(**body)`` → order
POST        /_sim/orders/{id}/close          ``close_order`` → order
POST        /_sim/orders/{id}/update         ``update_order(**body)`` → order
POST        /_sim/orders/{id}/refund         ``refunds.refund_order(**body)`` →
                                             refund (fires ``refunds/create``)
POST        /_sim/orders/{id}/fulfil         ``refunds.mark_fulfilled(**body)``
                                             (by hand in the admin) → order
GET         /_sim/fulfillments               every fulfillment (REST shape)
GET         /_sim/orders/{id}/fulfillments   the order's fulfillments
GET         /_sim/orders/{id}/fulfillment_orders  its fulfillment orders
POST        /_sim/orders/{id}/hold           {reason, notes}: hold them
POST        /_sim/orders/{id}/release        release every hold
POST        /_sim/orders/{id}/move           {line_item_id, location_id,
                                             quantity} to another location
POST        /_sim/faults                     {kind: fail|timeout|throttle, count,
                                             status, path_contains, retry_after,
                                             seconds, apply}
DELETE      /_sim/faults                     clear every pending fault
GET         /_sim/inventory                  every level
POST        /_sim/inventory                  ``set_inventory(**body)`` (or
                                             ``sku`` instead of the item id)
POST        /_sim/webhooks                   attach a WebhookSender: {url, secret,
                                             api_version, duplicate_rate,
                                             reorder_window, drop_rate,
                                             time_scale, seed, workers}
DELETE      /_sim/webhooks                   detach (and close) it
GET         /_sim/webhooks/stats             the sender's stats
POST        /_sim/webhooks/drain             {timeout} → {"drained": bool}
==========  ===============================  ==================================
"""

import re

from . import catalogue, fulfillment, refunds
from .wire import json_response

LOOPBACK = ("127.0.0.1", "::1", "localhost")
_ORDER_ACTION = re.compile(r"/_sim/orders/(\d+)/(paid|cancel|close|update)")
_ORDER = re.compile(r"/_sim/orders/(\d+)")
_REFUND_ACTION = re.compile(r"/_sim/orders/(\d+)/(refund|fulfil)")
_PRODUCT = re.compile(r"/_sim/products/([^/]+)(/update)?")


class _NotFound(Exception):
    pass


def _body(request):
    if not request.body:
        return {}
    data = request.json()  # ValueError -> 400
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


def _no_sender():
    raise _NotFound("no webhook sender is attached")


def _sender(sim):
    return sim.webhooks or _no_sender()


def _order_action(sim, order_id, action, body):
    actions = {
        "paid": sim.mark_paid,
        "cancel": sim.cancel_order,
        "close": sim.close_order,
        "update": sim.update_order,
    }
    return actions[action](order_id, **body)


def _set_inventory(sim, body):
    if "sku" in body:
        body["inventory_item_id"] = sim.variant(body.pop("sku"))["inventory_item_id"]
    sim.set_inventory(**body)
    return {
        "available": sim.inventory_level(
            body["inventory_item_id"], body.get("location_id")
        )
    }


def _add_fault(sim, body):
    sim.faults.add(body.pop("kind", None), **body)
    return {"pending": sim.faults.pending()}


def _routes(sim, request, body):
    """``(status, payload)`` for a control request."""
    method, path = request.method, request.path.rstrip("/")
    simple = {
        ("GET", "/_sim/stats"): lambda: sim.stats,
        ("POST", "/_sim/stats/reset"): lambda: sim.reset_stats() or {},
        ("GET", "/_sim/products"): sim.products,
        ("POST", "/_sim/products"): lambda: sim.add_product(**body),
        ("GET", "/_sim/orders"): sim.orders,
        ("POST", "/_sim/orders"): lambda: sim.create_order(**body),
        ("POST", "/_sim/faults"): lambda: _add_fault(sim, body),
        ("DELETE", "/_sim/faults"): lambda: sim.faults.clear() or {},
        ("GET", "/_sim/inventory"): sim.inventory_snapshot,
        ("GET", "/_sim/subscriptions"): sim.subscriptions.rows,
        ("POST", "/_sim/inventory"): lambda: _set_inventory(sim, body),
        ("POST", "/_sim/webhooks"): lambda: (
            sim.attach_webhooks(**body) and {"attached": True}
        ),
        ("DELETE", "/_sim/webhooks"): lambda: sim.detach_webhooks() or {},
        ("GET", "/_sim/webhooks/stats"): lambda: _sender(sim).stats,
        ("POST", "/_sim/webhooks/drain"): lambda: {
            "drained": _sender(sim).drain(**body)
        },
    }
    handler = simple.get((method, path))
    if handler is not None:
        created = method == "POST" and path in ("/_sim/products", "/_sim/orders")
        return (201 if created else 200), handler()
    match = _ORDER_ACTION.fullmatch(path)
    if match and method == "POST":
        return 200, _order_action(sim, int(match.group(1)), match.group(2), body)
    match = _REFUND_ACTION.fullmatch(path)
    if match and method == "POST":
        action = {"refund": refunds.refund_order, "fulfil": refunds.mark_fulfilled}
        return 200, action[match.group(2)](sim, int(match.group(1)), **body)
    match = _ORDER.fullmatch(path)
    if match and method == "GET":
        return 200, sim.get_order(int(match.group(1)))
    match = _PRODUCT.fullmatch(path)
    if match and method == ("POST" if match.group(2) else "DELETE"):
        if match.group(2):
            return 200, catalogue.update_product(sim, match.group(1), **body)
        return 200, catalogue.delete_product(sim, match.group(1))
    found = fulfillment.control(sim, method, path, body)
    if found is not None:
        return found
    raise _NotFound(f"no control endpoint {method} {path}")


def handle(sim, request):
    if request.client_host not in LOOPBACK:
        return json_response(403, {"error": "the control surface is loopback only"})
    try:
        status, payload = _routes(sim, request, _body(request))
    except (_NotFound, KeyError) as err:
        return json_response(404, {"error": str(err).strip("'\"")})
    except (ValueError, TypeError) as err:
        return json_response(400, {"error": str(err)})
    return json_response(status, payload)
