"""An Orders API v2026-01-01 order to the channel-neutral order.

Amazon gives money as *amounts*, never rates: per order item, ``proceeds``
breakdowns of type ``ITEM`` (unit price x quantity), ``SHIPPING``, ``TAX``
and ``DISCOUNT`` (negative), the last two split by ``detailedBreakdowns``
subtype (``ITEM``, ``SHIPPING``, ``GIFT_WRAP``...). The core books rates
(one Odoo tax per rate, four decimals of a percentage) and checks its total
against Amazon's to the cent, so this module chooses, for each tax amount,
a rate that gives back exactly that amount on its base:

* the rate of the order's largest item is tried first on every line and
  charge (a small base, such as shipping, is reproduced by many rates: 0.41
  of tax on 4.99 is 8.22 % as well as 8.25 %), so that one tax is one rate
  and one tax mapping;
* a line's base is its ITEM amount less its item discount; the rate is
  ``tax / base`` rounded to 1e-6 (what the core keeps), nudged to a
  neighbour when rounding would miss the cent, and preferring a rate with
  fewer decimals (8.875 %) when one reproduces the amount too, so a seller's
  orders share a few Odoo taxes instead of one per order;
* when the discount cannot be written as an exact percentage the core books
  it as a separate negative line taxed at the same rate: the rate is then
  also chosen so that both lines' rounded taxes add up to Amazon's;
* shipping of all items is one shipping line (its tax reproduced on the sum);
  gift wrap, COD fees and other charges one line per kind, a delivery tip
  one untaxed line.

Taxes the marketplace collects and remits itself (an item's
``tax.taxCollections`` with model ``MARKETPLACE_FACILITATOR``, asked for with
``includedData=TAX``) are flagged ``collected_by_channel``: the core books them
on the backend's clearing account, not as a tax the seller owes. Amounts are
rounded at the currency's own decimals (yen 0, dinars 3).

Taxes included or not is read from the amounts: when ``grandTotal`` equals
the sum with the taxes added, they are excluded (US and Canadian sales tax,
and what Amazon's v2026 breakdowns show); when it equals the sum without
them, prices include them (VAT). Without a grand total (or without tax) the
marketplace decides: US and CA exclude, every other marketplace includes.

PII is role-based and often absent (pending orders, FBA orders, a seller
without the PII role): a missing buyer or address gives an empty customer
and address, never an error. Statuses: ``PENDING`` and
``PENDING_AVAILABILITY`` are financially "pending", others "paid";
``CANCELLED`` sets ``cancelled_at`` (Amazon gives no cancellation time: the
order's ``lastUpdatedTime``).
"""

import dataclasses
import datetime
import hashlib
import json
from decimal import Decimal, InvalidOperation

from odoo.addons.marketplace_connector.lib.errors import DataError
from odoo.addons.marketplace_connector.lib.order import (
    Address,
    Customer,
    Order,
    OrderLine,
    ShippingLine,
    TaxRate,
)
from odoo.addons.marketplace_connector.lib.pricing import (
    exact_discount_percent,
    minor_units,
    round_money,
)

ZERO = Decimal(0)
#: the core keeps a rate as a percentage with four decimals
RATE_QUANTUM = Decimal("0.000001")
#: coarser rates tried first: a whole percentage, then with 1, 2 and 3
#: decimals (in yen, 33 on 333 is 10 %, not 9.91 %)
NICE_QUANTA = (
    Decimal("0.01"),
    Decimal("0.001"),
    Decimal("0.0001"),
    Decimal("0.00001"),
)
#: how far from the plain quotient a rate is searched (in 1e-6 steps)
MAX_RATE_STEPS = 400
TAX_TITLE = "Tax"
#: ``ItemTaxCollection.model`` of a tax Amazon withholds and remits
MARKETPLACE_FACILITATOR = "MARKETPLACE_FACILITATOR"
#: marketplaces whose prices exclude tax (sales tax added at checkout)
TAX_EXCLUSIVE_MARKETPLACES = frozenset({"ATVPDKIKX0DER", "A2EUQ1WTGCTBG2"})
PENDING_STATUSES = ("PENDING", "PENDING_AVAILABILITY")
CANCELLED = "CANCELLED"
#: v0 and notification spellings of the statuses, to the v2026 ones
V0_STATUSES = {
    "Pending": "PENDING",
    "PendingAvailability": "PENDING_AVAILABILITY",
    "Unshipped": "UNSHIPPED",
    "PartiallyShipped": "PARTIALLY_SHIPPED",
    "Shipped": "SHIPPED",
    "InvoiceUnconfirmed": "SHIPPED",
    "Canceled": "CANCELLED",
    "Unfulfillable": "UNFULFILLABLE",
}
CHARGE_TITLES = {
    "GIFT_WRAP": "Gift wrap",
    "COD_FEE": "Cash on delivery fee",
    "OTHER": "Other charges",
}


# Scalars


def parse_datetime(value, what="timestamp"):
    """Amazon's ISO 8601 UTC text as a naive UTC datetime (what Odoo stores).

    :raise DataError: when ``value`` is not such a text.
    """
    if not isinstance(value, str) or not value.strip():
        raise DataError(f"The order's {what} is missing or not a date: {value!r}.")
    text = value.strip()
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


def optional_datetime(value):
    """Like :func:`parse_datetime`, ``None`` for anything unreadable."""
    try:
        return parse_datetime(value)
    except DataError:
        return None


def normalise_status(value):
    """A v2026 status (``PARTIALLY_SHIPPED``) from either spelling."""
    text = "" if value is None else str(value).strip()
    return V0_STATUSES.get(text, text.upper())


def _text(value):
    return "" if value is None else str(value).strip()


def _money(value, what):
    """The Decimal of a ``{amount, currencyCode}``; zero when absent."""
    if value is None:
        return ZERO
    amount = value.get("amount") if isinstance(value, dict) else None
    try:
        number = Decimal(str(amount).strip())
    except (InvalidOperation, ValueError) as err:
        raise DataError(f"{what} is not an amount: {value!r}.") from err
    if not number.is_finite():
        raise DataError(f"{what} is not a finite amount: {value!r}.")
    return number


def _currency_of(payload):
    """The order's currency: the first ``currencyCode`` it names."""
    stack = [payload]
    while stack:
        value = stack.pop(0)
        if isinstance(value, dict):
            code = value.get("currencyCode")
            if isinstance(code, str) and len(code.strip()) == 3 and "amount" in value:
                return code.strip().upper()
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return ""


# Rates


def _tax_on(base, rate, included, decimals=2):
    if included:
        return round_money(base * rate / (1 + rate), decimals)
    return round_money(base * rate, decimals)


def tax_rate(tax, base, included=False, split=None, decimals=2, preferred=()):
    """A rate (fraction, six decimals) with which the core computes ``tax``
    on ``base`` to the cent.

    :param included: ``base`` includes the tax (VAT prices).
    :param split: ``(gross, discount)`` when the core books a discount as a
        separate line: the rounded taxes of both must also add up to ``tax``.
    :param decimals: the currency's decimal places (taxes are rounded there).
    :param preferred: rates to take first when they reproduce ``tax``.
    :return: the rate; ``Decimal(0)`` when there is no tax or no base.
    """
    if not tax or base <= 0 or (included and base <= tax):
        return ZERO
    exact = tax / (base - tax if included else base)

    def miss(rate):
        """How far the core's taxes of the line(s) are from ``tax``."""
        on_base = _tax_on(base, rate, included, decimals)
        if split is None:
            return abs(on_base - tax)
        gross, discount = split
        booked = _tax_on(gross, rate, included, decimals) - _tax_on(
            discount, rate, included, decimals
        )
        return abs(on_base - tax) + abs(booked - tax)

    for rate in preferred:
        if rate > 0 and not miss(rate):
            return rate.quantize(RATE_QUANTUM)
    for quantum in NICE_QUANTA:
        rate = exact.quantize(quantum)
        if rate > 0 and not miss(rate):
            return rate.quantize(RATE_QUANTUM)
    center = exact.quantize(RATE_QUANTUM)
    best, best_miss = center, miss(center)
    for step in range(1, MAX_RATE_STEPS + 1):
        if not best_miss:
            break
        for rate in (center + step * RATE_QUANTUM, center - step * RATE_QUANTUM):
            if rate > 0 and miss(rate) < best_miss:
                best, best_miss = rate, miss(rate)
    # above a base of about 10,000 no six-decimal rate may hit the cent:
    # the closest is kept, the core books the rest on its rounding line
    return best


def _taxes(rate, collected=False):
    if not rate:
        return ()
    return (TaxRate(title=TAX_TITLE, rate=rate, collected_by_channel=collected),)


def collected_by_marketplace(item):
    """Whether Amazon collects and remits the item's tax itself."""
    tax = item.get("tax") if isinstance(item.get("tax"), dict) else {}
    return any(
        isinstance(collection, dict)
        and _text(collection.get("model")).upper() == MARKETPLACE_FACILITATOR
        for collection in tax.get("taxCollections") or ()
    )


# Amounts


@dataclasses.dataclass
class _Amounts:
    """Money of one order item by ``(type, subtype)``."""

    values: dict = dataclasses.field(default_factory=dict)

    def add(self, key, amount):
        self.values[key] = self.values.get(key, ZERO) + amount

    def get(self, kind, subtype=None):
        return self.values.get((kind, subtype or kind), ZERO)

    def kinds(self):
        return sorted({kind for kind, _sub in self.values} - {"TAX", "DISCOUNT"})


def _item_amounts(item, where):
    """Read an item's proceeds breakdowns; TAX and DISCOUNT by subtype."""
    amounts = _Amounts()
    proceeds = item.get("proceeds")
    breakdowns = proceeds.get("breakdowns") if isinstance(proceeds, dict) else None
    if not isinstance(breakdowns, list):
        return None
    for entry in breakdowns:
        if not isinstance(entry, dict):
            raise DataError(f"A proceeds breakdown of {where} is not an object.")
        kind = _text(entry.get("type")).upper() or "OTHER"
        subtotal = _money(entry.get("subtotal"), f"The {kind} proceeds of {where}")
        if kind in ("TAX", "DISCOUNT"):
            subtotal = abs(subtotal)
            detailed = 0
            for detail in entry.get("detailedBreakdowns") or ():
                subtype = _text(detail.get("subtype")).upper() or "ITEM"
                value = abs(_money(detail.get("value"), f"The {kind} of {where}"))
                amounts.add((kind, subtype), value)
                detailed += value
            if subtotal != detailed:  # undetailed (part): on the item itself
                amounts.add((kind, "ITEM"), subtotal - detailed)
        else:
            amounts.add((kind, kind), subtotal)
    return amounts


@dataclasses.dataclass
class _Charge:
    price: Decimal = ZERO
    discount: Decimal = ZERO
    tax: Decimal = ZERO
    #: Amazon collects the tax of (one of) the items it sums
    collected: bool = False

    def add(self, price, discount, tax, collected=False):
        self.price += price
        self.discount += discount
        self.tax += tax
        self.collected = self.collected or (collected and bool(tax))


def _item_quantity(item, where):
    quantity = item.get("quantityOrdered")
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
        raise DataError(f"The quantity of {where} is not a whole number: {quantity!r}.")
    return quantity


def _included(payload, marketplace, items_total, tax_total):
    """Whether Amazon's prices include the taxes (see the module doc)."""
    proceeds = payload.get("proceeds")
    grand = proceeds.get("grandTotal") if isinstance(proceeds, dict) else None
    if grand is not None and tax_total:
        total = _money(grand, "The order's grand total")
        if total == items_total + tax_total:
            return False
        if total == items_total:
            return True
    return marketplace not in TAX_EXCLUSIVE_MARKETPLACES


# Parts of an order


def _address(data):
    if not isinstance(data, dict):
        return Address()
    street2 = ", ".join(
        _text(data.get(key))
        for key in ("addressLine2", "addressLine3")
        if data.get(key)
    )
    return Address(
        first_name=_text(data.get("name")),
        company=_text(data.get("companyName")),
        street=_text(data.get("addressLine1")),
        street2=street2,
        city=_text(data.get("city")) or _text(data.get("municipality")),
        state_code=_text(data.get("stateOrRegion")),
        zip=_text(data.get("postalCode")),
        country_code=_text(data.get("countryCode")).upper(),
        phone=_text(data.get("phone")),
    )


def _customer(buyer, address):
    """Amazon has no buyer id; the (anonymised, per buyer) email is the key
    the core matches partners on. The full name stays in ``first_name``:
    splitting names is guesswork."""
    buyer = buyer if isinstance(buyer, dict) else {}
    return Customer(
        email=_text(buyer.get("buyerEmail")),
        first_name=_text(buyer.get("buyerName")) or address.first_name,
        phone=address.phone,
    )


def _cancel_reason(items):
    for item in items:
        cancellation = item.get("cancellation") if isinstance(item, dict) else None
        if not isinstance(cancellation, dict):
            continue
        for part in ("cancellationExecution", "cancellationRequest"):
            reason = _text((cancellation.get(part) or {}).get("cancelReason"))
            if reason:
                return reason
    return ""


def _preferred_rates(read, included, decimals):
    """The rate of the item with the largest taxed base (the most precise
    one), for every line and charge to try first."""
    largest = None
    for _item, amounts, _quantity, _where in read:
        if amounts is None:
            continue
        base = amounts.get("ITEM") - amounts.get("DISCOUNT", "ITEM")
        tax = amounts.get("TAX", "ITEM")
        if tax and base > 0 and (largest is None or base > largest[0]):
            largest = (base, tax)
    if largest is None:
        return ()
    rate = tax_rate(largest[1], largest[0], included, decimals=decimals)
    return (rate,) if rate else ()


def _line(item, amounts, quantity, included, where, decimals=2, preferred=()):
    product = item.get("product") if isinstance(item.get("product"), dict) else {}
    sku = _text(product.get("sellerSku"))
    if amounts is None:  # no proceeds yet (pending): the listed unit price
        unit = _money(
            (product.get("price") or {}).get("unitPrice"), f"The price of {where}"
        )
        gross, discount, tax = unit * quantity, ZERO, ZERO
    else:
        gross = amounts.get("ITEM")
        discount = amounts.get("DISCOUNT", "ITEM")
        tax = amounts.get("TAX", "ITEM")
    if quantity:
        price_unit = gross / quantity
        if round_money(price_unit, decimals) * quantity == gross:
            price_unit = round_money(price_unit, decimals)
        else:  # not a price in cents: the core's rounding line takes the rest
            price_unit = price_unit.quantize(RATE_QUANTUM)
    else:
        price_unit = _money((product.get("price") or {}).get("unitPrice"), "price")
    split = None
    if discount and exact_discount_percent(gross, discount, decimals) is None:
        split = (gross, discount)
    rate = tax_rate(tax, gross - discount, included, split, decimals, preferred)
    return OrderLine(
        external_id=_text(item.get("orderItemId")),
        sku=sku,
        variant_id=sku,
        title=_text(product.get("title")) or sku,
        quantity=Decimal(quantity),
        price_unit=price_unit,
        discount_amount=discount,
        taxes=_taxes(rate, collected_by_marketplace(item)),
    )


def _charge_line(title, code, charge, included, decimals=2, preferred=()):
    split = None
    if charge.discount:
        split = (charge.price, charge.discount)
    rate = tax_rate(
        charge.tax, charge.price - charge.discount, included, split, decimals, preferred
    )
    return ShippingLine(
        title=title,
        code=code,
        price=charge.price,
        discount_amount=charge.discount,
        taxes=_taxes(rate, charge.collected),
    )


def _delivery_tip(payload):
    proceeds = payload.get("proceeds")
    breakdowns = proceeds.get("breakdowns") if isinstance(proceeds, dict) else None
    tip = ZERO
    for entry in breakdowns or ():
        if isinstance(entry, dict) and entry.get("type") == "DELIVERY_TIP":
            tip += _money(entry.get("subtotal"), "The delivery tip")
    return tip


# Public API


def parse_order(payload):
    """Map an Orders API v2026 order (``getOrder``'s ``order``, or one entry
    of ``searchOrders``) to an :class:`~.order.Order`.

    :raise DataError: when the payload cannot be imported as it is; the
        message names the order and the offending field.
    """
    if not isinstance(payload, dict):
        raise DataError(f"An Amazon order must be a JSON object, not {payload!r}.")
    order_id = _text(payload.get("orderId"))
    if not order_id:
        raise DataError("The Amazon order has no orderId.")
    try:
        return _parse(payload, order_id)
    except DataError as err:
        raise DataError(f"Amazon order {order_id}: {err}") from err


def _parse(payload, order_id):
    items = payload.get("orderItems")
    if not isinstance(items, list) or not items:
        raise DataError("It has no order items.")
    fulfillment = payload.get("fulfillment") or {}
    status = normalise_status(fulfillment.get("fulfillmentStatus"))
    if not status:
        raise DataError(
            "It has no fulfillment status (getOrder must be asked for "
            "includedData=FULFILLMENT)."
        )
    channel = payload.get("salesChannel") or {}
    marketplace = _text(channel.get("marketplaceId"))
    currency = _currency_of(payload)
    if not currency:
        raise DataError("No amount of the order names its currency.")
    updated_at = parse_datetime(payload.get("lastUpdatedTime"), "lastUpdatedTime")

    read = []
    for index, item in enumerate(items, 1):
        if not isinstance(item, dict):
            raise DataError(f"Order item {index} is not an object.")
        where = f"item {_text(item.get('orderItemId')) or index}"
        read.append(
            (item, _item_amounts(item, where), _item_quantity(item, where), where)
        )
    decimals = minor_units(currency)
    shipping, charges = _Charge(), {}
    prices = taxes = discounts = ZERO
    for item, amounts, _quantity, _where in read:
        if amounts is None:
            continue
        collected = collected_by_marketplace(item)
        for kind in amounts.kinds():
            price = amounts.get(kind)
            discount = amounts.get("DISCOUNT", kind)
            tax = amounts.get("TAX", kind)
            if kind == "SHIPPING":
                shipping.add(price, discount, tax, collected)
            elif kind != "ITEM":
                charges.setdefault(kind, _Charge()).add(price, discount, tax, collected)
            prices += price
        discounts += sum(v for (k, _s), v in amounts.values.items() if k == "DISCOUNT")
        taxes += sum(v for (k, _s), v in amounts.values.items() if k == "TAX")
    tip = _delivery_tip(payload)
    included = _included(payload, marketplace, prices - discounts + tip, taxes)

    preferred = _preferred_rates(read, included, decimals)
    lines = []
    for item, amounts, quantity, where in read:
        line = _line(item, amounts, quantity, included, where, decimals, preferred)
        lines.append(line)
        if amounts is None:
            prices += line.price_unit * quantity
    shipping_lines = []
    if shipping.price or shipping.tax:
        shipping_lines.append(
            _charge_line(
                "Shipping", "SHIPPING", shipping, included, decimals, preferred
            )
        )
    for kind, charge in sorted(charges.items()):
        title = CHARGE_TITLES.get(kind, kind.replace("_", " ").capitalize())
        shipping_lines.append(
            _charge_line(title, kind, charge, included, decimals, preferred)
        )
    if tip:
        shipping_lines.append(ShippingLine("Delivery tip", "DELIVERY_TIP", tip))

    proceeds = payload.get("proceeds")
    grand = proceeds.get("grandTotal") if isinstance(proceeds, dict) else None
    computed = prices - discounts + tip + (ZERO if included else taxes)
    total = _money(grand, "The order's grand total") if grand is not None else computed
    cancelled = status == CANCELLED
    buyer_address = _address((payload.get("recipient") or {}).get("deliveryAddress"))
    order = Order(
        external_id=order_id,
        name=order_id,
        currency=currency,
        created_at=parse_datetime(payload.get("createdTime"), "createdTime"),
        updated_at=updated_at,
        taxes_included=included,
        financial_status="pending" if status in PENDING_STATUSES else "paid",
        fulfillment_status=status.lower(),
        cancelled_at=updated_at if cancelled else None,
        cancel_reason=_cancel_reason(items) if cancelled else "",
        customer=_customer(payload.get("buyer"), buyer_address),
        shipping_address=buyer_address,
        billing_address=Address(),
        lines=tuple(lines),
        shipping_lines=tuple(shipping_lines),
        total_price=total,
        total_tax=taxes,
        total_discounts=discounts,
        digest="",
        fulfilled_by_channel=_text(fulfillment.get("fulfilledBy")).upper() == "AMAZON",
        marketplace=marketplace,
    )
    return dataclasses.replace(order, digest=order_digest(order))


def order_digest(order):
    """A stable hex digest of everything imported from an order (its
    ``digest`` and ``updated_at`` excepted): same content, same digest,
    whichever call read it."""

    def plain(value):
        if isinstance(value, Decimal):
            return format(value.normalize(), "f")
        if isinstance(value, datetime.datetime):
            return value.isoformat()
        if isinstance(value, dict):
            return {key: plain(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [plain(item) for item in value]
        return value

    fields = dataclasses.asdict(order)
    fields.pop("digest", None)
    fields.pop("updated_at", None)
    canonical = json.dumps(plain(fields), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()
