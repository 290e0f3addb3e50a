"""A steady stream of activity for the demo on both channels: new orders
on a random one -- the Shopify store (most paid, some pending and paid
later, a few cancelled) or the Amazon seller (placed pending and paid a
moment later, a few cancelled, one in ten fulfilled by Amazon; merchant
fulfilled ones only while the listings show the quantity) -- with a status
line that counts what Odoo has imported."""

import argparse
import os
import random
import time

import psycopg2
import requests
from demo_setup import CATALOGUE

PRICES = {sku: price for sku, _name, price, _quantity in CATALOGUE}


def imported_count(config, database):
    import configparser

    parser = configparser.ConfigParser()
    parser.read(config)
    options = parser["options"]
    with (
        psycopg2.connect(
            dbname=database,
            host=options["db_host"],
            port=options["db_port"],
            user=options["db_user"],
        ) as conn,
        conn.cursor() as cr,
    ):
        cr.execute(
            "SELECT count(*) FROM marketplace_order_binding WHERE order_id IS NOT NULL"
        )
        orders = cr.fetchone()[0]
        cr.execute("SELECT state, count(*) FROM marketplace_event GROUP BY state")
        events = dict(cr.fetchall())
    conn.close()
    return orders, events


def shown_lines(simulator, lines):
    """The lines as the store sells them: a storefront that denies
    overselling sells only what it shows (Shopify's "deny" policy), so a
    line asks at most the quantity shown and a SKU shown at 0 is left out."""
    shown = {
        level["sku"]: level["available"]
        for level in requests.get(f"{simulator}/_sim/inventory", timeout=10).json()
    }
    return [
        (sku, min(quantity, shown.get(sku, 0)))
        for sku, quantity in lines
        if shown.get(sku, 0) > 0
    ]


def shopify_order(simulator, lines, rng, pending):
    """An order on the Shopify store (and maybe a pending one paid or
    cancelled) of what it shows; returns 1, or 0 when it shows none of
    the lines."""
    lines = shown_lines(simulator, lines)
    if not lines:
        return 0
    status = "pending" if rng.random() < 0.15 else "paid"
    order = requests.post(
        f"{simulator}/_sim/orders",
        json={
            "lines": lines,
            "financial_status": status,
            "discount_pct": rng.choice(["0", "0", "10"]),
            "shipping": rng.choice(["0.00", "4.95", "9.90"]),
        },
        timeout=10,
    ).json()
    if status == "pending":
        pending.append(order["id"])
    if pending and rng.random() < 0.3:
        order_id = pending.pop(0)
        action = "cancel" if rng.random() < 0.3 else "paid"
        requests.post(f"{simulator}/_sim/orders/{order_id}/{action}", timeout=10)
    return 1


def amazon_order(amazon, lines, rng):
    """A pending order on the Amazon seller; None when the listings show
    less than it asks (Amazon does not sell what it does not show)."""
    afn = rng.random() < 0.1
    answer = requests.post(
        f"{amazon}/_sim/orders",
        json={
            "lines": [[sku, quantity, PRICES[sku]] for sku, quantity in lines],
            "status": "PENDING",
            "fulfillment": "AFN" if afn else "MFN",
            "tax_rate": "0",
            "from_listings": True,
        },
        timeout=10,
    )
    if answer.status_code == 409:
        return None
    answer.raise_for_status()
    return answer.json()


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--simulator", required=True)
    parser.add_argument("--amazon", help="the Amazon simulator (both channels)")
    parser.add_argument("--odoo", required=True)
    parser.add_argument("--config", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--per-minute", type=float, default=20)
    parser.add_argument("--duration", type=float, help="seconds; default: until Ctrl-C")
    args = parser.parse_args()
    rng = random.Random(os.getpid())
    started = time.monotonic()
    pending = []
    amazon_pending = []
    sent = 0
    while args.duration is None or time.monotonic() - started < args.duration:
        lines = [
            (sku, rng.randint(1, 3))
            for sku, *_rest in rng.sample(CATALOGUE, rng.randint(1, 3))
        ]
        if amazon_pending:
            order_id = amazon_pending.pop(0)
            action = "cancel" if rng.random() < 0.05 else "pay"
            requests.post(f"{args.amazon}/_sim/orders/{order_id}/{action}", timeout=10)
        if args.amazon and rng.random() < 0.5:
            order = amazon_order(args.amazon, lines, rng)
            if order is not None:
                sent += 1
                amazon_pending.append(order["orderId"])
        else:
            sent += shopify_order(args.simulator, lines, rng, pending)
        if sent % 5 == 0:
            try:
                orders, events = imported_count(args.config, args.database)
                print(
                    f"orders placed on the channels: {sent}; "
                    f"sale orders in Odoo: {orders}; events: {events}",
                    flush=True,
                )
            except psycopg2.Error as err:
                print(f"orders sent: {sent}; Odoo database not readable yet ({err})")
        time.sleep(60.0 / args.per_minute)
    print(f"done: {sent} orders sent")


if __name__ == "__main__":
    main()
