"""Amazon's taxes as the core maps them (issue #23): marketplace-facilitator
taxes flagged, one rate per order wherever it reproduces Amazon's amounts,
amounts at the currency's own decimals."""

from decimal import Decimal

from test_amazon_support import item, order

from odoo.addons.marketplace_amazon.lib.mapping import parse_order, tax_rate

FACILITATOR = {
    "taxCollections": [
        {"model": "MARKETPLACE_FACILITATOR", "responsibleParty": "Amazon Services"}
    ]
}


def test_facilitator_taxes_are_flagged_collected_by_the_channel():
    collected = item(
        quantity=2, unit="19.99", tax="3.30", shipping="4.99", shipping_tax="0.41"
    )
    collected["tax"] = FACILITATOR
    parsed = parse_order(order([collected]))
    [line_tax] = parsed.lines[0].taxes
    [shipping_tax] = parsed.shipping_lines[0].taxes
    assert line_tax.collected_by_channel and shipping_tax.collected_by_channel
    plain = parse_order(order([item(quantity=2, unit="19.99", tax="3.30")]))
    assert not plain.lines[0].taxes[0].collected_by_channel


def test_small_bases_take_the_orders_rate_when_it_reproduces_them():
    # 0.41 on 4.99 is 8.22 % as well as 8.25 %: the large line decides
    parsed = parse_order(
        order(
            [
                item(
                    quantity=2,
                    unit="19.99",
                    tax="3.30",
                    shipping="4.99",
                    shipping_tax="0.41",
                ),
                item(item_id="1002", sku="TEE-L", unit="4.99", tax="0.41"),
            ]
        )
    )
    rates = {
        t.rate for line in parsed.lines + parsed.shipping_lines for t in line.taxes
    }
    assert rates == {Decimal("0.082500")}
    assert tax_rate(Decimal("0.41"), Decimal("4.99")) != Decimal("0.0825")


def test_yen_amounts_keep_the_real_rate():
    # 33 yen on 333 is 10 % rounded to the yen; at cents it would be 9.91 %
    assert tax_rate(Decimal("33"), Decimal("333"), decimals=0) == Decimal("0.1")
    assert tax_rate(Decimal("33"), Decimal("333")) == Decimal("0.0991")
    parsed = parse_order(
        order(
            [item(quantity=1, unit="333", tax="33", currency="JPY")],
            currency="JPY",
        )
    )
    assert parsed.currency == "JPY"
    assert parsed.lines[0].price_unit == Decimal("333")
    assert parsed.lines[0].taxes[0].rate == Decimal("0.1")
    assert parsed.total_price == Decimal("366")
