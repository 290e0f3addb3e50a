"""The Amazon seller of the two-channel flash sale (``bench/flash-sale
--amazon``): one Shopify store and one Amazon seller sell the same catalogue
from one warehouse.

The seller is the Amazon simulator in a process of its own (``python -m
marketplace_sim.amazon serve``), driven through its ``/_sim/`` control
surface (:class:`AmazonSeller`); its backend in Odoo pulls ORDER_CHANGE
notifications from the simulator's SQS queue and polls ``searchOrders`` as
the backstop, and writes quantities by PATCH (a few SKUs) or feed (more).
:class:`AmazonSale` is what the sale does with it: orders, faults, end
checks and figures.

**Amazon's clock.** The simulator's clock runs at real time (time scale 1)
and Amazon's delays are shortened instead, ten times (:data:`SETTINGS`):
order data visible 12 s after a change (Amazon: about 2 minutes), a feed
3 s in the queue and 12 s in processing (Amazon: minutes), a PATCH live
3 s after it was accepted. A faster clock would run ahead of Odoo's: the
connector asks ``searchOrders`` for orders changed up to 2 min 10 s before
*its* now, and Amazon refuses a window ending less than 2 minutes before
*its* now, so with Amazon's clock ahead the backstop poll would never see
the sale's orders. At time scale 1 both 2-minute rules hold as on Amazon,
and so do the usage plans (5 PATCHes a second, 5 feeds per 5 minutes).

**Orders.** An Amazon order is placed ``PENDING`` and paid 0.5 to 3 s later
(two notifications). An MFN order takes its quantities from what the
listings show, atomically in the simulator (``from_listings``: refused when
a listing shows less, the storefront's "deny" policy; a sold-out scarce SKU
is then replaced by a plentiful one, as on the Shopify store). A share of
the orders (:data:`AFN_SHARE`) is fulfilled by Amazon (AFN): placed whatever
the listings show, imported, and never touching our stock.
"""

import contextlib
import os
import subprocess
import sys
import threading
import time
from decimal import Decimal

import requests

from tests.benchmarks.stack import REPO_ROOT, VAR_DIR, free_port

SELLER_ID = "A1BENCHSELLER01"
MARKETPLACE_ID = "ATVPDKIKX0DER"
CLIENT_ID = "amzn1.application-oa2-client.bench"
CLIENT_SECRET = "bench-client-secret"
REFRESH_TOKEN = "Atzr|bench-refresh-token"
AWS_KEY_ID, AWS_SECRET = "AKIDSIMULATOR", "bench-aws-secret"
#: Amazon's delays, ten times shorter (see the module's docstring)
SETTINGS = {
    "visibility_lag": 12,
    "listing_delay": 3,
    "feed_queue_delay": 3,
    "feed_processing_delay": 12,
}
TIME_SCALE = 1.0
#: share of the Amazon orders fulfilled by Amazon (FBA)
AFN_SHARE = 0.10
#: seconds between an Amazon order and its payment
PAY_DELAY = (0.5, 3.0)
#: the stock API operations, by way of writing
PATCH_OPERATIONS = ("patchListingsItem",)
FEED_OPERATIONS = (
    "createFeedDocument",
    "s3:PUT",
    "createFeed",
    "getFeed",
    "getFeedDocument",
    "s3:GET",
)
#: what a 429 storm empties: the operations another app of the seller
#: would spend too. Not searchOrders, createFeed and getFeedDocument: Amazon
#: refills those in minutes (one call every 3 minutes, every minute, every
#: 45 s), so a storm there only postpones the backstop poll or a feed that
#: long, which the sale shows without a storm already
STORM_OPERATIONS = (
    "getOrder",
    "patchListingsItem",
    "getListingsItem",
    "searchListingsItems",
    "createFeedDocument",
    "getFeed",
)
#: SQS faults: this many received messages delivered twice, this many
#: deletions failing (those messages come back after 30 s)
SQS_DUPLICATES = 25
SQS_FAILED_DELETES = 10


class AmazonSeller:
    """The simulator process and its control surface."""

    name = "amazon"

    def __init__(self, skus, seed=1, database="marketplace_bench"):
        self.skus = list(skus)
        self.seed = seed
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = os.path.join(VAR_DIR, f"amazon-sim-{database}.log")
        self.process = None
        self.backend_id = 0
        self._http = requests.Session()

    # Life cycle

    def start(self):
        env = dict(os.environ)
        tests = os.path.join(REPO_ROOT, "tests")
        env["PYTHONPATH"] = tests + os.pathsep + env.get("PYTHONPATH", "")
        os.makedirs(VAR_DIR, exist_ok=True)
        with open(self.log, "w") as log:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "marketplace_sim.amazon",
                    "serve",
                    "--port",
                    str(self.port),
                    "--seller",
                    SELLER_ID,
                    "--marketplace",
                    MARKETPLACE_ID,
                    "--client-id",
                    CLIENT_ID,
                    "--client-secret",
                    CLIENT_SECRET,
                    "--refresh-token",
                    REFRESH_TOKEN,
                    "--time-scale",
                    str(TIME_SCALE),
                    "--seed",
                    str(self.seed),
                    "--log-level",
                    "WARNING",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = time.monotonic() + 30
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"the Amazon simulator exited, see {self.log}")
            with contextlib.suppress(requests.RequestException):
                if self._http.get(self.url + "/_sim/stats", timeout=1).ok:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError(
                    f"the Amazon simulator did not start, see {self.log}"
                )
            time.sleep(0.2)
        self.control("POST", "settings", SETTINGS)
        for sku in self.skus:
            self.control("POST", "listings", {"sku": sku.code, "quantity": 0})
        return self

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self._http.close()

    def control(self, method, path, body=None, allow=()):
        """Call ``/_sim/<path>``; the answer's JSON (None for a status in
        ``allow``)."""
        response = self._http.request(
            method, f"{self.url}/_sim/{path}", json=body, timeout=30
        )
        if response.status_code in allow:
            return None
        if not response.ok:
            raise RuntimeError(
                f"Amazon simulator {method} /_sim/{path}: {response.status_code} "
                f"{response.text[:200]}"
            )
        return response.json()

    # Odoo

    def configure(self, env, warehouse, pricelist, product_ids, values):
        """The backend, its channel location and a binding per SKU (seller
        SKU = external id = channel item)."""
        queue_url = f"{self.url}/000000000000/sp-api-notifications"
        backend = env["marketplace.backend"].create(
            {
                "name": f"Store {self.name}",
                "marketplace_type": "amazon",
                "api_url": self.url,
                "amazon_region": "na",
                "amazon_seller_id": SELLER_ID,
                "amazon_marketplace_ids": MARKETPLACE_ID,
                "amazon_sqs_queue_url": queue_url,
                "amazon_sqs_region": "us-east-1",
                "amazon_sqs_endpoint_url": self.url,
                "amazon_lwa_url": self.url + "/auth/o2/token",
                "lwa_client_id": CLIENT_ID,
                "lwa_client_secret": CLIENT_SECRET,
                "lwa_refresh_token": REFRESH_TOKEN,
                "aws_access_key_id": AWS_KEY_ID,
                "aws_secret_access_key": AWS_SECRET,
                "warehouse_id": warehouse.id,
                "pricelist_id": pricelist.id,
                "unmapped_tax_policy": "template",
                "tax_template_id": env.company.account_sale_tax_id.id,
                "poll_enabled": True,
                "channel_location_ids": [
                    (
                        0,
                        0,
                        {
                            "name": "Merchant fulfilled",
                            "external_id": "DEFAULT",
                            "location_id": warehouse.lot_stock_id.id,
                        },
                    )
                ],
                **values,
            }
        )
        env["marketplace.product.binding"].create(
            [
                {
                    "backend_id": backend.id,
                    "product_id": product_ids[sku.code],
                    "external_id": sku.code,
                    "sku": sku.code,
                    "channel_item_ref": sku.code,
                }
                for sku in self.skus
            ]
        )
        backend._enqueue_pull()  # the cron would within a minute
        self.backend_id = backend.id
        return backend

    # Reads

    def listings(self):
        return self.control("GET", "listings")

    def histories(self):
        return self.control("GET", "listings/history")

    def stats(self):
        return self.control("GET", "stats")

    def queue_busy(self):
        """Messages still on the queue (visible or in flight)."""
        try:
            return bool(self.control("GET", "sqs")["messages"])
        except (requests.RequestException, RuntimeError):
            return True

    def wait_for_listings(self, timeout=120):
        """Until every accepted PATCH and feed has landed."""
        deadline = time.monotonic() + timeout
        while self.histories()["pending"]:
            if time.monotonic() > deadline:
                raise TimeoutError("Amazon listing writes still pending")
            time.sleep(0.5)


class AmazonSale:
    """The Amazon side of :class:`~tests.benchmarks.flash_sale.FlashSale`."""

    def __init__(self, bench, seller):
        self.bench = bench
        self.seller = seller
        self.rng = bench.rng
        self.to_pay = []  # (due, order id)
        self.actions = {}  # order id -> {"Pending": t, "Unshipped": t}
        self.sent = 0  # notifications caused (orders created and paid)
        self.refused = 0  # orders the listings refused (sold out meanwhile)
        self._lock = threading.Lock()

    # The sale

    def place(self, wanted):
        """One order of ``wanted`` (``[(sku, quantity)]``) on Amazon."""
        bench = self.bench
        prices = {sku.code: sku.price for sku in bench.scarce + bench.plentiful}
        afn = self.rng.random() < AFN_SHARE
        for _attempt in range(5):
            shown = self.seller.listings()
            lines = wanted if afn else self._sellable(wanted, shown)
            body = {
                "lines": [[sku, qty, prices[sku]] for sku, qty in lines],
                "status": "PENDING",
                "fulfillment": "AFN" if afn else "MFN",
                "tax_rate": "0",
                "from_listings": True,
            }
            placed_at = time.time()
            order = self.seller.control("POST", "orders", body, allow=(409,))
            if order is not None:
                break
            self.refused += 1  # a write of ours landed in between: look again
        else:
            raise RuntimeError("Amazon refused the same order five times")
        order_id = order["orderId"]
        if not afn:
            for sku, quantity in lines:
                bench.levels.setdefault((self.seller.name, sku), []).append(
                    (placed_at, shown[sku] - quantity)
                )
        total = sum(Decimal(prices[sku]) * qty for sku, qty in lines)
        bench.placed.append(
            {
                "store": self.seller.name,
                "id": order_id,
                "name": order_id,
                "t": placed_at,
                "lines": lines,
                "total": str(total),
                "afn": afn,
            }
        )
        with self._lock:
            self.actions[order_id] = {"Pending": placed_at}
            self.sent += 1
            self.to_pay.append((placed_at + self.rng.uniform(*PAY_DELAY), order_id))

    def _sellable(self, wanted, shown):
        bench = self.bench
        plentiful = [sku.code for sku in bench.plentiful]
        lines, used = [], {sku for sku, _qty in wanted}
        for sku, quantity in wanted:
            if shown.get(sku, 0) >= quantity:
                lines.append((sku, quantity))
                continue
            bench.sold_out_hits += 1
            for _attempt in range(5):
                other = self.rng.choice(plentiful)
                if other not in used and shown.get(other, 0) >= 1:
                    used.add(other)
                    lines.append((other, 1))
                    break
        if not lines:
            raise RuntimeError("Amazon has nothing left to sell")
        return lines

    def pay_due(self, everything=False):
        now = time.time()
        due = sorted(entry for entry in self.to_pay if everything or entry[0] <= now)
        for entry in due:
            self.to_pay.remove(entry)
            self.seller.control("POST", f"orders/{entry[1]}/pay")
            with self._lock:
                self.actions[entry[1]]["Unshipped"] = time.time()
                self.sent += 1

    # Faults

    def storm(self, seconds):
        """The buckets of the operations a sale spends most on held empty
        for ``seconds``: 429 QuotaExceeded."""
        for operation in STORM_OPERATIONS:
            self.seller.control(
                "POST", "throttle", {"seconds": seconds, "operation": operation}
            )

    def errors(self, seconds, rng):
        """500 and 503 for every SP-API call for ``seconds``."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            pending = self.seller.control(
                "POST", "faults", {"status": rng.choice((503, 503, 500)), "count": 3}
            )["pending"]
            time.sleep(0.05 if pending < 6 else 0.2)
        self.seller.control("DELETE", "faults")

    def sqs_faults(self):
        """Duplicates, reordering and deletions that fail (redelivery)."""
        self.seller.control("POST", "sqs/duplicate", {"count": SQS_DUPLICATES})
        self.seller.control("POST", "sqs/reorder", {"enabled": True})
        self.seller.control("POST", "sqs/fail-deletes", {"count": SQS_FAILED_DELETES})

    def expire_tokens(self):
        self.seller.control("POST", "lwa/expire")

    # Figures

    def figures(self, stack):
        stats = self.seller.stats()
        return {
            "stock_calls": self._stock_calls(stats),
            "throttled_by_operation": {
                operation: entry["throttled"]
                for operation, entry in sorted(stats["by_operation"].items())
                if entry["throttled"]
            },
            "errors_by_operation": {
                operation: entry["errors"]
                for operation, entry in sorted(stats["by_operation"].items())
                if entry["errors"]
            },
            "calls_by_operation": {
                operation: entry["calls"]
                for operation, entry in sorted(stats["by_operation"].items())
            },
            "faults_injected": stats["faults_injected"],
            "orders_refused_sold_out": self.refused,
            "afn_orders": sum(1 for order in self.bench.placed if order.get("afn")),
            "pull_latency": self._pull_latency(stack),
            "afn": self._afn_check(stack),
            "events_by_source": dict(
                stack.sql(
                    "SELECT source, count(*) FROM marketplace_event "
                    "WHERE backend_id = %s GROUP BY 1",
                    (self.seller.backend_id,),
                )
            ),
        }

    def _stock_calls(self, stats):
        """Calls per changed SKU, by way of writing: a *changed SKU* is one
        quantity of ours that landed on a listing, other than the one we
        wrote to it before (the buyers' decrements in between aside)."""
        calls = stats["by_operation"]
        changed = {"patch": 0, "feed": 0}
        landed = {"patch": 0, "feed": 0}
        for history in self.seller.histories()["history"].values():
            previous = 0
            for _at, quantity, source in history:
                kind = source.split(":", 1)[0]
                if kind in changed:
                    landed[kind] += 1
                    changed[kind] += quantity != previous
                    previous = quantity
        result = {}
        for kind, operations in (
            ("patch", PATCH_OPERATIONS),
            ("feed", FEED_OPERATIONS),
        ):
            count = sum(calls.get(op, {}).get("calls", 0) for op in operations)
            result[kind] = {
                "calls": count,
                "by_operation": {
                    op: calls.get(op, {}).get("calls", 0) for op in operations
                },
                "quantities_landed": landed[kind],
                "changed_skus": changed[kind],
                "calls_per_changed_sku": round(count / changed[kind], 2)
                if changed[kind]
                else None,
            }
        result["feeds"] = calls.get("createFeed", {}).get("calls", 0)
        return result

    def _pull_latency(self, stack):
        """Notification -> event stored: from the change made on Amazon
        (the order placed, then paid) to the first event of that state in
        the inbox pulled from the queue (redeliveries and duplicates are
        stored once)."""
        from tests.benchmarks.flash_sale import _latency_summary

        rows = stack.sql(
            """
            SELECT external_id,
                   payload->'Payload'->'OrderChangeNotification'->'Summary'
                     ->>'OrderStatus',
                   min(EXTRACT(EPOCH FROM create_date))
              FROM marketplace_event
             WHERE backend_id = %s AND source = 'queue'
             GROUP BY 1, 2
            """,
            (self.seller.backend_id,),
        )
        stored = {(order, status): float(at) for order, status, at in rows}
        latencies, missing = [], 0
        for order_id, actions in self.actions.items():
            for status, at in actions.items():
                if (order_id, status) in stored:
                    latencies.append(max(0.0, stored[(order_id, status)] - at))
                else:
                    missing += 1
        return {
            **_latency_summary(latencies),
            "not_from_the_queue": missing,
        }

    def _afn_check(self, stack):
        """AFN orders: imported, booked as fulfilled by Amazon, and not one
        reservation, delivery or ledger entry of ours."""
        rows = stack.sql(
            """
            SELECT so.id, so.marketplace_fulfilled_by_channel,
                   (SELECT count(*) FROM stock_picking p WHERE p.sale_id = so.id),
                   (SELECT count(*) FROM marketplace_stock_ledger l
                     WHERE l.sale_order_id = so.id)
              FROM marketplace_order_binding b
              JOIN sale_order so ON so.id = b.order_id
             WHERE b.backend_id = %s AND b.external_id = ANY(%s)
            """,
            (
                self.seller.backend_id,
                [o["id"] for o in self.bench.placed if o.get("afn")],
            ),
        )
        return {
            "imported": len(rows),
            "not_flagged": sum(1 for row in rows if not row[1]),
            "touching_stock": sum(1 for row in rows if row[2] or row[3]),
        }


def report_rows(amazon, section, row, fmt):
    """The Amazon seller's part of the report table (``report.table``)."""
    if not amazon:
        return
    section("Amazon seller (the simulator's counts)")
    afn = amazon["afn"]
    row(
        "orders refused as sold out",
        f"{amazon['orders_refused_sold_out']} (a write of ours landed between "
        f"the look at the listings and the order: placed again)",
    )
    row(
        "AFN orders",
        f"{amazon['afn_orders']} placed, {afn['imported']} imported, "
        f"{afn['not_flagged']} not booked as fulfilled by Amazon, "
        f"{afn['touching_stock']} touching our stock",
    )
    latency = amazon["pull_latency"]
    row(
        "pull intake: change -> event stored",
        f"p50/p95/p99/max {fmt(latency['p50'])} / {fmt(latency['p95'])} / "
        f"{fmt(latency['p99'])} / {fmt(latency['max'])} ms "
        f"({latency['count']} changes; {latency['not_from_the_queue']} "
        f"stored by the poll only)",
    )
    row("events by source", amazon["events_by_source"])
    calls = amazon["stock_calls"]
    for kind in ("patch", "feed"):
        entry = calls[kind]
        row(
            f"stock by {kind}: calls per changed SKU",
            f"{fmt(entry['calls_per_changed_sku'])} ({entry['calls']} calls, "
            f"{entry['changed_skus']} SKU changes of "
            f"{entry['quantities_landed']} quantities landed)",
        )
    row("  feed calls", calls["feed"]["by_operation"])
    row("throttled (429) by operation", amazon["throttled_by_operation"] or "none")
    row("errors by operation", amazon["errors_by_operation"] or "none")
    row("calls by operation", amazon["calls_by_operation"])
