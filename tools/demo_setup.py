"""Configure the demo database: a Shopify backend pointed at the simulator,
a small catalogue with stock on both sides, and webhooks from the simulator
to Odoo. Idempotent: running it again updates what is there."""

import argparse
import os
import secrets
import time

import requests

CATALOGUE = [
    ("MUG-BLUE", "Blue mug", "19.99", 500),
    ("MUG-RED", "Red mug", "19.99", 500),
    ("TEE-S", "T-shirt S", "25.00", 300),
    ("TEE-M", "T-shirt M", "25.00", 300),
    ("TEE-L", "T-shirt L", "25.00", 300),
    ("CAP-RED", "Red cap", "12.50", 400),
    ("POSTER-A2", "Poster A2", "9.90", 1000),
    ("LAMP-XL", "Desk lamp XL", "89.00", 50),
]
SHOP = "demo-shop.myshopify.com"
TOKEN = "shpat_demo_token"


def wait_for(url, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.3)
    raise SystemExit(f"{url} did not answer within {seconds} s")


def configure_odoo(config, database, simulator, odoo_url):
    os.environ["TZ"] = "UTC"
    import odoo
    from odoo import SUPERUSER_ID, api

    odoo.tools.config.parse_config(["-c", config, "-d", database])
    registry = odoo.modules.registry.Registry(database)
    with registry.cursor() as cr:
        env = api.Environment(cr, SUPERUSER_ID, {})
        env["ir.config_parameter"].set_param("web.base.url", odoo_url)
        env["ir.config_parameter"].set_param("web.base.url.freeze", "True")
        company = env.company
        warehouse = env["stock.warehouse"].search(
            [("company_id", "=", company.id)], limit=1
        )
        pricelist = env["product.pricelist"].search(
            [("currency_id", "=", env.ref("base.USD").id)], limit=1
        ) or env["product.pricelist"].create(
            {"name": "Shopify USD", "currency_id": env.ref("base.USD").id}
        )
        backend = env["marketplace.backend"].search(
            [("shop_domain", "=", SHOP)], limit=1
        )
        secret = secrets.token_hex(24)
        vals = {
            "name": "Demo Shopify store",
            "marketplace_type": "shopify",
            "api_url": simulator,
            "shop_domain": SHOP,
            "api_version": "2026-10",
            "access_token": TOKEN,
            "webhook_secret": secret,
            "warehouse_id": warehouse.id,
            "pricelist_id": pricelist.id,
            "poll_overlap_minutes": 10,
        }
        if backend:
            backend.write(vals)
        else:
            backend = env["marketplace.backend"].create(vals)
        for sku, name, price, quantity in CATALOGUE:
            product = env["product.product"].search(
                [("default_code", "=", sku)], limit=1
            )
            if not product:
                product = env["product.product"].create(
                    {
                        "name": name,
                        "default_code": sku,
                        "list_price": float(price),
                        "type": "consu",
                        "is_storable": True,
                        "taxes_id": [(5, 0, 0)],
                    }
                )
                env["stock.quant"]._update_available_quantity(
                    product, warehouse.lot_stock_id, quantity
                )
        return backend.webhook_url, secret


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--simulator", required=True)
    parser.add_argument("--odoo", required=True)
    args = parser.parse_args()
    wait_for(args.simulator + "/_sim/stats")
    webhook_url, secret = configure_odoo(
        args.config, args.database, args.simulator, args.odoo
    )
    for sku, name, price, quantity in CATALOGUE:
        requests.post(
            f"{args.simulator}/_sim/products",
            json={"sku": sku, "title": name, "price": price, "inventory": quantity},
            timeout=5,
        ).raise_for_status()
    requests.post(
        f"{args.simulator}/_sim/webhooks",
        json={"url": webhook_url, "secret": secret, "api_version": "2026-10"},
        timeout=5,
    ).raise_for_status()
    print(f"demo backend ready; webhooks go to {webhook_url}")


if __name__ == "__main__":
    main()
