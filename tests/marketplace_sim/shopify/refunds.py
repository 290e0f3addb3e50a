"""Refunds on the simulated shop, as Shopify books them and tells apps.

:func:`refund_order` is the merchant refunding in the admin (or an app
calling ``refundCreate``): validated as Shopify validates, stored on the
order (``refunds``, line ``fulfillable_quantity``, ``financial_status``),
restocked as the restock type says, and announced with ``refunds/create``
(the REST Refund resource) and ``orders/updated``.

Validation (a ``ValueError``, a 400 on the control surface):

* every line must be on the order, with a positive whole quantity, no more
  than what remains refundable (ordered minus refunded already);
* ``cancel`` only for units not fulfilled (``fulfillable_quantity``);
* ``return`` only for units fulfilled and not returned already;
* refunded shipping no more than the shipping not refunded yet;
* something must be refunded; an unpaid or voided order cannot be (a
  cancelled one that was paid can: its money goes back by refund).

Money, rounded half-up to cents as :mod:`.orders` prices: a line's subtotal
is its price times the quantity less its share of the line's discount, its
tax its share of the line's tax (shares in proportion to the units, the last
refund of a line taking what is left); refunded shipping is taxed at the
shipping's rate. The transaction pays back the sum.

:func:`mark_fulfilled` is the merchant fulfilling by hand in the admin
(outside any app): the order's ``fulfillments`` grow, ``fulfillable_quantity``
shrinks, the units leave the location's committed stock.
"""

import copy
import itertools
from decimal import Decimal

from .clock import format_ts
from .orders import cents, decimal, money, tax_on

REFUND_TOPIC = "refunds/create"
RESTOCK_TYPES = ("cancel", "return", "no_restock", "legacy_restock")
_REFUNDABLE_STATUSES = ("paid", "partially_paid", "partially_refunded")


def _ids(sim):
    """Ids of refunds, their lines, adjustments, transactions and
    fulfillments: a sequence of the simulator's own, so the seeded ids of
    products and orders stay what they were."""
    return sim.__dict__.setdefault("_refund_ids", itertools.count(9_800_000_000_001))


def _line_of(state, spec):
    if "line_item_id" in spec:
        wanted = str(spec["line_item_id"])
        found = [li for li in state["line_items"] if str(li["id"]) == wanted]
    elif "sku" in spec:
        found = [li for li in state["line_items"] if li["sku"] == spec["sku"]]
    else:
        raise ValueError("a refund line needs line_item_id or sku")
    if not found:
        raise ValueError(f"line {spec} is not on order {state['id']}")
    return found[0]


def _quantities(state, line_id, restock=None):
    return sum(
        item["quantity"]
        for refund in state.get("refunds") or ()
        for item in refund["refund_line_items"]
        if item["line_item_id"] == line_id
        and (restock is None or item["restock_type"] == restock)
    )


def fulfilled_quantity(state, line_id):
    """Units of a line fulfilled (every fulfillment not cancelled)."""
    return sum(
        item["quantity"]
        for fulfillment in state.get("fulfillments") or ()
        if fulfillment.get("status") not in ("cancelled", "error", "failure")
        for item in fulfillment.get("line_items") or ()
        if item["id"] == line_id
    )


def _tax_rate(item):
    lines = item.get("tax_lines") or ()
    return decimal(lines[0]["rate"], "rate") if lines else Decimal(0)


def _shipping_refunded(state):
    return -sum(
        (
            decimal(adjustment["amount"], "amount")
            for refund in state.get("refunds") or ()
            for adjustment in refund["order_adjustments"]
            if adjustment["kind"] == "shipping_refund"
        ),
        Decimal(0),
    )


def _plan_line(state, spec):
    item = _line_of(state, spec)
    quantity = spec.get("quantity")
    if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
        raise ValueError(
            f"the quantity of a refund line must be a positive int: {spec}"
        )
    restock = str(spec.get("restock_type") or "no_restock").lower()
    if restock not in RESTOCK_TYPES:
        raise ValueError(f"restock_type must be one of {RESTOCK_TYPES}: {spec}")
    line_id = item["id"]
    refundable = item["quantity"] - _quantities(state, line_id)
    if quantity > refundable:
        raise ValueError(
            f"cannot refund {quantity} of line {line_id}: {refundable} left to refund"
        )
    if restock == "cancel" and quantity > item["fulfillable_quantity"]:
        raise ValueError(
            f"cannot cancel {quantity} of line {line_id}: only "
            f"{item['fulfillable_quantity']} unfulfilled"
        )
    if restock in ("return", "legacy_restock"):
        returnable = fulfilled_quantity(state, line_id) - _quantities(
            state, line_id, "return"
        )
        if quantity > returnable and restock == "return":
            raise ValueError(
                f"cannot return {quantity} of line {line_id}: {returnable} "
                f"fulfilled and not returned"
            )
    return item, quantity, restock


def _line_money(item, quantity, already):
    """``(subtotal, tax)`` of ``quantity`` units of a line of which
    ``already`` were refunded before: the line's discount and tax are shared
    out in proportion, each refund taking the rounded share of the units
    refunded so far less what earlier ones took, so that refunding every
    unit gives back exactly the line's discount and tax."""

    def share(amount):
        ordered = item["quantity"]
        return cents(amount * (already + quantity) / ordered) - cents(
            amount * already / ordered
        )

    line_tax = sum(
        (decimal(t["price"], "tax") for t in item.get("tax_lines") or ()), Decimal(0)
    )
    discount = decimal(item["total_discount"], "discount")
    subtotal = decimal(item["price"], "price") * quantity - share(discount)
    return subtotal, share(line_tax)


def refund_order(
    sim, order_id, lines=(), shipping=None, note=None, notify=True, location_id=None
):
    """Refund an order; return the REST Refund resource.

    :param lines: ``{"line_item_id" or "sku", "quantity", "restock_type"}``
        dicts (restock type ``cancel``, ``return``, ``no_restock``).
    :param shipping: an amount of shipping to refund (text), ``True`` for
        all that is left, ``None`` for none.
    :param location_id: where restocked units go (the order's by default).
    """
    ids = _ids(sim)
    refund = {}

    def change(state, stamp):
        if state["financial_status"] not in _REFUNDABLE_STATUSES:
            raise ValueError(
                f"order {order_id} is {state['financial_status']}: nothing to refund"
            )
        taxes_included = state["taxes_included"]
        location = (
            int(location_id)
            if location_id is not None
            else sim.store.order_locations[state["id"]]
        )
        if location not in sim.store.locations:
            raise ValueError(f"no location {location}")
        refund_id = next(ids)
        refund_lines, restocks, total = [], [], Decimal(0)
        planned = [_plan_line(state, spec) for spec in lines or ()]
        seen = [item["id"] for item, _q, _r in planned]
        if len(seen) != len(set(seen)):
            raise ValueError("a line appears twice in the refund")
        for item, quantity, restock in planned:
            already = _quantities(state, item["id"])
            subtotal, tax = _line_money(item, quantity, already)
            total += subtotal + (0 if taxes_included else tax)
            refund_lines.append(
                {
                    "id": next(ids),
                    "line_item_id": item["id"],
                    "quantity": quantity,
                    "restock_type": restock,
                    "location_id": location if restock != "no_restock" else None,
                    "subtotal": float(subtotal),
                    "subtotal_set": _money_set(subtotal, state["currency"]),
                    "total_tax": float(tax),
                    "total_tax_set": _money_set(tax, state["currency"]),
                    "line_item": copy.deepcopy(item),
                }
            )
            restocks.append((item, quantity, restock))
        adjustments = []
        if shipping is not None and shipping is not False:
            shipping_line = (
                state["shipping_lines"][0] if state["shipping_lines"] else None
            )
            charged = (
                decimal(shipping_line["price"], "shipping") if shipping_line else 0
            )
            left = charged - _shipping_refunded(state)
            amount = left if shipping is True else cents(decimal(shipping, "shipping"))
            if amount <= 0 or amount > left:
                raise ValueError(f"cannot refund {amount} of shipping: {left} left")
            rate = _tax_rate(shipping_line)
            tax = tax_on(amount, rate, taxes_included)
            total += amount + (0 if taxes_included else tax)
            adjustments.append(
                {
                    "id": next(ids),
                    "order_id": state["id"],
                    "refund_id": refund_id,
                    "amount": money(-amount),
                    "tax_amount": money(-tax),
                    "kind": "shipping_refund",
                    "reason": "Shipping refund",
                    "amount_set": _money_set(-amount, state["currency"]),
                    "tax_amount_set": _money_set(-tax, state["currency"]),
                }
            )
        if not refund_lines and not adjustments:
            raise ValueError("a refund needs at least one line or shipping")
        paid_back = sum(
            (
                decimal(r["transactions"][0]["amount"], "amount")
                for r in state["refunds"]
            ),
            Decimal(0),
        )
        order_total = decimal(state["total_price"], "total_price")
        if paid_back + total > order_total:
            raise ValueError(
                f"cannot refund {total}: {order_total - paid_back} left to refund"
            )
        text = format_ts(stamp)
        refund.update(
            {
                "id": refund_id,
                "admin_graphql_api_id": f"gid://shopify/Refund/{refund_id}",
                "order_id": state["id"],
                "created_at": text,
                "processed_at": text,
                "note": note,
                "restock": any(r in ("cancel", "return") for _i, _q, r in restocks),
                "user_id": None,
                "duties": [],
                "refund_line_items": refund_lines,
                "order_adjustments": adjustments,
                "transactions": [
                    {
                        "id": next(ids),
                        "order_id": state["id"],
                        "kind": "refund",
                        "gateway": "bogus",
                        "status": "success",
                        "amount": money(total),
                        "currency": state["currency"],
                        "created_at": text,
                    }
                ],
            }
        )
        order_location = sim.store.order_locations[state["id"]]
        for item, quantity, restock in restocks:
            _restock(
                sim,
                state["id"],
                item,
                quantity,
                restock,
                (order_location, location),
                stamp,
            )
        state["refunds"].append(copy.deepcopy(refund))
        state["financial_status"] = (
            "refunded" if paid_back + total == order_total else "partially_refunded"
        )

    sim._change_order(order_id, change, [], notify=False)
    if notify:
        order = sim.get_order(order_id)
        sim._send([(REFUND_TOPIC, refund), ("orders/updated", order)])
    return copy.deepcopy(refund)


def _restock(sim, order_id, item, quantity, restock, locations, stamp):
    """Units of ``item`` refunded: unfulfilled ones leave the order's
    committed stock (``cancel`` and ``legacy_restock`` put them back to
    available, ``no_restock`` drops them); fulfilled ones that come back
    (``return``, ``legacy_restock``) are available again at ``location``.
    ``locations``: the order's and the restock's."""
    order_location, location = locations
    if restock == "cancel":
        unfulfilled = quantity
    elif restock == "return":
        unfulfilled = 0
    else:
        unfulfilled = min(quantity, item["fulfillable_quantity"])
    if unfulfilled:
        item["fulfillable_quantity"] -= unfulfilled
        _take_from_fulfillment_orders(sim, order_id, item["id"], unfulfilled)
        sim._move_stock(
            item["variant_id"],
            order_location,
            -unfulfilled,
            stamp,
            restock=restock != "no_restock",
        )
    back = quantity - unfulfilled if restock in ("return", "legacy_restock") else 0
    if back:
        variant = sim.store.variants_by_id[item["variant_id"]]
        level = sim.store.stock(variant.inventory_item_id, location, stamp)
        level.available += back
        level.updated_at = sim._next_timestamp(level.updated_at)


def _take_from_fulfillment_orders(sim, order_id, line_item_id, quantity):
    """Units of a line leave its fulfillment orders (refunded before
    fulfilment, or fulfilled by hand): their remaining quantity falls, and
    one with nothing left closes."""
    desk = getattr(sim, "fulfillment", None)
    if desk is None:
        return
    for fulfillment_order in desk.of_order(order_id):
        for line in fulfillment_order.lines:
            if line.line_item_id == line_item_id and line.remaining and quantity:
                taken = min(line.remaining, quantity)
                line.remaining -= taken
                quantity -= taken
        if not any(line.remaining for line in fulfillment_order.lines):
            fulfillment_order.status = "CLOSED"


def _money_set(amount, currency):
    bag = {"amount": money(amount), "currency_code": currency}
    return {"shop_money": bag, "presentment_money": dict(bag)}


def mark_fulfilled(sim, order_id, lines=None, notify=True):
    """Fulfil by hand in the admin: ``lines`` ``{"line_item_id" or "sku",
    "quantity"}`` (default: everything unfulfilled). Returns the order."""
    ids = _ids(sim)

    def change(state, stamp):
        if state["cancelled_at"]:
            raise ValueError(f"order {order_id} is cancelled")
        specs = lines or [
            {"line_item_id": li["id"], "quantity": li["fulfillable_quantity"]}
            for li in state["line_items"]
            if li["fulfillable_quantity"]
        ]
        if not specs:
            raise ValueError(f"order {order_id} has nothing left to fulfil")
        location = sim.store.order_locations[state["id"]]
        fulfilled = []
        for spec in specs:
            item = _line_of(state, spec)
            quantity = spec.get("quantity")
            if (
                not isinstance(quantity, int)
                or not 0 < quantity <= item["fulfillable_quantity"]
            ):
                raise ValueError(
                    f"cannot fulfil {quantity} of line {item['id']}: "
                    f"{item['fulfillable_quantity']} unfulfilled"
                )
            item["fulfillable_quantity"] -= quantity
            _take_from_fulfillment_orders(sim, state["id"], item["id"], quantity)
            item["fulfillment_status"] = (
                "fulfilled" if not item["fulfillable_quantity"] else "partial"
            )
            variant = sim.store.variants_by_id[item["variant_id"]]
            level = sim.store.stock(variant.inventory_item_id, location, stamp)
            level.committed -= quantity
            level.updated_at = sim._next_timestamp(level.updated_at)
            fulfilled.append({"id": item["id"], "quantity": quantity})
        state["fulfillments"].append(
            {
                "id": next(ids),
                "order_id": state["id"],
                "status": "success",
                "created_at": format_ts(stamp),
                "location_id": location,
                "line_items": fulfilled,
            }
        )
        left = sum(li["fulfillable_quantity"] for li in state["line_items"])
        state["fulfillment_status"] = "fulfilled" if not left else "partial"

    return sim._change_order(order_id, change, ["orders/updated"], notify)
