"""Webhook subscriptions made through the GraphQL Admin API, strictly:
``webhookSubscriptionCreate`` / ``webhookSubscriptionDelete`` and the
``webhookSubscriptions`` connection.

What Shopify refuses, refused here with the same ``userErrors``: an address
that is not ``https://`` (plain ``http://`` only to a loopback host, so tests
and the demo can subscribe Odoo on 127.0.0.1), no address at all, and the
same address twice for one topic. A topic outside the enum is a variable
coercion error before anything runs, as on Shopify.

Subscriptions are bookkeeping: deliveries go to the sender attached through
``/_sim/webhooks`` (which knows the app's secret), whatever is subscribed.
"""

import itertools
import threading
from urllib.parse import urlsplit

from graphql import GraphQLError

from .clock import format_utc

#: the topics of the enum the simulator knows (a subset of Shopify's)
TOPICS = (
    "ORDERS_CREATE",
    "ORDERS_UPDATED",
    "ORDERS_PAID",
    "ORDERS_CANCELLED",
    "ORDERS_FULFILLED",
    "ORDERS_PARTIALLY_FULFILLED",
    "FULFILLMENTS_CREATE",
    "FULFILLMENTS_UPDATE",
    "FULFILLMENT_ORDERS_PLACED_ON_HOLD",
    "FULFILLMENT_ORDERS_HOLD_RELEASED",
    "PRODUCTS_CREATE",
    "PRODUCTS_UPDATE",
    "PRODUCTS_DELETE",
    "INVENTORY_LEVELS_UPDATE",
    "INVENTORY_ITEMS_CREATE",
    "INVENTORY_ITEMS_UPDATE",
    "INVENTORY_ITEMS_DELETE",
    "REFUNDS_CREATE",
    "RETURNS_REQUEST",
    "RETURNS_APPROVE",
    "RETURNS_PROCESS",
    "RETURNS_CLOSE",
    "RETURNS_CANCEL",
    "RETURNS_DECLINE",
)

SDL = """
scalar URL

enum WebhookSubscriptionTopic { __TOPICS__ }
enum WebhookSubscriptionFormat { JSON XML }

type WebhookSubscription {
  id: ID!
  legacyResourceId: UnsignedInt64!
  topic: WebhookSubscriptionTopic!
  uri: String!
  callbackUrl: URL!
  format: WebhookSubscriptionFormat!
  createdAt: DateTime!
  updatedAt: DateTime!
}
type WebhookSubscriptionEdge { cursor: String! node: WebhookSubscription! }
type WebhookSubscriptionConnection {
  edges: [WebhookSubscriptionEdge!]!
  nodes: [WebhookSubscription!]!
  pageInfo: PageInfo!
}

input WebhookSubscriptionInput {
  format: WebhookSubscriptionFormat
  uri: String
  callbackUrl: URL
}

type UserError { field: [String!] message: String! }
type WebhookSubscriptionCreatePayload {
  userErrors: [UserError!]!
  webhookSubscription: WebhookSubscription
}
type WebhookSubscriptionDeletePayload {
  deletedWebhookSubscriptionId: ID
  userErrors: [UserError!]!
}

extend type QueryRoot {
  webhookSubscription(id: ID!): WebhookSubscription
  webhookSubscriptions(
    first: Int!, after: String, topics: [WebhookSubscriptionTopic!], uri: String
  ): WebhookSubscriptionConnection!
}

extend type Mutation {
  webhookSubscriptionCreate(
    topic: WebhookSubscriptionTopic!
    webhookSubscription: WebhookSubscriptionInput!
  ): WebhookSubscriptionCreatePayload
  webhookSubscriptionDelete(id: ID!): WebhookSubscriptionDeletePayload
}
""".replace("__TOPICS__", " ".join(TOPICS))

LOOPBACK_HOSTS = ("127.0.0.1", "localhost", "::1")
_GID = "gid://shopify/WebhookSubscription/"


def _address_error(uri):
    """Why Shopify would refuse ``uri``, or None."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return "Address is invalid"
    if not parts.hostname or parts.scheme not in ("https", "http"):
        return "Address is invalid"
    if parts.scheme == "http" and parts.hostname not in LOOPBACK_HOSTS:
        return "Address protocol http:// is not supported"
    return None


class WebhookSubscriptions:
    """The shop's subscriptions, in creation order."""

    def __init__(self, clock, first_id=1_200_000_000):
        self._clock = clock
        self._lock = threading.Lock()
        self._ids = itertools.count(first_id, 7)
        self._rows = {}  # id -> dict

    def create(self, topic, uri, fmt="JSON"):
        """``(subscription or None, user errors)``."""
        field = ["webhookSubscription", "uri"]
        if not uri:
            return None, [{"field": field, "message": "Address can't be blank"}]
        error = _address_error(uri)
        if error:
            return None, [{"field": field, "message": error}]
        with self._lock:
            if any(
                r["topic"] == topic and r["uri"] == uri for r in self._rows.values()
            ):
                return None, [
                    {
                        "field": field,
                        "message": "Address for this topic has already been taken",
                    }
                ]
            number = next(self._ids)
            stamp = format_utc(int(self._clock()))
            row = {
                "number": number,
                "topic": topic,
                "uri": uri,
                "format": fmt,
                "created": stamp,
            }
            self._rows[number] = row
            return dict(row), []

    def delete(self, number):
        with self._lock:
            return self._rows.pop(number, None) is not None

    def rows(self):
        with self._lock:
            return [dict(row) for row in sorted(self._rows.values(), key=_number)]

    def get(self, number):
        with self._lock:
            row = self._rows.get(number)
            return dict(row) if row else None


def _number(row):
    return row["number"]


def view(row):
    return {
        "id": f"{_GID}{row['number']}",
        "legacyResourceId": str(row["number"]),
        "topic": row["topic"],
        "uri": row["uri"],
        "callbackUrl": row["uri"],
        "format": row["format"],
        "createdAt": row["created"],
        "updatedAt": row["created"],
    }


def _parse_id(value):
    if not str(value).startswith(_GID) or not value[len(_GID) :].isdigit():
        raise GraphQLError(
            f"Invalid global id '{value}'",
            extensions={"code": "argumentLiteralsIncompatible"},
        )
    return int(value[len(_GID) :])


def _subscriptions(_root, info, first, after=None, topics=None, uri=None):
    from .graphql_api import _connection  # the one paging of the simulator

    rows = info.context.sim.subscriptions.rows()
    rows = [
        r
        for r in rows
        if (not topics or r["topic"] in topics) and (uri is None or r["uri"] == uri)
    ]
    return _connection(rows, _number, view, first, after)


def _subscription(_root, info, id):
    row = info.context.sim.subscriptions.get(_parse_id(id))
    return view(row) if row else None


def _create(_root, info, topic, webhookSubscription):
    data = webhookSubscription
    uri = data.get("uri") or data.get("callbackUrl")
    row, errors = info.context.sim.subscriptions.create(
        topic, uri, data.get("format") or "JSON"
    )
    return {"webhookSubscription": view(row) if row else None, "userErrors": errors}


def _delete(_root, info, id):
    number = _parse_id(id)
    if info.context.sim.subscriptions.delete(number):
        return {"deletedWebhookSubscriptionId": id, "userErrors": []}
    return {
        "deletedWebhookSubscriptionId": None,
        "userErrors": [
            {"field": ["id"], "message": "Webhook subscription does not exist"}
        ],
    }


def attach_resolvers(schema):
    schema.query_type.fields["webhookSubscription"].resolve = _subscription
    schema.query_type.fields["webhookSubscriptions"].resolve = _subscriptions
    mutations = schema.mutation_type.fields
    mutations["webhookSubscriptionCreate"].resolve = _create
    mutations["webhookSubscriptionDelete"].resolve = _delete
