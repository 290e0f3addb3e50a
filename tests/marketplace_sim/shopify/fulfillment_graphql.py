"""Fulfillment orders and fulfillments over GraphQL: ``order``,
``fulfillmentOrder``, ``fulfillment`` and ``fulfillmentCreate`` (the shop's
side is :mod:`.fulfillment`)."""

import re

from graphql import GraphQLError

from . import graphql_api
from .clock import format_utc
from .fulfillment import FulfillmentError
from .inventory import InventoryInputError, parse_gid

SDL = """
enum FulfillmentOrderStatus {
  OPEN IN_PROGRESS CANCELLED INCOMPLETE CLOSED SCHEDULED ON_HOLD
}
enum FulfillmentStatus { PENDING OPEN SUCCESS CANCELLED ERROR FAILURE }
enum FulfillmentHoldReason {
  AWAITING_PAYMENT HIGH_RISK_OF_FRAUD INCORRECT_ADDRESS INVENTORY_OUT_OF_STOCK
  UNKNOWN_DELIVERY_DATE ONLINE_STORE_POST_PURCHASE_CROSS_SELL
  AWAITING_RETURN_ITEMS OTHER
}

type LineItem {
  id: ID!
  name: String!
  sku: String
  quantity: Int!
  fulfillableQuantity: Int!
}

type FulfillmentHold {
  id: ID!
  reason: FulfillmentHoldReason!
  reasonNotes: String
  displayReason: String!
}

type FulfillmentOrderAssignedLocation {
  name: String!
  location: Location
}

type FulfillmentOrderLineItem {
  id: ID!
  lineItem: LineItem!
  sku: String
  totalQuantity: Int!
  remainingQuantity: Int!
}
type FulfillmentOrderLineItemEdge { cursor: String! node: FulfillmentOrderLineItem! }
type FulfillmentOrderLineItemConnection {
  edges: [FulfillmentOrderLineItemEdge!]!
  nodes: [FulfillmentOrderLineItem!]!
  pageInfo: PageInfo!
}

type FulfillmentOrder {
  id: ID!
  orderId: ID!
  orderName: String!
  order: Order!
  status: FulfillmentOrderStatus!
  assignedLocation: FulfillmentOrderAssignedLocation!
  fulfillmentHolds: [FulfillmentHold!]!
  lineItems(first: Int!, after: String): FulfillmentOrderLineItemConnection!
  createdAt: DateTime!
  updatedAt: DateTime!
}
type FulfillmentOrderEdge { cursor: String! node: FulfillmentOrder! }
type FulfillmentOrderConnection {
  edges: [FulfillmentOrderEdge!]!
  nodes: [FulfillmentOrder!]!
  pageInfo: PageInfo!
}

type FulfillmentTrackingInfo { company: String number: String url: URL }

type FulfillmentLineItem {
  id: ID!
  lineItem: LineItem!
  quantity: Int
}
type FulfillmentLineItemEdge { cursor: String! node: FulfillmentLineItem! }
type FulfillmentLineItemConnection {
  edges: [FulfillmentLineItemEdge!]!
  nodes: [FulfillmentLineItem!]!
  pageInfo: PageInfo!
}

type Fulfillment {
  id: ID!
  legacyResourceId: UnsignedInt64!
  name: String!
  status: FulfillmentStatus!
  createdAt: DateTime!
  updatedAt: DateTime!
  totalQuantity: Int!
  location: Location
  order: Order!
  trackingInfo(first: Int): [FulfillmentTrackingInfo!]!
  fulfillmentLineItems(first: Int!, after: String): FulfillmentLineItemConnection!
  fulfillmentOrders(first: Int!, after: String): FulfillmentOrderConnection!
}

type Order {
  id: ID!
  legacyResourceId: UnsignedInt64!
  name: String!
  fulfillmentOrders(first: Int!, after: String): FulfillmentOrderConnection!
  fulfillments(first: Int): [Fulfillment!]!
}

input FulfillmentOrderLineItemInput { id: ID! quantity: Int! }
input FulfillmentOrderLineItemsInput {
  fulfillmentOrderId: ID!
  fulfillmentOrderLineItems: [FulfillmentOrderLineItemInput!]
}
input FulfillmentTrackingInput {
  number: String
  url: URL
  company: String
  numbers: [String!]
  urls: [URL!]
}
input FulfillmentInput {
  trackingInfo: FulfillmentTrackingInput
  notifyCustomer: Boolean
  lineItemsByFulfillmentOrder: [FulfillmentOrderLineItemsInput!]!
}
type FulfillmentCreatePayload {
  fulfillment: Fulfillment
  userErrors: [UserError!]!
}

extend type QueryRoot {
  order(id: ID!): Order
  fulfillmentOrder(id: ID!): FulfillmentOrder
  fulfillment(id: ID!): Fulfillment
}

extend type Mutation {
  fulfillmentCreate(
    fulfillment: FulfillmentInput!, message: String
  ): FulfillmentCreatePayload
}
"""


#: Shopify's shared definitions this part uses, added unless an earlier part
#: of the schema defines them already (graphql-core refuses a second one)
_SHARED = (
    (re.compile(r"\bscalar URL\b"), "scalar URL\n"),
    (
        re.compile(r"\btype UserError\s*\{"),
        "type UserError { field: [String!] message: String! }\n",
    ),
)


def sdl_after(existing):
    """This part's SDL, to be appended to ``existing``."""
    shared = "".join(text for found, text in _SHARED if not found.search(existing))
    return shared + SDL


def _number(value, kind):
    try:
        return parse_gid(value, kind)
    except InventoryInputError as err:
        raise GraphQLError(str(err), extensions={"code": err.code}) from None


def _gid(kind, number):
    return f"gid://shopify/{kind}/{number}"


class _Views:
    """Plain dicts for graphql-core's default resolver (see graphql_api)."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.desk = ctx.sim.fulfillment

    def connection(self, items, key, view, first, after):
        return graphql_api._connection(items, key, view, first, after)

    def line_item(self, order_id, line_item_id):
        item = self.desk._line_item(order_id, line_item_id)
        return {
            "id": _gid("LineItem", item["id"]),
            "name": item["name"],
            "sku": item["sku"],
            "quantity": item["quantity"],
            "fulfillableQuantity": item["fulfillable_quantity"],
        }

    def order(self, order_id):
        state = self.ctx.store.order_row(order_id).state

        def fulfillment_orders(_info, first, after=None):
            return self.connection(
                self.desk.of_order(order_id),
                lambda fo: fo.id,
                self.fulfillment_order,
                first,
                after,
            )

        def fulfillments(_info, first=None):
            found = self.desk.fulfillments_of(order_id)
            if first is not None:
                found = found[:first]
            return [self.fulfillment(f) for f in found]

        return {
            "id": _gid("Order", order_id),
            "legacyResourceId": str(order_id),
            "name": state["name"],
            "fulfillmentOrders": fulfillment_orders,
            "fulfillments": fulfillments,
        }

    def fulfillment_order(self, fulfillment_order):
        order_id = fulfillment_order.order_id
        location = self.ctx.store.locations[fulfillment_order.location_id]

        def line_items(_info, first, after=None):
            return self.connection(
                list(fulfillment_order.lines),
                lambda line: line.id,
                lambda line: {
                    "id": _gid("FulfillmentOrderLineItem", line.id),
                    "lineItem": lambda _i: self.line_item(order_id, line.line_item_id),
                    "sku": self.desk._line_item(order_id, line.line_item_id)["sku"],
                    "totalQuantity": line.total,
                    "remainingQuantity": line.remaining,
                },
                first,
                after,
            )

        return {
            "id": fulfillment_order.gid,
            "orderId": _gid("Order", order_id),
            "orderName": self.ctx.store.order_row(order_id).state["name"],
            "order": lambda _info: self.order(order_id),
            "status": self.desk.status(fulfillment_order),
            "assignedLocation": {
                "name": location.name,
                "location": self.ctx.location(location),
            },
            "fulfillmentHolds": [
                {
                    "id": _gid("FulfillmentHold", hold["id"]),
                    "reason": hold["reason"],
                    "reasonNotes": hold["notes"],
                    "displayReason": hold["reason"].replace("_", " ").capitalize(),
                }
                for hold in fulfillment_order.holds
            ],
            "lineItems": line_items,
            "createdAt": format_utc(fulfillment_order.created_ts),
            "updatedAt": format_utc(fulfillment_order.updated_ts),
        }

    def fulfillment(self, fulfillment):
        order_id = fulfillment.order_id

        def tracking_info(_info, first=None):
            found = (
                fulfillment.tracking if first is None else fulfillment.tracking[:first]
            )
            return [dict(info) for info in found]

        def line_items(_info, first, after=None):
            return self.connection(
                list(fulfillment.lines),
                lambda line: line[0],
                lambda line: {
                    "id": _gid("FulfillmentLineItem", line[0]),
                    "lineItem": lambda _i: self.line_item(order_id, line[1]),
                    "quantity": line[3],
                },
                first,
                after,
            )

        def fulfillment_orders(_info, first, after=None):
            return self.connection(
                [self.desk._by_id[i] for i in fulfillment.fulfillment_order_ids],
                lambda fo: fo.id,
                self.fulfillment_order,
                first,
                after,
            )

        return {
            "id": fulfillment.gid,
            "legacyResourceId": str(fulfillment.id),
            "name": fulfillment.name,
            "status": "SUCCESS",
            "createdAt": format_utc(fulfillment.created_ts),
            "updatedAt": format_utc(fulfillment.created_ts),
            "totalQuantity": sum(line[3] for line in fulfillment.lines),
            "location": self.ctx.location_by_id(fulfillment.location_id),
            "order": lambda _info: self.order(order_id),
            "trackingInfo": tracking_info,
            "fulfillmentLineItems": line_items,
            "fulfillmentOrders": fulfillment_orders,
        }


def _order(_root, info, id):
    order_id = _number(id, "Order")
    try:
        info.context.store.order_row(order_id)
    except KeyError:
        return None
    return _Views(info.context).order(order_id)


def _fulfillment_order(_root, info, id):
    found = info.context.sim.fulfillment.fulfillment_order(
        _number(id, "FulfillmentOrder")
    )
    return None if found is None else _Views(info.context).fulfillment_order(found)


def _fulfillment(_root, info, id):
    found = info.context.sim.fulfillment.fulfillment(_number(id, "Fulfillment"))
    return None if found is None else _Views(info.context).fulfillment(found)


def _fulfillment_create(_root, info, fulfillment, message=None):
    desk = info.context.sim.fulfillment
    try:
        created = desk.create(fulfillment, message)
    except InventoryInputError as err:
        raise GraphQLError(str(err), extensions={"code": err.code}) from None
    except FulfillmentError as err:
        return {
            "fulfillment": None,
            "userErrors": [{"field": err.field, "message": err.message}],
        }
    return {"fulfillment": _Views(info.context).fulfillment(created), "userErrors": []}


def attach_resolvers(schema):
    queries = schema.query_type.fields
    queries["order"].resolve = _order
    queries["fulfillmentOrder"].resolve = _fulfillment_order
    queries["fulfillment"].resolve = _fulfillment
    schema.mutation_type.fields["fulfillmentCreate"].resolve = _fulfillment_create
