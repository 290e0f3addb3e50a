"""Shipment confirmation of merchant-fulfilled orders (Orders API v0).

Orders API v2026 has no write operations: ``confirmShipment`` stays in v0,
one call per package (partial shipments are several packages). A
``packageReferenceId`` is our own number for the package within the order
(Amazon accepts positive integers); it makes a retry recognisable.

Why the retry needs care: when the answer to a confirmation is lost (a
timeout after Amazon recorded it), the job retries and Amazon refuses the
second call with a 400 (the package is already confirmed, or the order is
already shipped). Such a 400 is a success when Amazon says the package is
"already confirmed", or when the order's packages (``getOrder`` with
``PACKAGES``) hold our ``packageReferenceId`` with our tracking number.
(Amazon's data lags about two minutes: a retry within that time after the
last package, refused as "the order is shipped", fails with Amazon's
message; Retry once the package shows succeeds.)
Any other 400 is a :class:`DataError` with Amazon's message (a wrong item
id, a quantity above what is left to ship, a cancelled order...).

``carrierCode`` "Other" requires ``carrierName``: refused here before any
call, as Amazon would refuse it after one.
"""

import datetime
import logging
import re
import zlib
from urllib.parse import quote

from odoo.addons.marketplace_connector.lib.errors import DataError

from .orders import get_order, iso_utc

_logger = logging.getLogger(__name__)

PATH = "/orders/v0/orders/{}/shipmentConfirmation"
#: Amazon's words for "this package is confirmed already"
_ALREADY = re.compile(r"already\s+(been\s+)?(confirmed|shipped)", re.IGNORECASE)
OTHER_CARRIER = "Other"
_TRAILING_NUMBER = re.compile(r"(\d+)$")


def package_reference_id(reference):
    """Amazon's ``packageReferenceId`` (a positive number, as text) of one
    of our shipment references, the same on every retry.

    The core names a shipment ``odoo-<database>-<picking id>``: its trailing
    number (the delivery's id, unique in the database, hence in the order)
    is the package's number. A reference without one gets a stable number
    derived from its text.
    """
    text = str(reference or "").strip()
    match = _TRAILING_NUMBER.search(text)
    if match and int(match.group(1)) > 0:
        return str(int(match.group(1)))
    if not text:
        return ""
    return str(zlib.crc32(text.encode("utf-8")) % 999_999_999 + 1)


def confirmation_body(
    marketplace_id,
    package_reference_id,
    carrier_code,
    carrier_name,
    shipping_method,
    tracking_number,
    ship_date,
    items,
):
    """The v0 ``ConfirmShipmentRequest`` body (validated locally first).

    :raise DataError: a field Amazon would refuse.
    """
    problems = []
    if not marketplace_id:
        problems.append("the order's marketplace id is missing")
    if not str(package_reference_id or "").strip():
        problems.append("the package reference is missing")
    if not carrier_code:
        problems.append("the carrier code is missing (use Other with a carrier name)")
    elif carrier_code == OTHER_CARRIER and not carrier_name:
        problems.append("carrier code Other needs the carrier's name")
    if not tracking_number:
        problems.append("the tracking number is missing")
    if not items:
        problems.append("no order item is in the package")
    lines = []
    for order_item_id, quantity in items or ():
        if not order_item_id or int(quantity) < 1:
            problems.append(f"item {order_item_id!r} has quantity {quantity}")
        lines.append({"orderItemId": str(order_item_id), "quantity": int(quantity)})
    if problems:
        raise DataError(
            f"Cannot confirm the shipment on Amazon: {'; '.join(problems)}. "
            f"Complete the delivery, then retry."
        )
    if isinstance(ship_date, datetime.date) and not isinstance(
        ship_date, datetime.datetime
    ):
        ship_date = datetime.datetime.combine(ship_date, datetime.time(12, 0))
    detail = {
        "packageReferenceId": str(package_reference_id),
        "carrierCode": carrier_code,
        "trackingNumber": tracking_number,
        "shipDate": iso_utc(ship_date) if not isinstance(ship_date, str) else ship_date,
        "orderItems": lines,
    }
    if carrier_name:
        detail["carrierName"] = carrier_name
    if shipping_method:
        detail["shippingMethod"] = shipping_method
    return {"marketplaceId": marketplace_id, "packageDetail": detail}


def already_confirmed(client, order_id, package_reference_id, tracking_number):
    """Whether Amazon already has this package (see the module doc)."""
    try:
        order = get_order(client, order_id, included=("PACKAGES",))
    except DataError:
        return False
    for package in order.get("packages") or ():
        if str(package.get("packageReferenceId")) == str(package_reference_id):
            return str(package.get("trackingNumber") or "") == str(tracking_number)
    return False


def confirm_shipment(
    client,
    order_id,
    marketplace_id,
    package_reference_id,
    carrier_code,
    carrier_name,
    shipping_method,
    tracking_number,
    ship_date,
    items,
):
    """Confirm one package of an order; ``True`` when Amazon has it.

    :param items: ``[(order_item_id, quantity)]`` in the package.
    :raise DataError: Amazon (or the local check) refused the confirmation.
    """
    body = confirmation_body(
        marketplace_id,
        package_reference_id,
        carrier_code,
        carrier_name,
        shipping_method,
        tracking_number,
        ship_date,
        items,
    )
    try:
        client.call(
            "confirmShipment", "POST", PATH.format(quote(order_id, safe="")), body=body
        )
    except DataError as err:
        if _ALREADY.search(str(err)) or already_confirmed(
            client, order_id, package_reference_id, tracking_number
        ):
            _logger.info(
                "Amazon order %s: package %s was already confirmed (%s)",
                order_id,
                package_reference_id,
                err,
            )
            return True
        raise DataError(
            f"Amazon refused the shipment confirmation of order {order_id}, "
            f"package {package_reference_id}: {err}"
        ) from err
    _logger.info(
        "Amazon order %s: package %s confirmed", order_id, package_reference_id
    )
    return True
