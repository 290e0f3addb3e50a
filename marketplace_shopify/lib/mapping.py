"""Shopify's REST ``Order`` resource to the channel-neutral order.

Webhook payloads (``orders/*`` topics) and REST polling (``orders.json``)
share the REST Order shape, so one mapping serves both. Three functions:

* :func:`parse_order` builds an :class:`~.order.Order` and refuses what the
  importer could not book correctly, with a :class:`DataError` that tells an
  operator what is wrong (the event is marked failed with that text).
* :func:`order_digest` names the *state* of an order as far as the import is
  concerned. A webhook and a poll of the same state must give the same digest
  even though their JSON differs (key order, extra fields, fields that only
  some API versions add), so it hashes a normalised selection of fields.
* :func:`order_event` wraps a payload in an :class:`InboundEvent` whose
  dedupe key is made of the order id, its ``updated_at`` and that digest
  (:func:`inventory_level_event` does the same for stock level reports).

Money stays :class:`~decimal.Decimal` from the wire text to the Order: the
importer reproduces Shopify's totals and checks them to the cent.
"""

import datetime
import hashlib
import json
import re
from decimal import Decimal, InvalidOperation

from odoo.addons.marketplace_connector.lib.errors import DataError
from odoo.addons.marketplace_connector.lib.inbound import DemandLine, InboundEvent
from odoo.addons.marketplace_connector.lib.order import (
    Address,
    Customer,
    Order,
    OrderLine,
    ShippingLine,
    TaxRate,
)

#: Shopify's financial statuses (``import_financial_states`` names some)
FINANCIAL_STATES = (
    "pending",
    "authorized",
    "partially_paid",
    "paid",
    "partially_refunded",
    "refunded",
    "voided",
)
RESOURCE_ORDER = "order"
RESOURCE_INVENTORY_LEVEL = "inventory_level"
_CURRENCY = re.compile(r"^[A-Z]{3}$")
# Shopify stamps up to nanoseconds ("...27.877041743Z"); Python 3.10's
# fromisoformat takes neither more than 6 digits nor a "Z".
_FRACTION = re.compile(r"(\.\d{6})\d+")


# Scalars


def parse_datetime(value, what="timestamp"):
    """A Shopify timestamp as a naive UTC datetime (what Odoo stores).

    :param value: ISO 8601 text, e.g. ``2026-11-23T10:00:00-05:00``; a value
        without offset is taken as UTC.
    :raise DataError: when ``value`` is not such a text.
    """
    if isinstance(value, datetime.datetime):
        moment = value
    else:
        if not isinstance(value, str) or not value.strip():
            raise DataError(f"The order's {what} is missing or not a date: {value!r}.")
        text = _FRACTION.sub(r"\1", value.strip())
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            moment = datetime.datetime.fromisoformat(text)
        except ValueError as err:
            raise DataError(
                f"The order's {what} is not an ISO 8601 date: {value!r}."
            ) from err
    if moment.tzinfo is not None:
        moment = moment.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return moment


def _decimal(value, what, *, default=None):
    """A finite Decimal from Shopify's money text (or an int).

    Floats are accepted through their shortest text (``0.2`` stays ``0.2``),
    which is how tax rates arrive.
    """
    if value is None or value == "":
        if default is not None:
            return default
        raise DataError(f"{what} is missing.")
    if isinstance(value, bool):
        raise DataError(f"{what} is not a number: {value!r}.")
    try:
        result = Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as err:
        raise DataError(f"{what} is not a number: {value!r}.") from err
    if not result.is_finite():
        raise DataError(f"{what} is not a finite number: {value!r}.")
    return result


def _text(value):
    return "" if value is None else str(value).strip()


def _status(value):
    """Shopify's statuses are lower-case words or null; null becomes ""."""
    return _text(value).lower()


def _external_id(value, what):
    """Shopify ids are positive 64-bit integers (as JSON numbers)."""
    if isinstance(value, bool) or value is None or value == "":
        raise DataError(f"{what} has no id.")
    text = str(value).strip()
    if not text.isdigit() or int(text) == 0:
        raise DataError(f"{what} has an invalid id: {value!r}.")
    return text


def _optional_id(value):
    return "" if value is None or isinstance(value, bool) else str(value).strip()


def _currency(value):
    code = _text(value).upper()
    if not _CURRENCY.match(code):
        raise DataError(
            f"The order's currency {value!r} is not a three-letter ISO 4217 code."
        )
    return code


# Parts of an order


def _address(data):
    if not data:
        return Address()
    if not isinstance(data, dict):
        raise DataError(f"An address of the order is not an object: {data!r}.")
    return Address(
        first_name=_text(data.get("first_name")),
        last_name=_text(data.get("last_name")),
        company=_text(data.get("company")),
        street=_text(data.get("address1")),
        street2=_text(data.get("address2")),
        city=_text(data.get("city")),
        state_code=_text(data.get("province_code")),
        zip=_text(data.get("zip")),
        country_code=_text(data.get("country_code")).upper(),
        phone=_text(data.get("phone")),
    )


def _customer(data, order_email):
    """The buyer; without protected-data approval Shopify sends ``null``."""
    if not data:
        return Customer(email=order_email)
    if not isinstance(data, dict):
        raise DataError(f"The order's customer is not an object: {data!r}.")
    return Customer(
        external_id=_optional_id(data.get("id")),
        email=_text(data.get("email")) or order_email,
        first_name=_text(data.get("first_name")),
        last_name=_text(data.get("last_name")),
        phone=_text(data.get("phone")),
    )


def _taxes(tax_lines, where):
    taxes = []
    for tax in tax_lines or ():
        if not isinstance(tax, dict):
            raise DataError(f"A tax line of {where} is not an object: {tax!r}.")
        title = _text(tax.get("title")) or "Tax"
        rate = _decimal(tax.get("rate"), f"The rate of tax '{title}' on {where}")
        # channel_liable: the sales channel (a marketplace selling through
        # the shop) remits this tax, not the merchant
        taxes.append(
            TaxRate(
                title=title,
                rate=rate,
                collected_by_channel=tax.get("channel_liable") is True,
            )
        )
    return tuple(taxes)


def _line_discount(item, where):
    """``total_discount``, or the sum of ``discount_allocations`` when
    ``total_discount`` is zero: Shopify documents the allocations as the
    reliable source, and some discounts only appear there."""
    discount = _decimal(
        item.get("total_discount"), f"The discount of {where}", default=Decimal(0)
    )
    if not discount:
        allocations = item.get("discount_allocations") or ()
        discount = sum(
            (
                _decimal(a.get("amount"), f"A discount allocation of {where}")
                for a in allocations
                if isinstance(a, dict)
            ),
            Decimal(0),
        )
    return discount


def _line(item, index):
    if not isinstance(item, dict):
        raise DataError(f"Line item {index} is not an object: {item!r}.")
    line_id = _external_id(item.get("id"), f"Line item {index}")
    sku = _text(item.get("sku"))
    where = f"line {line_id} ({sku or _text(item.get('title')) or 'no SKU'})"
    quantity = _decimal(item.get("quantity"), f"The quantity of {where}")
    if quantity < 0:
        raise DataError(f"The quantity of {where} is negative: {quantity}.")
    return OrderLine(
        external_id=line_id,
        sku=sku,
        variant_id=_optional_id(item.get("variant_id")),
        title=_text(item.get("title")) or _text(item.get("name")),
        quantity=quantity,
        price_unit=_decimal(item.get("price"), f"The price of {where}"),
        discount_amount=_line_discount(item, where),
        taxes=_taxes(item.get("tax_lines"), where),
        requires_shipping=item.get("requires_shipping") is not False,
    )


def _shipping_line(data, index):
    if not isinstance(data, dict):
        raise DataError(f"Shipping line {index} is not an object: {data!r}.")
    title = _text(data.get("title")) or "Shipping"
    where = f"shipping line '{title}'"
    price = _decimal(data.get("price"), f"The price of {where}")
    discount = Decimal(0)
    if data.get("discounted_price") not in (None, ""):
        discounted = _decimal(
            data.get("discounted_price"), f"The discounted price of {where}"
        )
        discount = price - discounted
    return ShippingLine(
        title=title,
        code=_text(data.get("code")),
        price=price,
        discount_amount=discount,
        taxes=_taxes(data.get("tax_lines"), where),
    )


def _payment_gateway(payload):
    """The gateway that took the payment (``payment_gateway_names``; the
    first when several did: the backend's journal per gateway uses it)."""
    names = payload.get("payment_gateway_names")
    if isinstance(names, list):
        for name in names:
            if _text(name):
                return _text(name)
    return ""


def _list(payload, key):
    value = payload.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise DataError(f"The order's {key} is not a list: {value!r}.")
    return value


# Public API


def parse_order(payload):
    """Map a REST Order resource to an :class:`~.order.Order`.

    :param payload: the parsed JSON of a webhook delivery or of one entry of
        ``orders.json``.
    :raise DataError: when the payload cannot be imported as it is; the
        message names the order and the offending field.
    """
    if not isinstance(payload, dict):
        raise DataError(f"An order payload must be a JSON object, not {payload!r}.")
    order_id = _external_id(payload.get("id"), "The order")
    name = _text(payload.get("name")) or (
        f"#{payload['order_number']}" if payload.get("order_number") else order_id
    )
    try:
        email = _text(payload.get("email")) or _text(payload.get("contact_email"))
        updated_at = parse_datetime(payload.get("updated_at"), "updated_at")
        created_raw = payload.get("created_at") or payload.get("processed_at")
        created_at = parse_datetime(created_raw, "created_at")
        cancelled_raw = payload.get("cancelled_at")
        lines = tuple(
            _line(item, index)
            for index, item in enumerate(_list(payload, "line_items"), 1)
        )
        if not lines:
            raise DataError("It has no line items.")
        order = Order(
            external_id=order_id,
            name=name,
            currency=_currency(payload.get("currency")),
            created_at=created_at,
            updated_at=updated_at,
            taxes_included=bool(payload.get("taxes_included")),
            financial_status=_status(payload.get("financial_status")),
            fulfillment_status=_status(payload.get("fulfillment_status")),
            cancelled_at=(
                parse_datetime(cancelled_raw, "cancelled_at") if cancelled_raw else None
            ),
            cancel_reason=_text(payload.get("cancel_reason")),
            customer=_customer(payload.get("customer"), email),
            shipping_address=_address(payload.get("shipping_address")),
            billing_address=_address(payload.get("billing_address")),
            lines=lines,
            shipping_lines=tuple(
                _shipping_line(data, index)
                for index, data in enumerate(_list(payload, "shipping_lines"), 1)
            ),
            total_price=_decimal(payload.get("total_price"), "total_price"),
            total_tax=_decimal(
                payload.get("total_tax"), "total_tax", default=Decimal(0)
            ),
            total_discounts=_decimal(
                payload.get("total_discounts"), "total_discounts", default=Decimal(0)
            ),
            digest=order_digest(payload),
            test=bool(payload.get("test")),
            note=_text(payload.get("note")),
            payment_gateway=_payment_gateway(payload),
        )
    except DataError as err:
        raise DataError(f"Shopify order {name} (id {order_id}): {err}") from err
    return order


def _canonical_number(value):
    """The same number whatever its spelling ("10", "10.00", 10 → "10");
    a value that is not a number is kept as text (the digest never fails:
    a bad payload must still get an event, which then fails with a message).
    """
    if value is None or isinstance(value, bool):
        return None if value is None else str(value)
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        return str(value)
    if not number.is_finite():
        return str(value)
    return format(number.normalize(), "f")


def _canonical_datetime(value):
    if not value:
        return None
    try:
        return parse_datetime(value).isoformat()
    except DataError:
        return str(value)


def order_digest(payload):
    """A stable hex digest of the fields the import depends on.

    Same state, same digest: only the selected fields count, numbers and
    timestamps are normalised, lines are sorted by id. A change the import
    ignores (a note, tags, a field a newer API version adds) does not make a
    new state.
    """

    def items(key):
        value = payload.get(key)
        if not isinstance(value, list):
            return []
        return [item for item in value if isinstance(item, dict)]

    lines = [
        {
            "id": _optional_id(item.get("id")),
            "variant_id": _optional_id(item.get("variant_id")),
            "sku": _text(item.get("sku")),
            "quantity": _canonical_number(item.get("quantity")),
            "price": _canonical_number(item.get("price")),
            "total_discount": _canonical_number(item.get("total_discount")),
            "fulfillable_quantity": _canonical_number(item.get("fulfillable_quantity")),
        }
        for item in items("line_items")
    ]
    lines.sort(key=lambda line: (line["id"], json.dumps(line, sort_keys=True)))
    state = {
        "financial_status": _status(payload.get("financial_status")),
        "fulfillment_status": _status(payload.get("fulfillment_status")),
        "cancelled_at": _canonical_datetime(payload.get("cancelled_at")),
        "total_price": _canonical_number(payload.get("total_price")),
        "currency": _text(payload.get("currency")).upper(),
        "lines": lines,
        "shipping": sorted(
            str(_canonical_number(s.get("price"))) for s in items("shipping_lines")
        ),
    }
    canonical = json.dumps(state, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def order_event(payload, topic, source, headers=None):
    """Describe an order payload for the inbox.

    :param topic: e.g. ``orders/updated`` (polled orders use that topic).
    :param source: ``webhook`` or ``poll``.
    :param headers: the delivery headers worth keeping (no signature).
    :raise DataError: when the payload has no usable ``id`` or ``updated_at``
        (nothing could deduplicate it).
    """
    if not isinstance(payload, dict):
        raise DataError(f"An order payload must be a JSON object, not {payload!r}.")
    order_id = _external_id(payload.get("id"), "The order")
    updated_at = parse_datetime(payload.get("updated_at"), "updated_at")
    digest = order_digest(payload)
    return InboundEvent(
        topic=topic,
        dedupe_key=f"order:{order_id}:{updated_at.isoformat()}:{digest[:16]}",
        resource_type=RESOURCE_ORDER,
        external_id=order_id,
        external_updated_at=updated_at,
        payload=payload,
        headers=dict(headers or {}),
        source=source,
        demand=order_demand(payload),
    )


def order_demand(payload):
    """What the order takes from stock, read leniently: a line whose
    quantity is not a positive number is left out here (its import fails
    with the reason), never the delivery refused. A cancelled order takes
    nothing.

    :return: a tuple of :class:`DemandLine`.
    """
    if payload.get("cancelled_at"):
        return ()
    items = payload.get("line_items")
    if not isinstance(items, list):
        return ()
    demand = []
    for item in items:
        if not isinstance(item, dict):
            continue
        try:
            quantity = float(_decimal(item.get("quantity"), "quantity"))
        except DataError:
            continue
        variant = _optional_id(item.get("variant_id"))
        sku = _text(item.get("sku"))
        if quantity > 0 and (variant or sku):
            demand.append(DemandLine(variant_id=variant, sku=sku, quantity=quantity))
    return tuple(demand)


def inventory_level_event(payload, topic, source, headers=None):
    """Describe an ``inventory_levels/update`` payload for the inbox.

    The dedupe key names the reported state (item, location, ``updated_at``,
    quantity): redeliveries of one report make one event, a new report a new
    one. ``available`` may be null (untracked item); the processor decides.

    :raise DataError: when the item or the location id is missing.
    """
    if not isinstance(payload, dict):
        raise DataError(f"An inventory level must be a JSON object, not {payload!r}.")
    item = _external_id(payload.get("inventory_item_id"), "The inventory item")
    location = _external_id(payload.get("location_id"), "The inventory location")
    updated_raw = payload.get("updated_at")
    updated_at = parse_datetime(updated_raw, "updated_at") if updated_raw else None
    stamp = updated_at.isoformat() if updated_at else ""
    available = _canonical_number(payload.get("available"))
    return InboundEvent(
        topic=topic,
        dedupe_key=f"inventory_level:{item}:{location}:{stamp}:{available}",
        resource_type=RESOURCE_INVENTORY_LEVEL,
        external_id=f"{item}:{location}",
        external_updated_at=updated_at,
        payload=payload,
        headers=dict(headers or {}),
        source=source,
    )
