"""What a scrape of /metrics costs with a large inbox and catalogue.

Bulk-inserts (SQL) ``--events`` done events (a copy of a real payload, a
tenth of them imported within the last five minutes) and ``--levels`` stock
levels (one binding each, 1 % drifting) into a database that has the
addons, ANALYZEs, times ``--runs`` scrapes (the queries of
``services/metrics.py``, then the exposition), and deletes what it
inserted.

    python3 tests/benchmarks/metrics_cost.py -c var/odoo-test.conf -d marketplace_test
"""

import argparse
import statistics
import sys
import time

MARK = "metrics-cost"


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("-c", "--config", required=True)
    parser.add_argument("-d", "--database", required=True)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--levels", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args(argv)

    import odoo
    from odoo import sql_db

    odoo.tools.config.parse_config(["-c", args.config, "-d", args.database])
    from prometheus_client import CollectorRegistry, generate_latest

    from odoo.addons.marketplace_connector.lib import metrics as lib
    from odoo.addons.marketplace_connector.services.metrics import read_snapshot

    cr = sql_db.db_connect(args.database).cursor()
    try:
        _fill(cr, args.events, args.levels)
        cr.commit()  # pylint: disable=invalid-commit
        cr.execute(
            "ANALYZE marketplace_event; ANALYZE marketplace_stock_level; "
            "ANALYZE marketplace_product_binding"
        )
        cr.commit()  # pylint: disable=invalid-commit
        queries, whole = [], []
        size = 0
        for _run in range(args.runs):
            started = time.perf_counter()
            snapshot = read_snapshot(cr)
            cr.rollback()
            registry = CollectorRegistry(auto_describe=False)
            registry.register(lib.SnapshotCollector(snapshot))
            body = generate_latest(registry)
            whole.append(time.perf_counter() - started)
            queries.append(snapshot.scrape_seconds)
            size = len(body)
        cr.execute("SELECT count(*) FROM marketplace_event")
        events = cr.fetchone()[0]
        cr.execute("SELECT count(*) FROM marketplace_stock_level")
        levels = cr.fetchone()[0]
        cr.rollback()
        print(
            f"{events} events, {levels} stock levels, {args.runs} scrapes: "
            f"queries p50 {statistics.median(queries) * 1000:.1f} ms "
            f"(max {max(queries) * 1000:.1f}), whole scrape p50 "
            f"{statistics.median(whole) * 1000:.1f} ms (max {max(whole) * 1000:.1f}), "
            f"{size} bytes"
        )
    finally:
        cr.rollback()
        _clean(cr)
        cr.commit()  # pylint: disable=invalid-commit
        cr.close()
    return 0


def _fill(cr, events, levels):
    cr.execute("SELECT id, company_id FROM marketplace_backend ORDER BY id LIMIT 1")
    row = cr.fetchone()
    if not row:
        sys.exit("the database needs a backend (run the flash-sale benchmark once)")
    backend_id, company_id = row
    cr.execute(
        "SELECT payload::text FROM marketplace_event WHERE payload IS NOT NULL "
        "ORDER BY id DESC LIMIT 1"
    )
    payload = cr.fetchone()
    cr.execute(
        """
        INSERT INTO marketplace_event (backend_id, company_id, source, topic,
            dedupe_key, resource_type, external_id, payload, headers, state,
            received_at, processed_at, processing_ms, attempts)
        SELECT %(backend)s, %(company)s, 'webhook', 'orders/create',
               %(mark)s || ':' || n, 'order', n::text, %(payload)s::jsonb, '{}', 'done',
               now() at time zone 'UTC' - make_interval(secs => n * 20),
               now() at time zone 'UTC' - make_interval(secs => n * 20 - 3), 50, 1
          FROM generate_series(1, %(count)s) AS n
        """,
        {
            "backend": backend_id,
            "company": company_id,
            "mark": MARK,
            "payload": payload[0] if payload else "{}",
            "count": events,
        },
    )
    # a tenth processed within the window of the histograms
    cr.execute(
        "UPDATE marketplace_event SET processed_at = now() at time zone 'UTC' "
        "- make_interval(secs => (id %% 290)), received_at = now() at time zone "
        "'UTC' - make_interval(secs => (id %% 290) + 5) "
        "WHERE dedupe_key LIKE %s AND id %% 10 = 0",
        (f"{MARK}:%",),
    )
    cr.execute("SELECT id FROM product_product ORDER BY id LIMIT 1")
    product_id = cr.fetchone()[0]
    cr.execute(
        "SELECT id FROM marketplace_channel_location WHERE backend_id = %s LIMIT 1",
        (backend_id,),
    )
    location = cr.fetchone()
    if not location:
        sys.exit("the backend needs a channel location")
    cr.execute(
        """
        WITH bindings AS (
            INSERT INTO marketplace_product_binding (backend_id, product_id,
                external_id, sku, channel_item_ref)
            SELECT %(backend)s, %(product)s, %(mark)s || ':' || n, %(mark)s,
                   %(mark)s || ':' || n
              FROM generate_series(1, %(count)s) AS n
            RETURNING id
        )
        INSERT INTO marketplace_stock_level (binding_id, backend_id, product_id,
            channel_location_id, ats_quantity, state)
        SELECT id, %(backend)s, %(product)s, %(location)s, 5,
               CASE WHEN id %% 100 = 0 THEN 'drift' ELSE 'synced' END
          FROM bindings
        """,
        {
            "backend": backend_id,
            "product": product_id,
            "location": location[0],
            "mark": MARK,
            "count": levels,
        },
    )


def _clean(cr):
    cr.execute("DELETE FROM marketplace_event WHERE dedupe_key LIKE %s", (f"{MARK}:%",))
    cr.execute("DELETE FROM marketplace_product_binding WHERE sku = %s", (MARK,))


if __name__ == "__main__":
    sys.exit(main())
