"""Shopify's REST ``Refund`` resource (the ``refunds/create`` webhook) to the
channel-neutral :class:`~.refund.Refund`.

The payload: ``refund_line_items`` (``line_item_id``, ``quantity``,
``restock_type`` ``cancel`` / ``return`` / ``no_restock`` /
``legacy_restock``, ``location_id``, ``subtotal``, ``total_tax``),
``order_adjustments`` (``kind`` ``shipping_refund`` or
``refund_discrepancy``, ``amount`` and ``tax_amount`` negative when money
goes back to the customer), ``refund_shipping_lines`` on newer versions, and
``transactions`` (what was paid back: ``kind`` ``refund``, ``status``
``success``).

``legacy_restock`` (refunds made before restock types existed: "restock")
is read as ``return``: units not shipped yet are taken off the order anyway
(:func:`~.refund.plan_line`), the others come back.

One refund is one event: the dedupe key is the refund's id (a refund never
changes once created), so a redelivered webhook stores nothing new.
"""

from decimal import Decimal

from odoo.addons.marketplace_connector.lib.errors import DataError
from odoo.addons.marketplace_connector.lib.inbound import InboundEvent
from odoo.addons.marketplace_connector.lib.refund import (
    AMOUNT_ADJUSTMENT,
    AMOUNT_SHIPPING,
    RESTOCK_CANCEL,
    RESTOCK_NONE,
    RESTOCK_RETURN,
    Refund,
    RefundAmount,
    RefundLine,
)

from .mapping import (
    _currency,
    _decimal,
    _external_id,
    _optional_id,
    _text,
    parse_datetime,
)

RESOURCE_REFUND = "refund"
REFUND_TOPIC = "refunds/create"
_RESTOCK_TYPES = {
    "cancel": RESTOCK_CANCEL,
    "return": RESTOCK_RETURN,
    "legacy_restock": RESTOCK_RETURN,
    "no_restock": RESTOCK_NONE,
}
_ZERO = Decimal(0)


def _money(data, key, what):
    """A money field as REST sends it (a number or a string), or the
    ``shop_money`` of its ``*_set`` bag."""
    value = data.get(key)
    if value is None and isinstance(data.get(f"{key}_set"), dict):
        value = (data[f"{key}_set"].get("shop_money") or {}).get("amount")
    return _decimal(value, what, default=_ZERO)


def _list(payload, key):
    value = payload.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
        raise DataError(f"The refund's {key} is not a list of objects.")
    return value


def _line(item, index):
    line_id = _external_id(item.get("line_item_id"), f"Refund line {index}")
    where = f"refund line of order line {line_id}"
    quantity = _decimal(item.get("quantity"), f"The quantity of the {where}")
    if quantity < 0:
        raise DataError(f"The quantity of the {where} is negative: {quantity}.")
    restock = _text(item.get("restock_type")).lower() or "no_restock"
    if restock not in _RESTOCK_TYPES:
        raise DataError(f"Unknown restock type {restock!r} on the {where}.")
    return RefundLine(
        line_id=line_id,
        quantity=quantity,
        restock_type=_RESTOCK_TYPES[restock],
        subtotal=_money(item, "subtotal", f"The subtotal of the {where}"),
        tax=_money(item, "total_tax", f"The tax of the {where}"),
        location_id=_optional_id(item.get("location_id")),
    )


def _amounts(payload):
    amounts = []
    shipping_adjusted = False
    for adjustment in _list(payload, "order_adjustments"):
        kind = _text(adjustment.get("kind")).lower()
        what = f"the refund's {kind or 'adjustment'}"
        # Shopify's sign: negative is money back to the customer
        amount = -_money(adjustment, "amount", f"The amount of {what}")
        tax = -_money(adjustment, "tax_amount", f"The tax of {what}")
        if kind == "shipping_refund":
            shipping_adjusted = True
        amounts.append(
            RefundAmount(
                kind=AMOUNT_SHIPPING
                if kind == "shipping_refund"
                else AMOUNT_ADJUSTMENT,
                amount=amount,
                tax=tax,
                reason=_text(adjustment.get("reason")) or kind,
            )
        )
    if not shipping_adjusted:
        # newer versions list refunded shipping on its own (never both)
        for line in _list(payload, "refund_shipping_lines"):
            amounts.append(
                RefundAmount(
                    kind=AMOUNT_SHIPPING,
                    amount=_money(line, "subtotal_amount", "A refunded shipping"),
                    tax=_money(line, "tax_amount", "The tax of a refunded shipping"),
                    reason="Shipping refund",
                )
            )
    return tuple(amounts)


def _paid_back(payload):
    """The money the refund's successful transactions paid back, or None
    when it lists none (a restock without money)."""
    transactions = [
        t
        for t in _list(payload, "transactions")
        if _text(t.get("kind")).lower() == "refund"
        and _text(t.get("status")).lower() == "success"
    ]
    if not transactions:
        return None
    return sum(
        (
            _decimal(t.get("amount"), "A refund transaction's amount")
            for t in transactions
        ),
        _ZERO,
    )


def parse_refund(payload, taxes_included=False, currency=""):
    """Map a REST Refund resource.

    :param taxes_included: whether the order's prices include tax (the
        refund does not say; the order does).
    :param currency: the order's currency, when the refund names none.
    :raise DataError: when it cannot be booked as it is.
    """
    if not isinstance(payload, dict):
        raise DataError(f"A refund payload must be a JSON object, not {payload!r}.")
    refund_id = _external_id(payload.get("id"), "The refund")
    try:
        order_id = _external_id(payload.get("order_id"), "The refund's order")
        created_raw = payload.get("processed_at") or payload.get("created_at")
        transactions = _list(payload, "transactions")
        currency = currency or (transactions[0].get("currency") if transactions else "")
        return Refund(
            external_id=refund_id,
            order_external_id=order_id,
            created_at=parse_datetime(created_raw, "created_at")
            if created_raw
            else None,
            currency=_currency(currency) if currency else "",
            taxes_included=bool(taxes_included),
            lines=tuple(
                _line(item, index)
                for index, item in enumerate(_list(payload, "refund_line_items"), 1)
            ),
            amounts=_amounts(payload),
            total=_paid_back(payload),
            note=_text(payload.get("note")),
        )
    except DataError as err:
        raise DataError(f"Shopify refund {refund_id}: {err}") from err


def refund_event(payload, topic, source, headers=None):
    """Describe a refund payload for the inbox.

    :raise DataError: when it has no usable id or order id.
    """
    if not isinstance(payload, dict):
        raise DataError(f"A refund payload must be a JSON object, not {payload!r}.")
    refund_id = _external_id(payload.get("id"), "The refund")
    _external_id(payload.get("order_id"), "The refund's order")
    created_raw = payload.get("created_at")
    return InboundEvent(
        topic=topic,
        dedupe_key=f"refund:{refund_id}",
        resource_type=RESOURCE_REFUND,
        external_id=refund_id,
        external_updated_at=(
            parse_datetime(created_raw, "created_at") if created_raw else None
        ),
        payload=payload,
        headers=dict(headers or {}),
        source=source,
    )
