"""Order resources: pricing and the REST ``Order`` shape, as plain functions.

Money is computed with :class:`~decimal.Decimal` and rounded half-up to cents
at the same points Shopify rounds:

- line discount = round(price x qty x discount%)
- line tax, taxes excluded = round((price x qty - line discount) x rate)
- line tax, taxes included = round(x - x / (1 + rate)), x = the discounted line
- shipping tax: the same rule on the shipping price
- subtotal_price = Σ price x qty - total_discounts
- total_tax = Σ every tax line
- total_price = subtotal_price + shipping + (total_tax unless taxes_included)

so that the totals are exactly the sum of their parts.
"""

import dataclasses
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CENT = Decimal("0.01")
HUNDRED = Decimal(100)

FINANCIAL_STATUSES = (
    "pending",
    "authorized",
    "partially_paid",
    "paid",
    "partially_refunded",
    "refunded",
    "voided",
)
FULFILLMENT_STATUSES = (None, "fulfilled", "partial", "restocked")
CANCEL_REASONS = ("customer", "declined", "fraud", "inventory", "staff", "other")
#: what ``update_order`` may change (Shopify lets an app edit these on an order;
#: the two statuses are simulator conveniences for merchant-side changes)
UPDATABLE_FIELDS = frozenset(
    {
        "note",
        "tags",
        "email",
        "phone",
        "shipping_address",
        "billing_address",
        "buyer_accepts_marketing",
        "financial_status",
        "fulfillment_status",
    }
)


def decimal(value, what):
    """A finite Decimal from a string/int (floats are refused: money is text)."""
    if isinstance(value, float):
        value = repr(value)
    try:
        result = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{what} is not a number: {value!r}") from None
    if not result.is_finite():
        raise ValueError(f"{what} is not a finite number: {value!r}")
    return result


def cents(amount):
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def money(amount):
    """Shopify's money: a string with two decimals."""
    return str(cents(amount))


def tax_on(amount, rate, taxes_included):
    if not rate:
        return Decimal(0)
    if taxes_included:
        return cents(amount - amount / (1 + rate))
    return cents(amount * rate)


@dataclasses.dataclass(frozen=True)
class PricedLine:
    sku: str
    title: str
    product_id: int
    variant_id: int
    quantity: int
    price: Decimal
    discount: Decimal
    tax: Decimal


@dataclasses.dataclass(frozen=True)
class Pricing:
    lines: tuple
    shipping: Decimal
    shipping_tax: Decimal
    tax_rate: Decimal
    discount_pct: Decimal
    taxes_included: bool

    @property
    def line_items_total(self):
        return sum((line.price * line.quantity for line in self.lines), Decimal(0))

    @property
    def total_discounts(self):
        return sum((line.discount for line in self.lines), Decimal(0))

    @property
    def subtotal(self):
        return self.line_items_total - self.total_discounts

    @property
    def total_tax(self):
        return sum((line.tax for line in self.lines), self.shipping_tax)

    @property
    def total(self):
        extra_tax = Decimal(0) if self.taxes_included else self.total_tax
        return self.subtotal + self.shipping + extra_tax


def price_order(lines, tax_rate, shipping, discount_pct, taxes_included):
    """Price an order.

    :param lines: ``(variant, quantity, unit_price)`` tuples; ``variant`` has
        ``sku, title, product_id, variant_id``.
    :param tax_rate: a fraction, ``"0.20"`` for 20 %.
    :param discount_pct: a percentage, ``"10"`` for 10 % off every line.
    """
    rate = decimal(tax_rate, "tax_rate")
    pct = decimal(discount_pct, "discount_pct")
    shipping = cents(decimal(shipping or 0, "shipping"))
    if not 0 <= rate < 1:
        raise ValueError(f"tax_rate is a fraction in [0, 1): {tax_rate!r}")
    if not 0 <= pct <= 100:
        raise ValueError(f"discount_pct is a percentage in [0, 100]: {discount_pct!r}")
    if shipping < 0:
        raise ValueError("shipping cannot be negative")
    priced = []
    for variant, quantity, unit_price in lines:
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 1:
            raise ValueError(f"quantity of {variant.sku} must be a positive int")
        price = cents(decimal(unit_price, f"price of {variant.sku}"))
        gross = price * quantity
        discount = cents(gross * pct / HUNDRED)
        priced.append(
            PricedLine(
                sku=variant.sku,
                title=variant.title,
                product_id=variant.product_id,
                variant_id=variant.variant_id,
                quantity=quantity,
                price=price,
                discount=discount,
                tax=tax_on(gross - discount, rate, taxes_included),
            )
        )
    if not priced:
        raise ValueError("an order needs at least one line")
    return Pricing(
        lines=tuple(priced),
        shipping=shipping,
        shipping_tax=tax_on(shipping, rate, taxes_included),
        tax_rate=rate,
        discount_pct=pct,
        taxes_included=bool(taxes_included),
    )


def _tax_lines(amount, rate):
    if not rate:
        return []
    return [{"title": "Tax", "rate": float(rate), "price": money(amount)}]


def discount_code(pct):
    return f"SAVE{pct.normalize():f}".replace(".", "_")


def build_order(
    pricing,
    *,
    ids,
    number,
    timestamp,
    currency,
    email,
    customer,
    shipping_address,
    billing_address,
    financial_status,
    note=None,
    tags="",
    test=False,
):
    """The REST ``Order`` resource of a new order.

    :param ids: ``{"order": int, "line_items": [int, ...], "shipping_line": int}``
    :param timestamp: formatted ``created_at`` (= ``updated_at`` = ``processed_at``).
    """
    order_id = ids["order"]
    code = discount_code(pricing.discount_pct) if pricing.discount_pct else None
    line_items = []
    for line, line_id in zip(pricing.lines, ids["line_items"], strict=True):
        allocations = (
            [{"amount": money(line.discount), "discount_application_index": 0}]
            if code
            else []
        )
        line_items.append(
            {
                "id": line_id,
                "admin_graphql_api_id": f"gid://shopify/LineItem/{line_id}",
                "variant_id": line.variant_id,
                "product_id": line.product_id,
                "sku": line.sku,
                "title": line.title,
                "name": line.title,
                "variant_title": None,
                "vendor": None,
                "quantity": line.quantity,
                "price": money(line.price),
                "total_discount": money(line.discount),
                "discount_allocations": allocations,
                "fulfillable_quantity": line.quantity,
                "fulfillment_status": None,
                "requires_shipping": True,
                "taxable": bool(pricing.tax_rate),
                "gift_card": False,
                "tax_lines": _tax_lines(line.tax, pricing.tax_rate),
            }
        )
    shipping_lines = [
        {
            "id": ids["shipping_line"],
            "title": "Standard Shipping",
            "code": "Standard",
            "source": "shopify",
            "price": money(pricing.shipping),
            "discounted_price": money(pricing.shipping),
            "tax_lines": _tax_lines(pricing.shipping_tax, pricing.tax_rate),
        }
    ]
    discount_codes = (
        [{"code": code, "amount": money(pricing.total_discounts), "type": "percentage"}]
        if code
        else []
    )
    discount_applications = (
        [
            {
                "type": "discount_code",
                "code": code,
                "value": f"{pricing.discount_pct.normalize():f}",
                "value_type": "percentage",
                "allocation_method": "across",
                "target_selection": "all",
                "target_type": "line_item",
            }
        ]
        if code
        else []
    )
    return {
        "id": order_id,
        "admin_graphql_api_id": f"gid://shopify/Order/{order_id}",
        "name": f"#{number}",
        "order_number": number,
        "number": number - 1000,
        "email": email,
        "contact_email": email,
        "phone": None,
        "created_at": timestamp,
        "updated_at": timestamp,
        "processed_at": timestamp,
        "closed_at": None,
        "cancelled_at": None,
        "cancel_reason": None,
        "confirmed": True,
        "test": bool(test),
        "source_name": "web",
        "currency": currency,
        "presentment_currency": currency,
        "taxes_included": pricing.taxes_included,
        "total_line_items_price": money(pricing.line_items_total),
        "subtotal_price": money(pricing.subtotal),
        "total_discounts": money(pricing.total_discounts),
        "total_tax": money(pricing.total_tax),
        "total_price": money(pricing.total),
        "tax_lines": _tax_lines(pricing.total_tax, pricing.tax_rate),
        "financial_status": financial_status,
        "fulfillment_status": None,
        "buyer_accepts_marketing": False,
        "note": note,
        "tags": tags,
        "customer": customer,
        "shipping_address": shipping_address,
        "billing_address": billing_address,
        "line_items": line_items,
        "shipping_lines": shipping_lines,
        "discount_codes": discount_codes,
        "discount_applications": discount_applications,
        "fulfillments": [],
        "refunds": [],
    }
