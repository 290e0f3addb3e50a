"""Configure the demo database: a Shopify store and an Amazon seller (the
two simulators) selling the same catalogue from one warehouse.

The Shopify backend is onboarded as a merchant would: *Register webhooks*
subscribes Odoo's URL to every topic through the Admin API, and *Import
catalogue* (a queued job the runner takes at start) maps the store's one
location to the warehouse's stock and binds every variant to the product
with its SKU, inventory item included. The Amazon backend maps ``DEFAULT``
(merchant fulfilled) and binds every seller SKU. Odoo then pushes each
channel its share of the free stock, less a buffer of 2 units. The
Shopify simulator sends signed webhooks to Odoo; Odoo pulls the Amazon
seller's ORDER_CHANGE notifications from its SQS queue and polls
``searchOrders`` as the backstop. Idempotent: running it again updates what
is there."""

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
#: the Amazon simulator's seller and application (demo/run starts it so)
AMAZON = {
    "seller": "A1DEMOSELLER0001",
    "marketplace": "ATVPDKIKX0DER",
    "client_id": "amzn1.application-oa2-client.demo",
    "client_secret": "demo-client-secret",
    "refresh_token": "Atzr|demo-refresh-token",
    "aws_key": "AKIDSIMULATOR",
}
#: Amazon's delays ten times shorter, its clock at real time (as in the
#: two-channel flash sale: tests/benchmarks/amazon_seller.py)
AMAZON_SETTINGS = {
    "visibility_lag": 12,
    "listing_delay": 3,
    "feed_queue_delay": 3,
    "feed_processing_delay": 12,
}


def wait_for(url, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.3)
    raise SystemExit(f"{url} did not answer within {seconds} s")


def _backend(env, domain, vals):
    # the simulators tax orders at any rate: each rate gets a tax copied
    # from the company's sales tax, mapped for review (README: Taxes)
    vals = dict(
        vals,
        unmapped_tax_policy="template",
        tax_template_id=env.company.account_sale_tax_id.id,
    )
    backend = env["marketplace.backend"].search(domain, limit=1)
    if backend:
        backend.write(vals)
    else:
        backend = env["marketplace.backend"].create(vals)
    return backend


def _location(env, backend, name, external_id, location):
    locations = env["marketplace.channel.location"]
    if not locations.search([("backend_id", "=", backend.id)], limit=1):
        locations.create(
            {
                "backend_id": backend.id,
                "name": name,
                "external_id": external_id,
                "location_id": location.id,
            }
        )


def _bind(env, backend, product, external_id, item_ref, sku):
    """Bound afresh on every start: the simulators start empty, so what Odoo
    remembers they show (the binding's stock levels) goes with the old
    binding, and the new one is pushed its share from 0."""
    bindings = env["marketplace.product.binding"]
    bindings.search(
        [("backend_id", "=", backend.id), ("product_id", "=", product.id)]
    ).unlink()
    bindings.create(
        {
            "backend_id": backend.id,
            "product_id": product.id,
            "external_id": external_id,
            "sku": sku,
            "channel_item_ref": item_ref,
        }
    )


#: units never offered on a channel: what a sale may take while a
#: quantity is on its way to the other channel
BUFFER_UNITS = 2


def _forget_shop(env, shop):
    """The simulator starts empty on every run: what Odoo remembers of the
    previous store (bindings with their stock levels, its catalogue, its
    location) goes, and the catalogue import binds the new one afresh."""
    env["marketplace.catalogue.variant"].search([("backend_id", "=", shop.id)]).unlink()
    env["marketplace.product.binding"].with_context(active_test=False).search(
        [("backend_id", "=", shop.id)]
    ).unlink()
    env["marketplace.channel.location"].with_context(active_test=False).search(
        [("backend_id", "=", shop.id)]
    ).unlink()


def configure_odoo(config, database, shopify, amazon, odoo_url):
    """Both backends, the products and their stock; the Amazon seller's
    location and bindings; the Shopify store onboarded through its API
    (webhooks registered, catalogue import queued)."""
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
        stock = warehouse.lot_stock_id
        pricelist = env["product.pricelist"].search(
            [("currency_id", "=", env.ref("base.USD").id)], limit=1
        ) or env["product.pricelist"].create(
            {"name": "Shopify USD", "currency_id": env.ref("base.USD").id}
        )
        common = {"warehouse_id": warehouse.id, "pricelist_id": pricelist.id}
        secret = secrets.token_hex(24)
        shop = _backend(
            env,
            [("shop_domain", "=", SHOP)],
            {
                "name": "Demo Shopify store",
                "marketplace_type": "shopify",
                "api_url": shopify,
                "shop_domain": SHOP,
                "api_version": "2026-10",
                "access_token": TOKEN,
                "webhook_secret": secret,
                "poll_overlap_minutes": 10,
                "stock_buffer_units": BUFFER_UNITS,
                **common,
            },
        )
        seller = _backend(
            env,
            [("amazon_seller_id", "=", AMAZON["seller"])],
            {
                "name": "Demo Amazon seller",
                "marketplace_type": "amazon",
                "api_url": amazon,
                "amazon_region": "na",
                "amazon_seller_id": AMAZON["seller"],
                "amazon_marketplace_ids": AMAZON["marketplace"],
                "amazon_sqs_queue_url": f"{amazon}/000000000000/sp-api-notifications",
                "amazon_sqs_region": "us-east-1",
                "amazon_sqs_endpoint_url": amazon,
                "amazon_lwa_url": f"{amazon}/auth/o2/token",
                "lwa_client_id": AMAZON["client_id"],
                "lwa_client_secret": AMAZON["client_secret"],
                "lwa_refresh_token": AMAZON["refresh_token"],
                "aws_access_key_id": AMAZON["aws_key"],
                "aws_secret_access_key": "demo-aws-secret",
                "poll_enabled": True,
                "stock_buffer_units": BUFFER_UNITS,
                **common,
            },
        )
        _forget_shop(env, shop)
        _location(env, seller, "Merchant fulfilled", "DEFAULT", stock)
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
                env["stock.quant"]._update_available_quantity(product, stock, quantity)
            _bind(env, seller, product, sku, sku, sku)
        seller._enqueue_pull()  # the cron would within a minute
        # onboarding the store as a merchant does it on the backend's form
        print(shop.action_register_webhooks()["params"]["message"])
        print(shop._get_adapter().test_connection())
        shop.action_import_catalogue()
        # committing queues the first pushes: each channel gets its share
        return shop.webhook_url, secret


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", required=True)
    parser.add_argument("--database", required=True)
    parser.add_argument("--simulator", required=True, help="the Shopify simulator")
    parser.add_argument("--amazon", required=True, help="the Amazon simulator")
    parser.add_argument("--odoo", required=True)
    args = parser.parse_args()
    wait_for(args.simulator + "/_sim/stats")
    wait_for(args.amazon + "/_sim/stats")
    for sku, name, price, _quantity in CATALOGUE:
        # the channels show what Odoo pushes them, from 0
        requests.post(
            f"{args.simulator}/_sim/products",
            json={"sku": sku, "title": name, "price": price},
            timeout=5,
        ).raise_for_status()
        requests.post(
            f"{args.amazon}/_sim/listings", json={"sku": sku, "title": name}, timeout=5
        ).raise_for_status()
    requests.post(
        f"{args.amazon}/_sim/settings", json=AMAZON_SETTINGS, timeout=5
    ).raise_for_status()
    webhook_url, secret = configure_odoo(
        args.config, args.database, args.simulator, args.amazon, args.odoo
    )
    requests.post(
        f"{args.simulator}/_sim/webhooks",
        json={"url": webhook_url, "secret": secret, "api_version": "2026-10"},
        timeout=5,
    ).raise_for_status()
    print(f"demo backends ready; Shopify webhooks go to {webhook_url}")


if __name__ == "__main__":
    main()
