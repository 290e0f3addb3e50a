"""Import catalogue of a large shop: calls, points and seconds.

A simulated Shopify store (its plan's GraphQL bucket and query costs) with
``--variants`` single-variant products; Odoo has a product for all but
``--unknown`` of their SKUs. *Import catalogue* is pressed on a fresh
backend and its jobs are run as queue_job's runner runs them (each in a
transaction of its own, when due), in this process. Reported: GraphQL
calls by operation, points requested, throttled answers, seconds from the
press to the last job, and the bindings and mismatches made.

    python3 tests/benchmarks/catalogue_import.py -c var/odoo-bench.conf \\
        -d marketplace_bench_catalogue --variants 10000

The products, backend and bindings it creates are left in the database
(a benchmark database: the wrapper ``bench/catalogue-import`` builds it).
"""

import argparse
import collections
import json
import os
import sys
import time

_TESTS = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if _TESTS not in sys.path:
    sys.path.insert(0, _TESTS)

from marketplace_sim.shopify import ShopifySimulator  # noqa: E402
from marketplace_sim.shopify import catalogue as sim_catalogue  # noqa: E402

SHOP = "bench-catalogue.myshopify.com"
TOKEN = "shpat_bench_catalogue"


def _products(env, skus):
    """Products for ``skus``, created in batches (the ORM's own create)."""
    Product = env["product.product"].with_context(tracking_disable=True)
    for start in range(0, len(skus), 1000):
        Product.create(
            [
                {"name": f"Item {sku}", "default_code": sku, "type": "consu"}
                for sku in skus[start : start + 1000]
            ]
        )


def _run_jobs(registry, deadline):
    """Run the catalogue jobs as the runner would, each when due; the
    number run."""
    from odoo import SUPERUSER_ID, api

    from odoo.addons.queue_job.exception import RetryableJobError
    from odoo.addons.queue_job.job import Job

    runs = 0
    while time.monotonic() < deadline:
        with registry.cursor() as cr:
            cr.execute(
                "SELECT uuid, eta FROM queue_job WHERE state = 'pending' "
                "AND method_name IN ('_job_import_catalogue', "
                "'_job_fill_inventory_items') ORDER BY eta NULLS FIRST, id LIMIT 1"
            )
            row = cr.fetchone()
            cr.execute("SELECT now() at time zone 'UTC'")
            now = cr.fetchone()[0]
        if not row:
            return runs
        uuid, eta = row
        if eta and eta > now:
            time.sleep((eta - now).total_seconds())
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            job = Job.load(env, uuid)
            job.set_started()
            job.store()
            cr.commit()  # pylint: disable=invalid-commit
            try:
                job.perform()
            except RetryableJobError as err:
                # what the runner does: postponed, no retry spent
                cr.rollback()
                job.postpone(result=str(err), seconds=err.seconds)
                job.set_pending(reset_retry=False)
            else:
                job.set_done()
            job.store()
        runs += 1
    raise SystemExit("the catalogue import did not finish in time")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-c", "--config", required=True)
    parser.add_argument("-d", "--database", required=True)
    parser.add_argument("--variants", type=int, default=10_000)
    parser.add_argument("--unknown", type=int, default=100)
    parser.add_argument("--plan", default="standard")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args(argv)

    import odoo
    from odoo import SUPERUSER_ID, api

    odoo.tools.config.parse_config(["-c", args.config, "-d", args.database])
    registry = odoo.modules.registry.Registry(args.database)
    from odoo.addons.marketplace_shopify.lib import catalogue as lib

    sim = ShopifySimulator(shop_domain=SHOP, access_token=TOKEN, plan=args.plan)
    variants = sim_catalogue.add_variants(sim, args.variants, prefix="CAT")
    sim.start()
    try:
        known = sorted(variants)[: max(0, args.variants - args.unknown)]
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            started = time.perf_counter()
            _products(env, known)
            products_seconds = time.perf_counter() - started
            backend = env["marketplace.backend"].create(
                {
                    "name": f"Catalogue benchmark {int(time.time())}",
                    "marketplace_type": "shopify",
                    "api_url": sim.url,
                    "shop_domain": SHOP,
                    "api_version": "2026-10",
                    "access_token": TOKEN,
                    "stock_push_enabled": False,
                }
            )
            backend_id = backend.id
            cr.commit()  # pylint: disable=invalid-commit
        sim.reset_stats()
        started = time.monotonic()
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            env["marketplace.backend"].browse(backend_id).action_import_catalogue()
        jobs = _run_jobs(registry, started + args.timeout)
        seconds = time.monotonic() - started
        calls = collections.Counter()
        points = 0
        for request in sim.requests:
            if not request["path"].endswith("graphql.json"):
                continue
            query = (request["json"] or {}).get("query") or ""
            name = query.split("(")[0].split("{")[0].split()[-1]
            calls[name] += 1
        stats = sim.stats
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {})
            backend = env["marketplace.backend"].browse(backend_id)
            summary = backend.catalogue_import_summary
            bindings = env["marketplace.product.binding"].search_count(
                [("backend_id", "=", backend_id), ("channel_item_ref", "!=", False)]
            )
            cr.execute(
                "SELECT state, count(*) FROM marketplace_catalogue_variant "
                "WHERE backend_id = %s GROUP BY state",
                (backend_id,),
            )
            states = dict(cr.fetchall())
        points = lib.VARIANT_PAGE_COST * calls.get(
            "CatalogueVariants", 0
        ) + lib.LOCATION_PAGE_COST * calls.get("CatalogueLocations", 0)
    finally:
        sim.stop()
    figures = {
        "variants": args.variants,
        "plan": args.plan,
        "graphql_calls": dict(calls),
        "graphql_calls_total": sum(calls.values()),
        "points_requested": points,
        "throttled": stats.get("throttled", 0),
        "jobs": jobs,
        "seconds": round(seconds, 1),
        "bindings_with_inventory_item": bindings,
        "catalogue_rows": states,
        "summary": summary,
        "products_created_seconds": round(products_seconds, 1),
    }
    print(f"Catalogue import of {args.variants} variants ({args.plan} plan)")
    for key, value in figures.items():
        print(f"  {key:30} {value}")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as out:
            json.dump(figures, out, indent=2)
    ok = bindings == len(known) and figures["throttled"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
