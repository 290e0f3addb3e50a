"""Slow clients against the webhook intake, with and without the reverse
proxy (issue 22). Run it with ``bench/slow-clients`` (``--help``).

An Odoo HTTP worker serves one request at a time, and reads a request's
body as it arrives. N clients that open a webhook request and send its body
a byte at a time (under Odoo's 2-second socket timeout) take every worker,
and the connections after them wait in the kernel's queue: a real Shopify
delivery sent meanwhile is answered when they stop, or never -- Shopify
hangs up after 5 seconds and counts a failure. nginx with request buffering
(``docker/nginx/odoo.conf.template``) reads bodies whole before Odoo sees
them: the slow clients cost it a connection each, not a worker.

One stack (multi-worker Odoo with queue_job's runner and our addons on a
fresh database, ``stack.py``; Debian's nginx in front with the docker/ site
configuration, ``tests/deploy/reverse_proxy.py``), then, side by side, for
each mode (``direct``: Odoo's own port; ``proxy``: HTTPS through nginx):

1. ``--clients`` slow clients POST to the backend's webhook URL, one byte
   every ``--interval`` seconds, for ``--hold`` seconds;
2. ``--after`` seconds in, one real signed ``orders/create`` delivery is
   sent (timeouts ``--timeout``, longer than Shopify's 5 s, to see when
   it would be answered);
3. reported: its status and answer time, and whether Shopify would have
   waited for it (under 5 s).
"""

import argparse
import contextlib
import json
import os
import sys
import threading
import time

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
os.environ["MARKETPLACE_VAR_DIR"] = os.path.join(
    os.environ.get("MARKETPLACE_VAR_DIR", os.path.join(REPO_ROOT, "var")), "deploy"
)
sys.path.insert(0, REPO_ROOT)

from tests.benchmarks.stack import Sku, Stack  # noqa: E402
from tests.deploy.reverse_proxy import Nginx, SlowClients  # noqa: E402
from tests.marketplace_sim.shopify import WebhookSender  # noqa: E402

SHOPIFY_DEADLINE = 5.0


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=40, help="slow clients")
    parser.add_argument("--workers", type=int, default=3, help="Odoo HTTP workers")
    parser.add_argument(
        "--hold", type=float, default=20.0, help="seconds the slow clients dribble"
    )
    parser.add_argument(
        "--after", type=float, default=2.0, help="seconds before the real delivery"
    )
    parser.add_argument(
        "--interval", type=float, default=0.5, help="seconds between two bytes"
    )
    parser.add_argument(
        "--timeout", type=float, default=60.0, help="the real delivery's timeouts"
    )
    parser.add_argument(
        "--modes", default="direct,proxy", help="direct, proxy or both (in order)"
    )
    parser.add_argument("--database", default="deploy_slow_clients")
    parser.add_argument("--json", help="write the results there")
    return parser.parse_args(argv)


def measure(stack, nginx, mode, options):
    store = stack.stores["a"]
    token_path = "/marketplace/webhook/" + store.webhook_url.rsplit("/", 1)[1]
    if mode == "proxy":
        host, port, context = "localhost", nginx.https_port, nginx.ssl_context()
        url = nginx.https_url + token_path
    else:
        host, port, context = "127.0.0.1", stack.port, None
        url = stack.url + token_path
    sender = WebhookSender(
        url,
        store.secret,
        store.sim.shop_domain,
        workers=1,
        connect_timeout=options.timeout,
        read_timeout=options.timeout,
    )
    result = {}
    try:
        slow = SlowClients(
            host,
            port,
            token_path,
            count=options.clients,
            ssl_context=context,
            interval=options.interval,
        )
        started = time.monotonic()
        with slow:
            time.sleep(options.after)
            order = store.sim.create_order([("SLOW-1", 1)], notify=False)
            answered = threading.Event()

            def deliver():
                result["status"], result["seconds"] = sender.deliver_once(
                    "orders/create", order
                )
                stats = sender.stats
                result["outcome"] = (
                    "answered"
                    if result["status"] is not None
                    else "timeout"
                    if stats["timeouts"]
                    else "connection error"
                )
                answered.set()

            thread = threading.Thread(target=deliver, daemon=True)
            thread.start()
            answered.wait(max(0.0, options.hold - (time.monotonic() - started)))
            result["slow_clients_connected"] = slow.connected
            result["slow_clients_stopped_after"] = round(time.monotonic() - started, 2)
        thread.join(options.timeout + 5)
    finally:
        sender.close()
    stored = stack.sql(
        "SELECT count(*) FROM marketplace_event WHERE external_id = %s",
        (str(order["id"]),),
    )[0][0]
    seconds = result.get("seconds")
    return {
        "mode": mode,
        "status": result.get("status"),
        "outcome": result.get("outcome"),
        "answer_seconds": None if seconds is None else round(seconds, 3),
        "within_shopify_deadline": bool(
            result.get("status") == 200 and seconds < SHOPIFY_DEADLINE
        ),
        "event_stored": stored == 1,
        **{key: value for key, value in result.items() if key.startswith("slow")},
    }


def wait_until_serving(stack, timeout=60):
    """Until a delivery straight to Odoo is answered: the slow clients'
    connections left in the queue are gone."""
    store = stack.stores["a"]
    sender = WebhookSender(
        store.webhook_url, store.secret, store.sim.shop_domain, workers=1
    )
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            order = store.sim.create_order([("SLOW-1", 1)], notify=False)
            status, _seconds = sender.deliver_once("orders/create", order)
            if status == 200:
                return
            time.sleep(0.5)
    finally:
        sender.close()
    raise TimeoutError("Odoo does not serve webhooks again")


def run(options):
    modes = [mode.strip() for mode in options.modes.split(",") if mode.strip()]
    unknown = set(modes) - {"direct", "proxy"}
    if unknown:
        raise SystemExit(f"unknown mode(s): {', '.join(sorted(unknown))}")
    results = {"options": vars(options), "runs": []}
    with Stack(
        stores=("a",),
        skus=[Sku("SLOW-1", odoo_stock=10000, channel_stock=10000)],
        workers=options.workers,
        channels="root:1,root.marketplace.inbound:1",
        database=options.database,
        odoo_options=["proxy_mode = True"],
    ) as stack:
        gevent = stack.options()["gevent_port"]
        with Nginx(f"127.0.0.1:{stack.port}", f"127.0.0.1:{gevent}") as nginx:
            # requests trusts the proxy's throw-away certificate
            os.environ["REQUESTS_CA_BUNDLE"] = nginx.ca_file
            for mode in modes:
                wait_until_serving(stack)
                run_result = measure(stack, nginx, mode, options)
                results["runs"].append(run_result)
                print(format_run(run_result, options), flush=True)
    return results


def format_run(run_result, options):
    seconds = run_result["answer_seconds"]
    if run_result["outcome"] == "answered":
        answer = f"answered {run_result['status']} after {seconds:.3f} s"
    elif run_result["outcome"] == "timeout":
        answer = f"not answered within {options.timeout:.0f} s"
    else:
        answer = f"failed after {seconds:.3f} s ({run_result['outcome']})"
    verdict = (
        "within" if run_result["within_shopify_deadline"] else "beyond"
    ) + " Shopify's 5 s"
    return (
        f"{run_result['mode']:>6}: {options.clients} slow clients "
        f"({run_result['slow_clients_connected']} connected), "
        f"{options.workers} Odoo workers: a real delivery {answer} ({verdict}); "
        f"event stored: {run_result['event_stored']}"
    )


def main(argv=None):
    options = parse_args(argv)
    results = run(options)
    if options.json:
        with open(options.json, "w") as out:
            json.dump(results, out, indent=2)
    with contextlib.suppress(StopIteration):
        proxied = next(r for r in results["runs"] if r["mode"] == "proxy")
        return 0 if proxied["within_shopify_deadline"] else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
