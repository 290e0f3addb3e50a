"""Polling for changed orders through GraphQL, the safety net behind
webhooks, in two steps so that it costs little when webhooks work.

REST is legacy since 2024-10 and closed to new public apps since 2025-04, so
the poll reads ``orders(query: "updated_at:>='…'", sortKey: UPDATED_AT)``,
paged by cursor. The order mapping (:mod:`.mapping`) reads Shopify's REST
order, the shape webhooks deliver; :func:`rest_order` turns a GraphQL order
into that shape, field for field, so that a polled order and the webhook of
the same state have the same content digest, hence the same dedupe key, and
import the same.

Why two steps. A full order with its lines costs about 220 points (Shopify
counts ``first`` per connection), so reading every order of the window in
full -- most of which the inbox already holds from their webhooks -- would
spend, during a flash sale, the GraphQL budget that stock pushes share. So
the poll first lists only ``id`` and ``updatedAt`` (:data:`LIST_ORDERS`:
252 points for 250 orders), asks the inbox which of those states it holds
(the ``known`` callable the polling job passes), and reads in full
(:data:`FULL_ORDER`, then :data:`ORDER_LINES` past 25 lines) only the
others. The dedupe key cannot be asked for directly: it carries a digest of
the lines and totals, which only the full order gives; a state is the order
and its ``updatedAt``, which Shopify moves on every change of an order.
"""

from odoo.addons.marketplace_connector.lib.errors import DataError

from . import mapping

#: orders listed per page: Shopify's maximum
PAGE_SIZE = 250
LINES_PER_ORDER = 25
MORE_LINES = 50
#: requested points (Shopify refunds what fewer nodes did not use, and the
#: shared budget is then aligned with what it reports): a listed order, a
#: full order with its first 25 lines, a follow-up read of 50 lines
LISTED_COST = 1
ORDER_COST = 221
LINES_COST = 400


def page_cost(size=None):
    """The requested cost of a listing page of ``size`` orders (default
    :data:`PAGE_SIZE`)."""
    return 2 + (PAGE_SIZE if size is None else size) * LISTED_COST


_MONEY = "shopMoney { amount }"
_TAXES = "taxLines { title rate channelLiable }"
_ADDRESS = (
    "firstName lastName company address1 address2 city provinceCode zip "
    "countryCodeV2 phone"
)
_LINE = f"""
          id sku title name quantity fulfillableQuantity requiresShipping
          variant {{ id }}
          originalUnitPriceSet {{ {_MONEY} }}
          totalDiscountSet {{ {_MONEY} }}
          {_TAXES}
"""

LIST_ORDERS = """
query PollOrderStates($first: Int!, $after: String, $query: String!) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    nodes { id updatedAt }
    pageInfo { hasNextPage endCursor }
  }
}
"""

FULL_ORDER = f"""
query PollOrder($id: ID!) {{
  order(id: $id) {{
    id name email phone note test
    createdAt updatedAt processedAt cancelledAt cancelReason
    currencyCode taxesIncluded displayFinancialStatus displayFulfillmentStatus
    paymentGatewayNames
    totalPriceSet {{ {_MONEY} }}
    totalTaxSet {{ {_MONEY} }}
    totalDiscountsSet {{ {_MONEY} }}
    customer {{
      id firstName lastName
      defaultEmailAddress {{ emailAddress }}
      defaultPhoneNumber {{ phoneNumber }}
    }}
    shippingAddress {{ {_ADDRESS} }}
    billingAddress {{ {_ADDRESS} }}
    lineItems(first: {LINES_PER_ORDER}) {{
      nodes {{ {_LINE} }}
      pageInfo {{ hasNextPage endCursor }}
    }}
    shippingLines(first: 5) {{
      nodes {{
        title code
        originalPriceSet {{ {_MONEY} }}
        discountedPriceSet {{ {_MONEY} }}
        {_TAXES}
      }}
    }}
  }}
}}
"""

ORDER_LINES = f"""
query OrderLines($id: ID!, $after: String) {{
  order(id: $id) {{
    lineItems(first: {MORE_LINES}, after: $after) {{
      nodes {{ {_LINE} }}
      pageInfo {{ hasNextPage endCursor }}
    }}
  }}
}}
"""

#: GraphQL's display status → REST's ``fulfillment_status``
FULFILLMENT_STATUS = {
    "UNFULFILLED": None,
    "PARTIALLY_FULFILLED": "partial",
    "FULFILLED": "fulfilled",
    "RESTOCKED": "restocked",
}


def _number(gid):
    """``gid://shopify/Order/123`` → ``123`` (``None`` stays ``None``)."""
    if not gid:
        return None
    text = str(gid).rsplit("/", 1)[-1]
    return int(text) if text.isdigit() else text


def _amount(bag):
    return ((bag or {}).get("shopMoney") or {}).get("amount")


def _taxes(lines):
    return [
        {
            "title": tax.get("title"),
            "rate": tax.get("rate"),
            "channel_liable": tax.get("channelLiable"),
        }
        for tax in lines or ()
    ]


def _address(data):
    if not data:
        return None
    return {
        "first_name": data.get("firstName"),
        "last_name": data.get("lastName"),
        "company": data.get("company"),
        "address1": data.get("address1"),
        "address2": data.get("address2"),
        "city": data.get("city"),
        "province_code": data.get("provinceCode"),
        "zip": data.get("zip"),
        "country_code": data.get("countryCodeV2"),
        "phone": data.get("phone"),
    }


def _customer(data):
    if not data:
        return None
    return {
        "id": _number(data.get("id")),
        "email": (data.get("defaultEmailAddress") or {}).get("emailAddress"),
        "first_name": data.get("firstName"),
        "last_name": data.get("lastName"),
        "phone": (data.get("defaultPhoneNumber") or {}).get("phoneNumber"),
    }


def rest_line(node):
    """A GraphQL ``LineItem`` as REST's ``line_items`` entry."""
    return {
        "id": _number(node.get("id")),
        "variant_id": _number((node.get("variant") or {}).get("id")),
        "sku": node.get("sku"),
        "title": node.get("title"),
        "name": node.get("name"),
        "quantity": node.get("quantity"),
        "price": _amount(node.get("originalUnitPriceSet")),
        "total_discount": _amount(node.get("totalDiscountSet")),
        "fulfillable_quantity": node.get("fulfillableQuantity"),
        "requires_shipping": node.get("requiresShipping"),
        "tax_lines": _taxes(node.get("taxLines")),
    }


def rest_order(node, lines=None):
    """A GraphQL ``Order`` (as :data:`FULL_ORDER` reads it) in the shape of
    REST's order, which the mapping reads.

    :param lines: every line item node, when more than the first page of
        them were read.
    """
    status = node.get("displayFulfillmentStatus")
    financial = node.get("displayFinancialStatus")
    line_nodes = lines if lines is not None else node["lineItems"]["nodes"]
    return {
        "id": _number(node.get("id")),
        "admin_graphql_api_id": node.get("id"),
        "name": node.get("name"),
        "email": node.get("email"),
        "contact_email": node.get("email"),
        "phone": node.get("phone"),
        "note": node.get("note"),
        "test": node.get("test"),
        "created_at": node.get("createdAt"),
        "updated_at": node.get("updatedAt"),
        "processed_at": node.get("processedAt"),
        "cancelled_at": node.get("cancelledAt"),
        "cancel_reason": (node.get("cancelReason") or "").lower() or None,
        "currency": node.get("currencyCode"),
        "taxes_included": node.get("taxesIncluded"),
        "financial_status": financial.lower() if financial else None,
        "fulfillment_status": FULFILLMENT_STATUS.get(status),
        "payment_gateway_names": list(node.get("paymentGatewayNames") or ()),
        "total_price": _amount(node.get("totalPriceSet")),
        "total_tax": _amount(node.get("totalTaxSet")),
        "total_discounts": _amount(node.get("totalDiscountsSet")),
        "customer": _customer(node.get("customer")),
        "shipping_address": _address(node.get("shippingAddress")),
        "billing_address": _address(node.get("billingAddress")),
        "line_items": [rest_line(line) for line in line_nodes],
        "shipping_lines": [
            {
                "title": line.get("title"),
                "code": line.get("code"),
                "price": _amount(line.get("originalPriceSet")),
                "discounted_price": _amount(line.get("discountedPriceSet")),
                "tax_lines": _taxes(line.get("taxLines")),
            }
            for line in (node.get("shippingLines") or {}).get("nodes") or ()
        ],
    }


def _all_lines(client, node, reserve):
    """Every line item node of an order whose first page said more."""
    connection = node["lineItems"]
    lines = list(connection["nodes"])
    page = connection.get("pageInfo") or {}
    seen = set()
    while page.get("hasNextPage"):
        cursor = page.get("endCursor")
        if not cursor or cursor in seen:
            raise DataError(
                f"Shopify's paging of the lines of order {node.get('name')} "
                f"loops; polling stopped to avoid an endless loop."
            )
        seen.add(cursor)
        reserve(LINES_COST)
        data = client.graphql(ORDER_LINES, {"id": node["id"], "after": cursor})
        connection = ((data.get("order") or {}).get("lineItems")) or {}
        lines.extend(connection.get("nodes") or ())
        page = connection.get("pageInfo") or {}
    return lines


def read_order(client, gid, reserve):
    """The REST-shaped state of order ``gid`` now, every line included;
    ``None`` when the order is gone (deleted since it was listed)."""
    reserve(ORDER_COST)
    node = client.graphql(FULL_ORDER, {"id": gid}).get("order")
    if not node:
        return None
    lines = None
    if ((node.get("lineItems") or {}).get("pageInfo") or {}).get("hasNextPage"):
        lines = _all_lines(client, node, reserve)
    return rest_order(node, lines)


def listed_state(node):
    """A listed order as the inbox names its state: ``(order id, updatedAt
    as naive UTC)``, what an order event's ``external_id`` and
    ``external_updated_at`` hold."""
    return (
        str(_number(node.get("id"))),
        mapping.parse_datetime(node.get("updatedAt"), "updatedAt"),
    )


def iter_updated_orders(
    client, since_iso, reserve, known=None, after=None, on_page=None
):
    """Yield the REST-shaped state of every order updated at or after
    ``since_iso`` that the inbox does not hold yet, oldest change first.

    :param reserve: called with each call's points before it is made.
    :param known: called with the :func:`listed_state` of the orders of
        each listed page, returns those the inbox holds (not read again);
        ``None``: every listed order is read.
    :param after: the listing cursor to go on from (a resumed poll).
    :param on_page: called with the listing cursor each page starts from,
        once the page is listed and before any of its orders is read: where
        a poll cut short goes on (the orders it read of that page are
        listed again, and then known).
    """
    variables = {
        "first": PAGE_SIZE,
        "after": after,
        "query": f"updated_at:>='{since_iso}'",
    }
    seen = set()
    while True:
        reserve(page_cost(variables["first"]))
        data = client.graphql(LIST_ORDERS, variables)
        if on_page:
            on_page(variables["after"])
        connection = data.get("orders")
        if not isinstance(connection, dict):
            raise DataError(
                "Shopify's answer to the orders query has no orders; check "
                "the API version set on the backend."
            )
        nodes = [node for node in connection.get("nodes") or () if node.get("id")]
        states = [listed_state(node) for node in nodes]
        held = known(states) if known and states else set()
        for node, state in zip(nodes, states, strict=True):
            if state in held:
                continue
            order = read_order(client, node["id"], reserve)
            if order is not None:
                yield order
        page = connection.get("pageInfo") or {}
        if not page.get("hasNextPage"):
            return
        cursor = page.get("endCursor")
        if not cursor or cursor in seen:
            raise DataError(
                "Shopify's paging of the orders query loops (the same cursor "
                "came back twice); polling stopped to avoid an endless loop."
            )
        seen.add(cursor)
        variables = {**variables, "after": cursor}
