"""The channel-neutral order every adapter maps its wire format to.

Money is :class:`decimal.Decimal` as the channel computed it; the importer
reproduces the channel's totals in Odoo and checks them.
"""

import dataclasses
import datetime
from decimal import Decimal


@dataclasses.dataclass(frozen=True)
class Address:
    first_name: str = ""
    last_name: str = ""
    company: str = ""
    street: str = ""
    street2: str = ""
    city: str = ""
    state_code: str = ""
    zip: str = ""
    country_code: str = ""
    phone: str = ""

    @property
    def name(self):
        return " ".join(p for p in (self.first_name, self.last_name) if p).strip()

    def is_empty(self):
        return not any(dataclasses.astuple(self))


@dataclasses.dataclass(frozen=True)
class Customer:
    external_id: str = ""
    email: str = ""
    first_name: str = ""
    last_name: str = ""
    phone: str = ""

    @property
    def name(self):
        return " ".join(p for p in (self.first_name, self.last_name) if p).strip()


@dataclasses.dataclass(frozen=True)
class TaxRate:
    """One tax applied to a line: ``rate`` is a fraction (0.2 for 20%).

    ``country`` and ``region`` (ISO codes) when the channel says where the
    tax is due (otherwise the order's delivery address tells);
    ``collected_by_channel`` when the marketplace collects and remits it
    itself (Amazon's marketplace-facilitator taxes): not the seller's
    liability."""

    title: str
    rate: Decimal
    country: str = ""
    region: str = ""
    collected_by_channel: bool = False


@dataclasses.dataclass(frozen=True)
class OrderLine:
    external_id: str
    sku: str
    variant_id: str
    title: str
    quantity: Decimal
    price_unit: Decimal
    discount_amount: Decimal = Decimal(0)
    taxes: tuple = ()
    requires_shipping: bool = True


@dataclasses.dataclass(frozen=True)
class ShippingLine:
    title: str
    code: str
    price: Decimal
    discount_amount: Decimal = Decimal(0)
    taxes: tuple = ()


@dataclasses.dataclass(frozen=True)
class Order:
    external_id: str
    name: str
    currency: str
    created_at: datetime.datetime
    updated_at: datetime.datetime
    taxes_included: bool
    #: the channel's payment state, in lower case (e.g. ``paid``,
    #: ``pending``); which states import is the adapter's decision
    #: (``MarketplaceAdapter.importable``)
    financial_status: str
    fulfillment_status: str
    cancelled_at: datetime.datetime | None
    cancel_reason: str
    customer: Customer
    shipping_address: Address
    billing_address: Address
    lines: tuple
    shipping_lines: tuple
    total_price: Decimal
    total_tax: Decimal
    total_discounts: Decimal
    digest: str
    test: bool = False
    note: str = ""
    #: shipped by the channel from its own warehouse (Amazon's AFN): the
    #: order is booked, but never reserves or moves our stock
    fulfilled_by_channel: bool = False
    #: the channel's marketplace within one account (Amazon's marketplace id)
    marketplace: str = ""
    #: who took the payment (Shopify's gateway name, e.g. ``shopify_payments``):
    #: the backend may register it on a journal of its own
    payment_gateway: str = ""

    @property
    def is_cancelled(self):
        return self.cancelled_at is not None
