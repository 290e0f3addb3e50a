"""``/_sim/``: drive a simulator running in another process (demo, benchmark).

No authentication, loopback clients only. JSON in, JSON out; a bad argument
is a 400 ``{"error": ...}``, an unknown order or listing a 404, an order
``from_listings`` asking more than a listing shows a 409.

==========  ===============================  ==================================
method      path                             body / answer
==========  ===============================  ==================================
GET         /_sim/stats                      ``sim.stats``
POST        /_sim/stats/reset                clears the counters
GET         /_sim/clock                      {now, time_scale}
POST        /_sim/clock/advance              {seconds} -> {now}
POST        /_sim/orders                     ``create_order(**body)`` -> order
GET         /_sim/orders                     every order, now, all sections
GET         /_sim/orders/{id}                ``get_order``
POST        /_sim/orders/{id}/pay            ``pay_order``
POST        /_sim/orders/{id}/cancel         ``cancel_order(**body)``
POST        /_sim/orders/{id}/ship           ``ship_order``
POST        /_sim/orders/{id}/status         {status} -> ``set_order_status``
GET         /_sim/orders/{id}/shipments      confirmed packages and attempts
GET/POST    /_sim/listings                   {sku: quantity} / ``add_listing``
GET         /_sim/listings/history           {pending, history: {sku: [[at,
                                             quantity, source]]}}
POST        /_sim/settings                   {visibility_lag, listing_delay,
                                             feed_queue_delay,
                                             feed_processing_delay}
POST        /_sim/lwa/expire                 every access token dies now
POST        /_sim/lwa/revoke                 the refresh token: invalid_grant
POST        /_sim/lwa/restore                {refresh_token?} authorise again
POST        /_sim/faults                     {status: 500|503, count, operation}
POST        /_sim/throttle                   {seconds, operation?} 429 storm
DELETE      /_sim/faults                     clear pending server faults
POST        /_sim/sqs/duplicate              {count}
POST        /_sim/sqs/reorder                {enabled}
POST        /_sim/sqs/malformed              {body?}
POST        /_sim/sqs/fail-deletes           {count}: not deleted, come back
GET         /_sim/sqs                        {messages, dead_letter}
==========  ===============================  ==================================
"""

import re

from .catalog import SoldOut
from .wire import json_response

LOOPBACK = ("127.0.0.1", "::1", "localhost")
_ORDER_ACTION = re.compile(r"/_sim/orders/([\d-]+)/(pay|cancel|ship|status|shipments)")
_ORDER = re.compile(r"/_sim/orders/([\d-]+)")


class _NotFound(Exception):
    pass


def _body(request):
    if not request.body:
        return {}
    data = request.json()
    if not isinstance(data, dict):
        raise ValueError("the body must be a JSON object")
    return data


def _settings(sim, body):
    names = {
        "visibility_lag": lambda v: setattr(sim, "visibility_lag", v),
        "listing_delay": lambda v: setattr(sim, "listing_delay", v),
        "feed_queue_delay": lambda v: setattr(sim.feeds, "queue_delay", float(v)),
        "feed_processing_delay": lambda v: setattr(
            sim.feeds, "processing_delay", float(v)
        ),
    }
    unknown = set(body) - set(names)
    if unknown:
        raise ValueError(f"unknown settings {sorted(unknown)}")
    for name, value in body.items():
        names[name](float(value))
    return {name: body[name] for name in body}


def _order_action(sim, order_id, action, body):
    if action == "shipments":
        return {
            "packages": sim.shipments(order_id),
            "attempts": sim.shipment_attempts(order_id),
        }
    actions = {
        "pay": lambda: sim.pay_order(order_id),
        "cancel": lambda: sim.cancel_order(order_id, **body),
        "ship": lambda: sim.ship_order(order_id),
        "status": lambda: sim.set_order_status(order_id, body["status"]),
    }
    return actions[action]()


def _routes(sim, request, body):
    method, path = request.method, request.path.rstrip("/")
    simple = {
        ("GET", "/_sim/stats"): lambda: sim.stats,
        ("POST", "/_sim/stats/reset"): lambda: sim.reset_stats() or {},
        ("GET", "/_sim/clock"): lambda: {
            "now": sim.clock(),
            "time_scale": getattr(sim.clock, "time_scale", None),
        },
        ("POST", "/_sim/clock/advance"): lambda: {
            "now": sim.clock.advance(float(body["seconds"]))
        },
        ("POST", "/_sim/orders"): lambda: sim.create_order(**body),
        ("GET", "/_sim/orders"): sim.orders.all_orders,
        ("GET", "/_sim/listings"): sim.listings,
        ("GET", "/_sim/listings/history"): sim.listing_histories,
        ("POST", "/_sim/listings"): lambda: sim.add_listing(**body),
        ("POST", "/_sim/settings"): lambda: _settings(sim, body),
        ("POST", "/_sim/lwa/expire"): lambda: sim.expire_tokens() or {},
        ("POST", "/_sim/lwa/revoke"): lambda: sim.revoke_refresh_token() or {},
        ("POST", "/_sim/lwa/restore"): lambda: sim.lwa.restore(**body) or {},
        ("POST", "/_sim/faults"): lambda: (
            sim.fail_next(**body) or {"pending": sim.faults.pending()}
        ),
        ("DELETE", "/_sim/faults"): lambda: sim.faults.clear() or {},
        ("POST", "/_sim/throttle"): lambda: sim.throttle(**body) or {},
        ("POST", "/_sim/sqs/duplicate"): lambda: (
            sim.duplicate_next_messages(**body) or {}
        ),
        ("POST", "/_sim/sqs/reorder"): lambda: sim.reorder_messages(**body) or {},
        ("POST", "/_sim/sqs/fail-deletes"): lambda: sim.fail_next_deletes(**body) or {},
        ("POST", "/_sim/sqs/malformed"): lambda: {
            "messageId": sim.inject_malformed_message(**body)
        },
        ("GET", "/_sim/sqs"): lambda: {
            "messages": sim.queue_messages(),
            "dead_letter": sim.queue_messages(dead_letter=True)
            if sim.dead_letter_queue_url
            else [],
        },
    }
    handler = simple.get((method, path))
    if handler is not None:
        created = method == "POST" and path in ("/_sim/orders", "/_sim/listings")
        return (201 if created else 200), handler()
    match = _ORDER_ACTION.fullmatch(path)
    if match and method in ("POST", "GET"):
        return 200, _order_action(sim, match.group(1), match.group(2), body)
    match = _ORDER.fullmatch(path)
    if match and method == "GET":
        return 200, sim.get_order(match.group(1))
    raise _NotFound(f"no control endpoint {method} {path}")


def handle(sim, request):
    if request.client_host not in LOOPBACK:
        return json_response(403, {"error": "the control surface is loopback only"})
    try:
        status, payload = _routes(sim, request, _body(request))
    except SoldOut as err:
        return json_response(409, {"error": str(err)})
    except (_NotFound, KeyError) as err:
        return json_response(404, {"error": str(err).strip("'\"")})
    except (ValueError, TypeError) as err:
        return json_response(400, {"error": str(err)})
    return json_response(status, payload)
