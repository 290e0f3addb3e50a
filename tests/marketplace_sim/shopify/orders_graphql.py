"""Orders over GraphQL: ``orders(first, after, query, sortKey, reverse)``
and the order fields an app polling for changed orders reads.

The order is the REST state the simulator keeps (:mod:`.orders`), shown as
GraphQL shows it: GIDs, money as ``MoneyBag`` (``shopMoney``), statuses as
upper-case enums (``displayFinancialStatus``, ``displayFulfillmentStatus``:
no fulfillment is ``UNFULFILLED``), timestamps in UTC.

``orders`` is paged as Shopify pages it: by the sort key, then the id, with
an opaque cursor; ``query`` understands ``updated_at`` and ``created_at``
with ``>``, ``>=``, ``<``, ``<=`` (a quoted ISO 8601 time); orders created
before the visibility horizon (60 days without ``read_all_orders``) are not
shown. Every query is costed like any other (a connection costs its
``first``), so a page of orders with their lines is expensive.
"""

import base64
import binascii
import json
import re

from graphql import GraphQLError

from .clock import format_utc, parse_ts
from .inventory import InventoryInputError, parse_gid

SDL = """
scalar Decimal

enum OrderSortKeys {
  CREATED_AT ID ORDER_NUMBER PROCESSED_AT TOTAL_PRICE UPDATED_AT
}
enum OrderDisplayFinancialStatus {
  PENDING AUTHORIZED PARTIALLY_PAID PARTIALLY_REFUNDED VOIDED PAID REFUNDED
  EXPIRED
}
enum OrderDisplayFulfillmentStatus {
  UNFULFILLED PARTIALLY_FULFILLED FULFILLED RESTOCKED PENDING_FULFILLMENT OPEN
  IN_PROGRESS ON_HOLD SCHEDULED REQUEST_DECLINED
}
enum OrderCancelReason { CUSTOMER DECLINED FRAUD INVENTORY OTHER STAFF }

type MoneyV2 { amount: Decimal! currencyCode: CurrencyCode! }
type MoneyBag { shopMoney: MoneyV2! presentmentMoney: MoneyV2! }

type CustomerEmailAddress { emailAddress: String! }
type CustomerPhoneNumber { phoneNumber: String! }
type Customer {
  id: ID!
  firstName: String
  lastName: String
  defaultEmailAddress: CustomerEmailAddress
  defaultPhoneNumber: CustomerPhoneNumber
}

type MailingAddress {
  firstName: String
  lastName: String
  company: String
  address1: String
  address2: String
  city: String
  provinceCode: String
  zip: String
  countryCodeV2: String
  phone: String
}

type TaxLine {
  title: String!
  rate: Float
  priceSet: MoneyBag!
  channelLiable: Boolean
}

extend type LineItem {
  title: String!
  requiresShipping: Boolean!
  variant: ProductVariant
  originalUnitPriceSet: MoneyBag!
  totalDiscountSet: MoneyBag!
  taxLines: [TaxLine!]!
}
type LineItemEdge { cursor: String! node: LineItem! }
type LineItemConnection {
  edges: [LineItemEdge!]!
  nodes: [LineItem!]!
  pageInfo: PageInfo!
}

type ShippingLine {
  title: String!
  code: String
  originalPriceSet: MoneyBag!
  discountedPriceSet: MoneyBag!
  taxLines: [TaxLine!]!
}
type ShippingLineEdge { cursor: String! node: ShippingLine! }
type ShippingLineConnection {
  edges: [ShippingLineEdge!]!
  nodes: [ShippingLine!]!
  pageInfo: PageInfo!
}

extend type Order {
  email: String
  phone: String
  note: String
  test: Boolean!
  createdAt: DateTime!
  updatedAt: DateTime!
  processedAt: DateTime!
  cancelledAt: DateTime
  cancelReason: OrderCancelReason
  closedAt: DateTime
  currencyCode: CurrencyCode!
  taxesIncluded: Boolean!
  displayFinancialStatus: OrderDisplayFinancialStatus
  displayFulfillmentStatus: OrderDisplayFulfillmentStatus!
  paymentGatewayNames: [String!]!
  totalPriceSet: MoneyBag!
  totalTaxSet: MoneyBag
  totalDiscountsSet: MoneyBag
  customer: Customer
  shippingAddress: MailingAddress
  billingAddress: MailingAddress
  lineItems(first: Int!, after: String): LineItemConnection!
  shippingLines(first: Int!, after: String): ShippingLineConnection!
}
type OrderEdge { cursor: String! node: Order! }
type OrderConnection {
  edges: [OrderEdge!]!
  nodes: [Order!]!
  pageInfo: PageInfo!
}

extend type QueryRoot {
  orders(
    first: Int!, after: String, query: String, sortKey: OrderSortKeys,
    reverse: Boolean
  ): OrderConnection!
}
"""

MAX_PAGE_SIZE = 250
FULFILLMENT_STATUS = {
    None: "UNFULFILLED",
    "": "UNFULFILLED",
    "partial": "PARTIALLY_FULFILLED",
    "fulfilled": "FULFILLED",
    "restocked": "RESTOCKED",
}
_TERM = re.compile(
    r"""(?P<field>\w+):(?P<op>>=|<=|>|<)?(?P<value>"[^"]*"|'[^']*'|\S+)"""
)


def _gid(kind, number):
    return f"gid://shopify/{kind}/{number}"


def _bag(amount, currency):
    money = {"amount": str(amount), "currencyCode": currency}
    return {"shopMoney": money, "presentmentMoney": dict(money)}


def _utc(text):
    return None if not text else format_utc(parse_ts(text))


def _taxes(lines, currency):
    return [
        {
            "title": tax.get("title") or "Tax",
            "rate": tax.get("rate"),
            "priceSet": _bag(tax.get("price") or "0.00", currency),
            "channelLiable": tax.get("channel_liable"),
        }
        for tax in lines or ()
    ]


def _address(data):
    if not data:
        return None
    return {
        "firstName": data.get("first_name"),
        "lastName": data.get("last_name"),
        "company": data.get("company"),
        "address1": data.get("address1"),
        "address2": data.get("address2"),
        "city": data.get("city"),
        "provinceCode": data.get("province_code"),
        "zip": data.get("zip"),
        "countryCodeV2": data.get("country_code"),
        "phone": data.get("phone"),
    }


def _customer(data):
    if not data:
        return None
    return {
        "id": _gid("Customer", data["id"]),
        "firstName": data.get("first_name"),
        "lastName": data.get("last_name"),
        "defaultEmailAddress": (
            {"emailAddress": data["email"]} if data.get("email") else None
        ),
        "defaultPhoneNumber": (
            {"phoneNumber": data["phone"]} if data.get("phone") else None
        ),
    }


def _position_cursor(key):
    raw = json.dumps({"last_id": key[1], "last_value": key[0]})
    return base64.b64encode(raw.encode()).decode()


def _position(cursor):
    try:
        data = json.loads(base64.b64decode(cursor, validate=True))
        return (data["last_value"], int(data["last_id"]))
    except (binascii.Error, ValueError, KeyError, TypeError):
        raise GraphQLError(
            f"Invalid cursor for current pagination sort: {cursor!r}",
            extensions={"code": "BAD_REQUEST"},
        ) from None


def _list_page(items, first, after, view):
    """A plain connection over a list (line items, shipping lines): the
    cursor is the position."""
    from .graphql_api import _connection  # (an import cycle at module level)

    numbered = list(enumerate(items, 1))
    return _connection(
        numbered, lambda pair: pair[0], lambda pair: view(pair[1]), first, after
    )


def _filters(query):
    """``[(field, operator, epoch)]`` from a search query (``updated_at``,
    ``created_at``); other terms are ignored, as Shopify ignores unknown
    fields (with a search warning)."""
    found = []
    for match in _TERM.finditer(query or ""):
        field = match.group("field")
        if field not in ("updated_at", "created_at"):
            continue
        value = match.group("value").strip("'\"")
        try:
            moment = parse_ts(value)
        except ValueError:
            raise GraphQLError(
                f"Invalid {field} value: {value!r}", extensions={"code": "BAD_REQUEST"}
            ) from None
        found.append((field, match.group("op") or ">=", moment))
    return found


def _accepts(row, filters):
    for field, op, moment in filters:
        stamp = row.updated_ts if field == "updated_at" else row.created_ts
        if not {
            ">": stamp > moment,
            ">=": stamp >= moment,
            "<": stamp < moment,
            "<=": stamp <= moment,
        }[op]:
            return False
    return True


def order_view(ctx, order_id):
    """The GraphQL fields of an order (added to :mod:`.fulfillment_graphql`'s
    view of the same order)."""
    from .fulfillment_graphql import _Views  # (an import cycle at module level)

    state = ctx.store.order_row(order_id).state
    currency = state["currency"]
    view = _Views(ctx).order(order_id)

    def line_item(item):
        found = _Views(ctx).line_item(order_id, item["id"])
        variant = ctx.store.variants_by_id.get(item.get("variant_id"))
        found.update(
            title=item["title"],
            requiresShipping=item.get("requires_shipping", True),
            variant=None if variant is None else ctx.variant(variant),
            originalUnitPriceSet=_bag(item["price"], currency),
            totalDiscountSet=_bag(item.get("total_discount") or "0.00", currency),
            taxLines=_taxes(item.get("tax_lines"), currency),
        )
        return found

    def shipping_line(line):
        return {
            "title": line["title"],
            "code": line.get("code"),
            "originalPriceSet": _bag(line["price"], currency),
            "discountedPriceSet": _bag(
                line.get("discounted_price") or line["price"], currency
            ),
            "taxLines": _taxes(line.get("tax_lines"), currency),
        }

    financial = state.get("financial_status")
    view.update(
        email=state.get("email"),
        phone=state.get("phone"),
        note=state.get("note"),
        test=bool(state.get("test")),
        createdAt=_utc(state["created_at"]),
        updatedAt=_utc(state["updated_at"]),
        processedAt=_utc(state.get("processed_at") or state["created_at"]),
        cancelledAt=_utc(state.get("cancelled_at")),
        cancelReason=(state.get("cancel_reason") or "").upper() or None,
        closedAt=_utc(state.get("closed_at")),
        currencyCode=currency,
        taxesIncluded=bool(state.get("taxes_included")),
        displayFinancialStatus=financial.upper() if financial else None,
        displayFulfillmentStatus=FULFILLMENT_STATUS[state.get("fulfillment_status")],
        paymentGatewayNames=list(state.get("payment_gateway_names") or ()),
        totalPriceSet=_bag(state["total_price"], currency),
        totalTaxSet=_bag(state.get("total_tax") or "0.00", currency),
        totalDiscountsSet=_bag(state.get("total_discounts") or "0.00", currency),
        customer=_customer(state.get("customer")),
        shippingAddress=_address(state.get("shipping_address")),
        billingAddress=_address(state.get("billing_address")),
        lineItems=lambda _info, first, after=None: _list_page(
            state["line_items"], first, after, line_item
        ),
        shippingLines=lambda _info, first, after=None: _list_page(
            state.get("shipping_lines") or [], first, after, shipping_line
        ),
    )
    return view


def _orders(_root, info, first, after=None, query=None, sortKey="ID", reverse=False):
    ctx = info.context
    if not 0 <= first <= MAX_PAGE_SIZE:
        raise GraphQLError(
            f"The first argument must be between 0 and {MAX_PAGE_SIZE}.",
            extensions={"code": "argumentLiteralsIncompatible"},
        )
    filters = _filters(query)
    horizon = ctx.sim.visibility_horizon()

    def key(row):
        value = {
            "UPDATED_AT": row.updated_ts,
            "CREATED_AT": row.created_ts,
            "PROCESSED_AT": row.created_ts,
            "ORDER_NUMBER": row.state["order_number"],
            "TOTAL_PRICE": float(row.state["total_price"]),
        }.get(sortKey, row.state["id"])
        return (value, row.state["id"])

    with ctx.store.lock:
        rows = [ctx.store.order_row(order_id) for order_id in ctx.store.order_ids()]
    rows = [
        row
        for row in rows
        if (horizon is None or row.created_ts >= horizon) and _accepts(row, filters)
    ]
    rows.sort(key=key, reverse=bool(reverse))
    if after is not None:
        position = _position(after)
        rows = [
            row
            for row in rows
            if (key(row) < position if reverse else key(row) > position)
        ]
    page = rows[:first]
    edges = [
        {
            "cursor": _position_cursor(key(row)),
            "node": order_view(ctx, row.state["id"]),
        }
        for row in page
    ]
    return {
        "edges": edges,
        "nodes": [edge["node"] for edge in edges],
        "pageInfo": {
            "hasNextPage": len(rows) > first,
            "hasPreviousPage": after is not None,
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
    }


def _order(_root, info, id):
    try:
        order_id = parse_gid(id, "Order")
    except InventoryInputError as err:
        raise GraphQLError(str(err), extensions={"code": err.code}) from None
    try:
        info.context.store.order_row(order_id)
    except KeyError:
        return None
    return order_view(info.context, order_id)


def attach_resolvers(schema):
    schema.query_type.fields["orders"].resolve = _orders
    # the full order, where :mod:`.fulfillment_graphql` knows its fulfilment
    schema.query_type.fields["order"].resolve = _order
