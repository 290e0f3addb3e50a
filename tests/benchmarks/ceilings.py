"""The two ceilings our webhook intake lives under (issue 4, item 6), and the
intake itself at its maximum rate, on the same server configuration.

* :func:`bare_loop` -- no HTTP, no Odoo: HMAC-SHA256 check of the raw body,
  JSON parse, ``INSERT ... ON CONFLICT DO NOTHING`` and ``COMMIT`` into a
  scratch table of the same PostgreSQL database, one process per connection
  (1 and 4), real order payloads of the run.
* :func:`http_floor` -- ``GET /web/health`` (``auth='none'``, no session
  cookie) on the same Odoo and workers, under ``wrk`` when it is installed and
  under this module's threaded Python client (the client the intake is
  measured with, so that ratio compares like with like).
* :func:`processing_floor` -- the ceiling of order *processing*: Odoo's own
  ``sale.order.create`` + ``action_confirm`` (sale_stock's procurement and
  reservation included) for copies of orders the run imported, same
  customers, products, prices and taxes, with the import's context flags, no
  connector code; each order in its own transaction, rolled back so the run's
  stock is untouched; in 1 and 2 processes (one per core), each with its own
  registry; also with several orders per transaction, created and confirmed
  together.
* :func:`intake_max_rate` -- signed ``orders/updated`` deliveries POSTed as
  fast as the same Python client goes, each a *new* event (an older state of
  an order of the run: stored with its job, later ignored by the import), for
  a fixed time, with the job runner paused so queue jobs do not compete with
  the intake for the two cores; it is resumed afterwards.

Every client opens one connection per request: Odoo's workers speak
HTTP/1.0 and close after each answer.
"""

import base64
import concurrent.futures
import datetime
import hashlib
import hmac
import http.client
import json
import multiprocessing
import os
import re
import shutil
import subprocess
import tempfile
import threading
import time
import urllib.parse
import uuid

import psycopg2

SCRATCH_TABLE = "bench_bare_inbox"
WRK_THREADS = 2
WRK_DELIVERIES_SCRIPT = os.path.join(os.path.dirname(__file__), "wrk_deliveries.lua")
#: deliveries prepared per second of a wrk measure of the intake: well above
#: what it stores here (the bare loop, without HTTP, ~1,500/s on one
#: connection), so that each is sent once
WRK_DELIVERIES_PER_SECOND = 1000


def _sign(body, secret):
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def _percentile(values, fraction):
    if not values:
        return None
    ordered = sorted(values)
    index = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[index]


def _in_processes(context, count, target, args, spare_seconds):
    """Run ``target(*args, queue)`` in ``count`` processes at once; the sum
    of what they put on the queue."""
    queue = context.Queue()
    processes = [
        context.Process(target=target, args=(*args, queue)) for _index in range(count)
    ]
    for process in processes:
        process.start()
    seconds = args[-1]
    total = sum(queue.get(timeout=seconds + spare_seconds) for _p in processes)
    for process in processes:
        process.join()
    return total


# (a) the bare loop


def _bare_worker(dsn, bodies, secret, seconds, queue):
    conn = psycopg2.connect(**dsn)
    count = 0
    prefix = f"{os.getpid()}:{uuid.uuid4().hex[:8]}"
    try:
        with conn.cursor() as cr:
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                body, signature = bodies[count % len(bodies)]
                received = base64.b64decode(signature)
                expected = hmac.new(secret.encode(), body, hashlib.sha256).digest()
                if not hmac.compare_digest(expected, received):
                    raise RuntimeError("bad signature in the bare loop")
                payload = json.loads(body)
                cr.execute(
                    f"INSERT INTO {SCRATCH_TABLE} (dedupe_key, external_id, payload) "
                    "VALUES (%s, %s, %s) ON CONFLICT (dedupe_key) DO NOTHING",
                    (f"{prefix}:{count}", str(payload.get("id")), body.decode()),
                )
                conn.commit()
                count += 1
    finally:
        conn.close()
    queue.put(count)


def bare_loop(stack, payloads, secret, connections=(1, 4), seconds=4.0):
    """Deliveries per second through the bare loop, per connection count.

    :return: ``{"1": rate, "4": rate}``
    """
    options = stack.options()
    dsn = {
        "dbname": stack.database,
        "host": options["db_host"],
        "port": options["db_port"],
        "user": options["db_user"],
    }
    bodies = []
    for payload in payloads:
        body = json.dumps(payload, separators=(",", ":")).encode()
        bodies.append((body, _sign(body, secret)))
    # the table name is a constant of this module
    stack.sql(
        f"CREATE TABLE IF NOT EXISTS {SCRATCH_TABLE} (id bigserial PRIMARY KEY, "
        "dedupe_key varchar NOT NULL UNIQUE, external_id varchar, payload jsonb, "
        "received_at timestamp DEFAULT (now() at time zone 'UTC'))"
    )
    context = multiprocessing.get_context("fork")
    result = {}
    try:
        for count in connections:
            total = _in_processes(
                context, count, _bare_worker, (dsn, bodies, secret, seconds), 60
            )
            result[str(count)] = round(total / seconds, 1)
    finally:
        stack.sql(f"DROP TABLE IF EXISTS {SCRATCH_TABLE}")
    return result


# (c) the processing floor


def _floor_worker(config, database, order_ids, seconds, batch, queue):
    import odoo
    from odoo import SUPERUSER_ID, Command, api

    odoo.tools.config.options.setdefault("load_language", None)
    odoo.tools.config.parse_config(["-c", config, "-d", database])
    registry = odoo.modules.registry.Registry(database)
    context = {
        "tracking_disable": True,
        "mail_create_nolog": True,
        "mail_create_nosubscribe": True,
    }

    def copy_of(order):
        return {
            "partner_id": order.partner_id.id,
            "partner_invoice_id": order.partner_invoice_id.id,
            "partner_shipping_id": order.partner_shipping_id.id,
            "pricelist_id": order.pricelist_id.id,
            "warehouse_id": order.warehouse_id.id,
            "client_order_ref": order.client_order_ref,
            "order_line": [
                Command.create(
                    {
                        "product_id": line.product_id.id,
                        "name": line.name,
                        "product_uom_qty": line.product_uom_qty,
                        "price_unit": line.price_unit,
                        "tax_id": [Command.set(line.tax_id.ids)],
                    }
                )
                for line in order.order_line
            ],
        }

    def one(index):
        """``batch`` orders from ``index`` created, then confirmed together,
        in one transaction."""
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, context)
            orders = env["sale.order"].browse(
                [order_ids[(index + k) % len(order_ids)] for k in range(batch)]
            )
            sales = env["sale.order"].create([copy_of(o) for o in orders])
            sales.action_confirm()
            env.flush_all()
            cr.rollback()

    for index in range(3):  # warm the caches, as a running worker has them
        one(index * batch)
    count, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        one(count)
        count += batch
    queue.put(count)


def processing_floor(stack, order_ids, processes=(1, 2), seconds=10.0, batch=1):
    """Orders per second Odoo itself creates and confirms, per process count;
    ``batch`` orders per transaction, created in one ``create`` and confirmed
    in one ``action_confirm`` (what importing several orders per job could
    gain at most from Odoo's batching).

    :return: ``{"1": rate, "2": rate}``
    """
    context = multiprocessing.get_context("spawn")
    result = {}
    for count in processes:
        args = (stack.config, stack.database, order_ids, seconds, batch)
        total = _in_processes(context, count, _floor_worker, args, 300)
        result[str(count)] = round(total / seconds, 1)
    return result


# The load generator


def _load(url, connections, seconds, request):
    """``connections`` threads, each sending ``request(index)`` -> ``(method,
    path, body, headers)`` one after the other on a new connection each time.

    :return: ``(latencies in s of answered requests, {status: count},
        errors, elapsed seconds)``
    """
    parts = urllib.parse.urlsplit(url)
    host, port = parts.hostname, parts.port
    latencies, statuses, errors = [], {}, [0]
    lock = threading.Lock()
    counter = iter(range(10**9))
    deadline = time.monotonic() + seconds

    def worker():
        while time.monotonic() < deadline:
            with lock:
                index = next(counter)
            method, path, body, headers = request(index)
            started = time.monotonic()
            try:
                conn = http.client.HTTPConnection(host, port, timeout=30)
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
                conn.close()
            except (OSError, http.client.HTTPException):
                with lock:
                    errors[0] += 1
                continue
            elapsed = time.monotonic() - started
            with lock:
                latencies.append(elapsed)
                statuses[status] = statuses.get(status, 0) + 1

    threads = [threading.Thread(target=worker) for _index in range(connections)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, statuses, errors[0], time.monotonic() - started


def _load_summary(latencies, statuses, errors, elapsed, ok=lambda s: 200 <= s < 300):
    good = sum(count for status, count in statuses.items() if ok(status))
    return {
        "requests_per_s": round(good / elapsed, 1),
        "p50_ms": round(_percentile(latencies, 0.5) * 1000, 1) if latencies else None,
        "p99_ms": round(_percentile(latencies, 0.99) * 1000, 1) if latencies else None,
        "statuses": {str(k): v for k, v in sorted(statuses.items())},
        "errors": errors,
    }


# (b) Odoo's HTTP floor


def _wrk(url, connections, seconds, script=None, script_args=()):
    """``wrk`` on ``url`` (with a Lua ``script`` and its arguments, if any);
    None when wrk is not installed."""
    if not shutil.which("wrk"):
        return None
    command = [
        "wrk",
        f"-t{WRK_THREADS}",
        f"-c{connections}",
        f"-d{int(seconds)}s",
        "--latency",
        "--timeout",
        "10s",
    ]
    if script:
        command += ["-s", script, url, "--", *script_args]
    else:
        command.append(url)
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout

    def latency(label):
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
        if not match:
            return None
        value, unit = float(match.group(1)), match.group(2)
        return round(value * {"us": 0.001, "ms": 1, "s": 1000}[unit], 1)

    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
        output,
    )
    return {
        "requests_per_s": float(rate.group(1)) if rate else None,
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": sum(map(int, socket_errors.groups())) if socket_errors else 0,
        "client": f"wrk -t{WRK_THREADS} -c{connections} -d{int(seconds)}s",
    }


def http_floor(url, connections, seconds=10.0):
    """``GET`` on a trivial route: wrk (if installed) and the Python client."""
    path = urllib.parse.urlsplit(url).path
    result = {"url": url, "wrk": _wrk(url, connections, seconds)}
    python = _load_summary(
        *_load(url, connections, seconds, lambda _i: ("GET", path, None, {}))
    )
    python["client"] = f"Python threads x{connections}, http.client"
    result["python"] = python
    return result


# The intake at its maximum rate


def _older_state(payload, seconds):
    """The same order, ``seconds`` older: a state the import will ignore."""
    older = dict(payload)
    moment = datetime.datetime.fromisoformat(payload["updated_at"])
    older["updated_at"] = (moment - datetime.timedelta(seconds=seconds)).isoformat()
    return older


def _paced(url, rate, seconds, request):
    """``rate`` requests per second for ``seconds``, each on its own
    connection; a latency is counted from the request's *scheduled* time, so
    a server that falls behind is not hidden by a client that waits for it.

    :return: like :func:`_load`
    """
    parts = urllib.parse.urlsplit(url)
    latencies, statuses, errors = [], {}, [0]
    lock = threading.Lock()

    def send(index, scheduled):
        method, path, body, headers = request(index)
        try:
            conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
            conn.close()
        except (OSError, http.client.HTTPException):
            with lock:
                errors[0] += 1
            return
        with lock:
            latencies.append(time.monotonic() - scheduled)
            statuses[response.status] = statuses.get(response.status, 0) + 1

    started = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(max_workers=64) as pool:
        for index in range(int(rate * seconds)):
            scheduled = started + index / rate
            delay = scheduled - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(send, index, scheduled)
    return latencies, statuses, errors[0], time.monotonic() - started


def _delivery_maker(store, payloads, offset=0):
    """``request(index)``: a signed ``orders/updated`` delivery of an older
    state of one of ``payloads`` (a new event each time)."""
    path = urllib.parse.urlsplit(store.webhook_url).path
    shop = store.sim.shop_domain

    def request(index):
        index += offset
        payload = payloads[index % len(payloads)]
        body = json.dumps(
            _older_state(payload, 1 + index // len(payloads)), separators=(",", ":")
        ).encode()
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": "orders/updated",
            "X-Shopify-Hmac-Sha256": _sign(body, store.secret),
            "X-Shopify-Shop-Domain": shop,
            "X-Shopify-API-Version": "2026-10",
            "X-Shopify-Webhook-Id": str(uuid.uuid4()),
            "X-Shopify-Event-Id": str(uuid.uuid4()),
            "X-Shopify-Triggered-At": datetime.datetime.now(datetime.UTC).isoformat(),
        }
        return "POST", path, body, headers

    return request


def intake_max_rate(stack, store, payloads, connections, seconds=10.0):
    """Signed new deliveries to the webhook URL as fast as they are taken."""
    request = _delivery_maker(store, payloads)
    events_before = stack.sql("SELECT count(*) FROM marketplace_event")[0][0]
    stack.pause_job_runner()
    try:
        summary = _load_summary(*_load(stack.url, connections, seconds, request))
    finally:
        stack.resume_job_runner()
    summary["events_stored"] = (
        stack.sql("SELECT count(*) FROM marketplace_event")[0][0] - events_before
    )
    summary["client"] = f"Python threads x{connections}, http.client"
    summary["job_runner"] = "paused during the measure"
    return summary


def intake_wrk(stack, store, payloads, connections, seconds=10.0):
    """Signed new deliveries as fast as ``wrk`` sends them, with the job
    runner paused: the intake measured with the client of the floor's
    ``wrk`` figure, so that ratio compares like with like (the Python
    client spends a good part of the two cores on itself). The deliveries
    are built and signed beforehand (``wrk_deliveries.lua`` sends each
    once); None when wrk is not installed."""
    if not shutil.which("wrk"):
        return None
    request = _delivery_maker(store, payloads, offset=2 * 10**6)
    prepared = int(seconds * WRK_DELIVERIES_PER_SECOND)
    with tempfile.NamedTemporaryFile("w", suffix=".tsv") as deliveries:
        for index in range(prepared):
            _method, _path, body, headers = request(index)
            # the very headers the Python client sends (no value holds a
            # tab; the compact JSON body escapes its own)
            fields = [f"{name}: {value}" for name, value in headers.items()]
            deliveries.write("\t".join([*fields, body.decode()]) + "\n")
        deliveries.flush()
        events_before = stack.sql("SELECT count(*) FROM marketplace_event")[0][0]
        stack.pause_job_runner()
        try:
            summary = _wrk(
                store.webhook_url,
                connections,
                seconds,
                script=WRK_DELIVERIES_SCRIPT,
                script_args=(deliveries.name, str(WRK_THREADS)),
            )
        finally:
            stack.resume_job_runner()
    stored = stack.sql("SELECT count(*) FROM marketplace_event")[0][0] - events_before
    summary["events_stored"] = stored
    summary["stored_per_s"] = round(stored / seconds, 1)
    summary["deliveries_prepared"] = prepared
    summary["job_runner"] = "paused during the measure"
    return summary


def intake_paced(stack, store, payloads, rate=50.0, seconds=20.0):
    """Signed new deliveries at a steady ``rate`` with the job runner paused:
    the intake's own latency at the target rate, without imports competing
    for the cores."""
    request = _delivery_maker(store, payloads, offset=10**6)
    stack.pause_job_runner()
    try:
        summary = _load_summary(*_paced(stack.url, rate, seconds, request))
    finally:
        stack.resume_job_runner()
    summary["rate"] = rate
    summary["job_runner"] = "paused during the measure"
    return summary
