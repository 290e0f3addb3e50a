"""Plain-Python tests of how a channel tax finds its Odoo tax, and of money
at each currency's own precision."""

from decimal import Decimal

from odoo.addons.marketplace_connector.lib.order import TaxRate
from odoo.addons.marketplace_connector.lib.pricing import (
    exact_discount_percent,
    minor_units,
    round_money,
)
from odoo.addons.marketplace_connector.lib.tax_matching import (
    Candidate,
    ChannelTax,
    channel_tax,
    find_mapping,
    is_generic_group,
    parse_legacy_name,
    percent,
    propose,
    refusal,
)

GST = ChannelTax("GST", Decimal("5.0000"), "CA")


def candidate(id_, name, amount="5", **kw):
    values = {
        "price_include": False,
        "country": "CA",
        "group_name": "GST",
        "has_accounts": True,
    }
    values.update(kw)
    return Candidate(id=id_, name=name, amount=Decimal(amount), **values)


def test_rates_are_percentages_with_four_decimals():
    assert percent(Decimal("0.09975")) == Decimal("9.9750")
    assert percent("0.2") == Decimal("20.0000")


def test_channel_tax_takes_the_orders_country_unless_it_has_its_own():
    tax = channel_tax(TaxRate("FR TVA", Decimal("0.2")), True, "fr")
    assert (tax.country, tax.region, tax.included) == ("FR", "", True)
    own = TaxRate("QST", Decimal("0.09975"), country="CA", region="qc")
    tax = channel_tax(own, False, "US")
    assert (tax.country, tax.region) == ("CA", "QC")
    assert tax.label == "QST 9.975% (CA-QC, excluded)"


def test_key_ignores_case_and_spacing_of_the_title_only():
    a = ChannelTax("FR  TVA", Decimal("20"), "FR", included=True)
    b = ChannelTax("fr tva", Decimal("20.0000"), "FR", included=True)
    assert a.key == b.key
    assert a.key != ChannelTax("FR TVA", Decimal("20"), "FR").key  # inclusion
    collected = ChannelTax("Tax", Decimal("8.875"), "US", collected_by_channel=True)
    assert collected.key != ChannelTax("Tax", Decimal("8.875"), "US").key


def test_the_one_fitting_tax_is_proposed():
    match, reason = propose(GST, [candidate(1, "GST 5%")])
    assert match.id == 1
    assert "only tax" in reason


def test_a_sales_tax_of_the_same_rate_elsewhere_is_not_gst():
    us = candidate(2, "US sales tax 5%", country="US", group_name="Sales tax")
    match, reason = propose(GST, [us])
    assert match is None
    assert refusal(us, GST) == "another country"
    assert "no tax" in reason


def test_generic_groups_taxes_without_accounts_and_other_inclusion_are_refused():
    generic = candidate(3, "5%", group_name="Tax 5%")
    no_account = candidate(4, "GST 5% old", has_accounts=False)
    included = candidate(5, "GST 5% incl.", price_include=True)
    purchase = candidate(6, "GST 5% purchase", type_tax_use="purchase")
    for tax in (generic, no_account, included, purchase):
        assert refusal(tax, GST)
    assert propose(GST, [generic, no_account, included, purchase])[0] is None
    assert is_generic_group("Tax 15%") and is_generic_group("15 %")
    assert not is_generic_group("TVA 20%") and not is_generic_group("GST")


def test_several_fitting_taxes_the_title_decides_or_nothing_is_proposed():
    gst = candidate(7, "GST 5%")
    hst = candidate(8, "HST part 5%")
    match, _reason = propose(GST, [gst, hst])
    assert match.id == 7
    twins = [candidate(9, "GST 5% A"), candidate(10, "GST 5% B")]
    match, reason = propose(GST, twins)
    assert match is None
    assert "GST 5% A" in reason and "GST 5% B" in reason


def test_a_collected_tax_only_maps_to_the_clearing_account():
    collected = ChannelTax("Tax", Decimal("8.8750"), "US", collected_by_channel=True)
    ours = candidate(11, "NY 8.875%", "8.875", country="US", group_name="NY")
    clearing = candidate(
        12,
        "Collected 8.875%",
        "8.875",
        country="US",
        group_name="Facilitator",
        on_clearing_account=True,
    )
    assert propose(collected, [ours, clearing])[0].id == 12
    assert propose(collected, [ours])[0] is None


def test_a_mapping_for_a_whole_country_or_any_country_serves():
    qst = ChannelTax("QST", Decimal("9.975"), "CA", "QC")
    whole_country = ChannelTax("QST", Decimal("9.975"), "CA")
    anywhere = ChannelTax("QST", Decimal("9.975"))
    assert find_mapping(qst, {anywhere.key: "any"}) == "any"
    assert find_mapping(qst, {whole_country.key: "CA", anywhere.key: "any"}) == "CA"
    assert find_mapping(qst, {qst.key: "QC", whole_country.key: "CA"}) == "QC"
    assert find_mapping(qst, {}) is None


def test_taxes_created_on_the_fly_are_recognised_by_their_name():
    assert parse_legacy_name("FR TVA 20% incl. (shopify)", "shopify") == (
        "FR TVA",
        True,
    )
    assert parse_legacy_name("QST 9.975% (shopify)", "shopify") == ("QST", False)
    assert parse_legacy_name("Tax 8.875% (amazon)", "shopify") is None
    assert parse_legacy_name("15%", "shopify") is None


def test_money_is_rounded_at_the_currencys_own_places():
    assert (minor_units("JPY"), minor_units("KWD"), minor_units("usd")) == (0, 3, 2)
    assert round_money(Decimal("99.5"), 0) == Decimal("100")
    assert round_money(Decimal("1.2345"), 3) == Decimal("1.235")
    assert round_money(Decimal("2.005")) == Decimal("2.01")
    # a discount of 100 yen on 999 is an exact percentage, to the yen
    assert exact_discount_percent(Decimal("999"), Decimal("100"), 0) == Decimal("10.01")
