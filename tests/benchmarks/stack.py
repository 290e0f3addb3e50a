"""A production-like deployment on this machine, for benchmarks.

Odoo in multi-worker mode with queue_job's runner (``server_wide_modules =
web,queue_job``), PostgreSQL, and simulated Shopify stores (in this process)
sharing one catalogue. Everything binds to 127.0.0.1.

Usage::

    with Stack(stores=("a", "b"), skus=catalogue) as stack:
        stack.stores["a"].sim.create_order(...)   # webhooks flow to Odoo
        stack.wait_until_drained()
        stack.sql("SELECT count(*) FROM sale_order")

The database is rebuilt for each run from the cached template (see
``tools/build_database.py``); the Odoo server's log is in ``var/``.

Beyond the basics, the failure benchmark (``flash_sale.py``) uses: the Odoo
processes by kind (:meth:`Stack.odoo_processes`, needs ``setproctitle`` to
tell an HTTP worker from the cron worker or the job runner), killing one
(:meth:`Stack.kill_worker`), pausing the job runner, restarting PostgreSQL
(:meth:`Stack.restart_postgres`), an in-process ORM environment
(:meth:`Stack.env`) and a custom webhook sender class per store.
"""

import configparser
import contextlib
import dataclasses
import os
import secrets
import signal
import socket
import subprocess
import sys
import time

import psutil
import psycopg2
import requests

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(REPO_ROOT, "tests"))

from marketplace_sim.shopify import ShopifySimulator, WebhookSender  # noqa: E402

VAR_DIR = os.environ.get("MARKETPLACE_VAR_DIR", os.path.join(REPO_ROOT, "var"))
MODULES = "marketplace_connector,marketplace_shopify,marketplace_amazon"
ODOO_SERVER = os.path.join(REPO_ROOT, "tools", "odoo_server.py")
#: queue_job channel capacities of the Odoo under test: two imports at a
#: time, as the README advises: on 2 cores a third one mostly finds the stock
#: of its orders locked by the other two (measured: 15.4 orders/s with 3,
#: 18-19.5 with 2, 15.5 with 1); one job at a time pulls Amazon's queue
CHANNELS = (
    "root:4,root.marketplace.inbound:2,root.marketplace.stock:1,"
    "root.marketplace.poll:1,root.marketplace.pull:1"
)
#: a queue consumer's job is always there (it queues the next one as it
#: ends): it is not work waiting, and a drained stack still has one
PULL_METHOD = "_job_pull_events"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def parse_odoo_config(config, database):
    """Odoo's configuration for this process, again for each run: loading a
    registry takes ``load_language`` out of the options, and a second
    ``parse_config`` in the same process (two sales in one test module)
    then fails on the missing key."""
    import odoo

    odoo.tools.config.options.setdefault("load_language", None)
    odoo.tools.config.parse_config(["-c", config, "-d", database])


@dataclasses.dataclass
class Store:
    """One simulated shop and its backend in Odoo."""

    name: str
    sim: ShopifySimulator
    backend_id: int = 0
    webhook_url: str = ""
    secret: str = ""
    variants: dict = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Sku:
    code: str
    price: str = "10.00"
    odoo_stock: int = 100
    channel_stock: int = 100


class Stack:
    """Build, start and stop the deployment.

    :param stores: names of the simulated shops (one backend each).
    :param skus: the shared catalogue (list of :class:`Sku`).
    :param workers: Odoo HTTP workers.
    :param channels: queue_job channel capacities.
    :param plan: the simulated shops' Shopify plan (rate limits).
    :param backend_values: extra values for every backend (e.g. stock
        settings).
    :param odoo_options: extra ``key = value`` lines for ``[options]``.
    :param cron_threads: ``max_cron_threads`` (0: no cron runs).
    :param server_wide_modules: with ``marketplace_connector`` the webhook
        intake bypasses Odoo's request dispatch (``fast_intake.py``).
    :param setup: ``setup(env, stack)`` called at the end of the ORM set-up,
        before Odoo starts (e.g. cron intervals, system parameters).
    :param sender_class: the webhook sender each store delivers with (a
        :class:`WebhookSender` subclass may record what it sends).
    :param webhook_options: keyword arguments of the sender
        (``time_scale``, ``duplicate_rate``, ``drop_rate``...).
    :param job_workers: more than 0: queue jobs run on an Odoo server of
        their own (same database, same code) with this many HTTP workers;
        the job runner sends them there, and the first server's workers
        serve webhooks and the UI only. 0: one server does everything.
    :param job_nice: the jobs server's niceness. Under Linux, a process at
        nice 10 gets about a tenth of the CPU that one at 0 gets when both
        want it: jobs take what webhooks leave.
    """

    def __init__(
        self,
        stores=("a", "b"),
        skus=(),
        workers=2,
        channels=CHANNELS,
        plan="standard",
        database="marketplace_bench",
        backend_values=None,
        odoo_options=(),
        cron_threads=0,
        server_wide_modules="web,queue_job,marketplace_connector",
        setup=None,
        sender_class=WebhookSender,
        webhook_options=None,
        job_workers=0,
        job_nice=10,
    ):
        self.store_names = stores
        self.skus = list(skus)
        self.workers = workers
        self.channels = channels
        self.plan = plan
        self.database = database
        self.backend_values = backend_values or {}
        self.odoo_options = list(odoo_options)
        self.cron_threads = cron_threads
        self.server_wide_modules = server_wide_modules
        self.setup = setup
        self.sender_class = sender_class
        self.webhook_options = {"time_scale": 0.01, **(webhook_options or {})}
        self.job_workers = job_workers
        self.job_nice = job_nice
        self.registry = None
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.config = os.path.join(VAR_DIR, f"odoo-{database}.conf")
        self.log = os.path.join(VAR_DIR, f"odoo-{database}.log")
        self.job_port = free_port() if job_workers else self.port
        self.job_config = os.path.join(VAR_DIR, f"odoo-{database}-jobs.conf")
        self.job_log = os.path.join(VAR_DIR, f"odoo-{database}-jobs.log")
        self.stores = {}
        self.process = None
        self.job_process = None
        self.product_ids = {}
        #: more ``busy() -> bool`` checks of :meth:`wait_until_drained` (a
        #: channel with messages still on its queue, say)
        self.busy_checks = []

    # Life cycle

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *_exc):
        self.stop()

    def start(self):
        os.makedirs(VAR_DIR, exist_ok=True)
        self._write_config()
        subprocess.run(
            [
                sys.executable,
                os.path.join(REPO_ROOT, "tools", "build_database.py"),
                "--config",
                self.config,
                "--database",
                self.database,
                "--modules",
                MODULES,
            ],
            check=True,
        )
        for name in self.store_names:
            sim = ShopifySimulator(
                shop_domain=f"bench-{name}.myshopify.com",
                access_token=f"shpat_bench_{name}",
                plan=self.plan,
                seed=hash(name) % 1000,
            )
            sim.visible_days = None
            sim.start()
            store = Store(name=name, sim=sim, secret=secrets.token_hex(16))
            for sku in self.skus:
                store.variants[sku.code] = sim.add_product(
                    sku=sku.code, price=sku.price, inventory=sku.channel_stock
                )
            self.stores[name] = store
        self._configure_odoo()
        self._start_odoo()
        for store in self.stores.values():
            store.sim.webhooks = self.sender_class(
                store.webhook_url,
                store.secret,
                store.sim.shop_domain,
                **self.webhook_options,
            )

    def stop(self):
        for store in self.stores.values():
            sender, store.sim.webhooks = store.sim.webhooks, None
            if sender is not None:
                sender.close()
            store.sim.stop()
        if self.process and self.process.poll() is None:
            self.resume_job_runner()
        for process in (self.process, self.job_process):
            if process and process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    process.kill()

    # Set-up

    def _write_config(self):
        self._write_config_file(
            self.config,
            self.port,
            self.workers,
            self.cron_threads,
            self.log,
            # the job runner, sending jobs to the jobs server if there is one
            [f"channels = {self.channels}", f"port = {self.job_port}"],
        )
        if self.job_workers:
            self._write_config_file(
                self.job_config,
                self.job_port,
                self.job_workers,
                0,
                self.job_log,
                ["channels = root:0"],  # no job runner of its own
            )

    def _write_config_file(self, path, port, workers, cron_threads, log, queue_job):
        env_sh = os.path.join(REPO_ROOT, "tools", "odoo_env.sh")
        lines = [
            f"http_port = {port}",
            "http_interface = 127.0.0.1",
            f"gevent_port = {free_port()}",
            f"workers = {workers}",
            f"max_cron_threads = {cron_threads}",
            f"server_wide_modules = {self.server_wide_modules}",
            f"logfile = {log}",
            "log_level = warn",
            "limit_time_real = 600",
            "limit_time_cpu = 300",
            "limit_memory_soft = 4294967296",
            "limit_memory_hard = 6442450944",
            "db_maxconn = 32",
            *self.odoo_options,
            "",
            "[queue_job]",
            "scheme = http",
            "host = 127.0.0.1",
            *queue_job,
        ]
        quoted = " ".join(f"'{line}'" for line in lines)
        subprocess.run(
            [
                "bash",
                "-c",
                f"source '{env_sh}' && write_odoo_config '{path}' "
                f"'{self.database}' {quoted}",
            ],
            check=True,
        )

    def options(self):
        parser = configparser.ConfigParser()
        parser.read(self.config)
        return dict(parser["options"])

    def _configure_odoo(self):
        """Catalogue, stock and one backend per store, through the ORM."""
        import odoo
        from odoo import SUPERUSER_ID, api

        parse_odoo_config(self.config, self.database)
        registry = self.registry = odoo.modules.registry.Registry(self.database)
        with registry.cursor() as cr:
            env = api.Environment(cr, SUPERUSER_ID, {"tracking_disable": True})
            env["ir.config_parameter"].set_param("web.base.url", self.url)
            warehouse = env["stock.warehouse"].search([], limit=1)
            usd = env.ref("base.USD")
            pricelist = env["product.pricelist"].search(
                [("currency_id", "=", usd.id)], limit=1
            ) or env["product.pricelist"].create({"name": "USD", "currency_id": usd.id})
            products = env["product.product"].create(
                [
                    {
                        "name": sku.code,
                        "default_code": sku.code,
                        "list_price": float(sku.price),
                        "type": "consu",
                        "is_storable": True,
                        "taxes_id": [(5, 0, 0)],
                    }
                    for sku in self.skus
                ]
            )
            for sku, product in zip(self.skus, products, strict=True):
                self.product_ids[sku.code] = product.id
                if sku.odoo_stock:
                    env["stock.quant"]._update_available_quantity(
                        product, warehouse.lot_stock_id, sku.odoo_stock
                    )
            for store in self.stores.values():
                backend = env["marketplace.backend"].create(
                    {
                        "name": f"Store {store.name}",
                        "marketplace_type": "shopify",
                        "api_url": store.sim.url,
                        "shop_domain": store.sim.shop_domain,
                        "api_version": "2026-10",
                        "access_token": store.sim.access_token,
                        "webhook_secret": store.secret,
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
                                    "name": "Primary",
                                    "external_id": str(store.sim.location_id),
                                    "location_id": warehouse.lot_stock_id.id,
                                },
                            )
                        ],
                        **self.backend_values,
                    }
                )
                env["marketplace.product.binding"].create(
                    [
                        {
                            "backend_id": backend.id,
                            "product_id": self.product_ids[code],
                            "external_id": str(variant["variant_id"]),
                            "sku": code,
                            "channel_item_ref": str(variant["inventory_item_id"]),
                        }
                        for code, variant in store.variants.items()
                    ]
                )
                store.backend_id = backend.id
                store.webhook_url = backend.webhook_url
            if self.setup is not None:
                self.setup(env, self)
            # committing queues the initial pushes of every binding: the
            # channels start aligned with Odoo once the queue has drained

    def _start_odoo(self):
        if self.job_workers:
            self.job_process = self._start_server(
                self.job_config, self.job_log, ["nice", "-n", str(self.job_nice)]
            )
        self.process = self._start_server(self.config, self.log)
        for process, port, log in (
            (self.job_process, self.job_port, self.job_log),
            (self.process, self.port, self.log),
        ):
            if process is not None:
                self._wait_for(process, port, log)

    def _start_server(self, config, log, prefix=()):
        with open(log + ".stdout", "w") as stdout:
            return subprocess.Popen(
                [
                    *prefix,
                    sys.executable,
                    ODOO_SERVER,
                    "-c",
                    config,
                    "-d",
                    self.database,
                ],
                stdout=stdout,
                stderr=subprocess.STDOUT,
                cwd=REPO_ROOT,
            )

    @staticmethod
    def _wait_for(process, port, log):
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"Odoo exited at start, see {log}")
            with contextlib.suppress(requests.RequestException):
                url = f"http://127.0.0.1:{port}/web/health"
                if requests.get(url, timeout=2).ok:
                    return
            time.sleep(0.5)
        raise RuntimeError(f"Odoo did not answer within 120 s, see {log}")

    # Observation

    def connect(self):
        options = self.options()
        return psycopg2.connect(
            dbname=self.database,
            host=options["db_host"],
            port=options["db_port"],
            user=options["db_user"],
        )

    def sql(self, query, params=None):
        with contextlib.closing(self.connect()) as conn, conn.cursor() as cr:
            cr.execute(query, params)
            rows = cr.fetchall() if cr.description else []
            conn.commit()
            return rows

    def queue_depth(self):
        """Jobs waiting or running, the queue consumers' pulls left out."""
        return self.sql(
            "SELECT count(*) FROM queue_job WHERE state IN "
            "('pending', 'enqueued', 'started', 'wait_dependencies') "
            "AND method_name != %s",
            (PULL_METHOD,),
        )[0][0]

    def wait_until_drained(self, timeout=600, settle=2.0, busy=None):
        """Until no job waits and nothing is left to push, ``settle``
        seconds in a row. Returns the seconds waited.

        :param busy: an extra ``busy() -> bool`` condition (e.g. a poll or a
            reconciliation still to see). While PostgreSQL does not answer
            the stack counts as busy.
        """
        started = time.monotonic()
        quiet_since = None
        while time.monotonic() - started < timeout:
            try:
                pending = (
                    self.queue_depth()
                    + self.sql("SELECT count(*) FROM marketplace_stock_dirty")[0][0]
                )
            except psycopg2.OperationalError:
                pending = 1  # restarting: not drained
            senders_busy = any(
                store.sim.webhooks and store.sim.webhooks.stats.get("pending")
                for store in self.stores.values()
            )
            checks = [*self.busy_checks, *([busy] if busy is not None else [])]
            if pending or senders_busy or any(check() for check in checks):
                quiet_since = None
            elif quiet_since is None:
                quiet_since = time.monotonic()
            elif time.monotonic() - quiet_since >= settle:
                return time.monotonic() - started
            time.sleep(0.25)
        raise TimeoutError(f"queues not drained after {timeout} s")

    # Control

    @contextlib.contextmanager
    def env(self):
        """An ORM environment (superuser) in this process, committed on
        exit; cache invalidations are signalled to the Odoo workers. Pooled
        connections a PostgreSQL restart left dead are dropped first."""
        import odoo
        from odoo import SUPERUSER_ID, api

        odoo.sql_db.close_db(self.database)
        registry = self.registry or odoo.modules.registry.Registry(self.database)
        with registry.cursor() as cr:
            yield api.Environment(cr, SUPERUSER_ID, {})
        registry.signal_changes()
        registry.reset_changes()

    def set_param(self, key, value):
        """Set a system parameter; every worker sees it at its next request."""
        with self.env() as env:
            env["ir.config_parameter"].set_param(key, value)

    def server_pids(self):
        """The main processes of the Odoo servers of this stack."""
        return {
            process.pid
            for process in (self.process, self.job_process)
            if process is not None
        }

    def worker_pids(self):
        """Every process the Odoo servers of this stack forked."""
        pids = set()
        for pid in self.server_pids():
            with contextlib.suppress(psutil.Error):
                pids |= {child.pid for child in psutil.Process(pid).children()}
        return pids

    def odoo_processes(self):
        """The Odoo servers' processes by kind: ``main``, ``http`` (request
        workers, which also run the queue jobs unless a jobs server does),
        ``jobs`` (the jobs server's request workers), ``cron``,
        ``jobrunner``, ``gevent`` and ``other`` (kind unknown: without
        ``setproctitle`` every forked worker shows the main command line)."""
        kinds = {
            "main": [],
            "http": [],
            "jobs": [],
            "cron": [],
            "jobrunner": [],
            "gevent": [],
            "other": [],
        }
        for process, http_kind in ((self.process, "http"), (self.job_process, "jobs")):
            if not process or process.poll() is not None:
                continue
            try:
                main = psutil.Process(process.pid)
                kinds["main"].append(main)
                children = main.children()
            except psutil.NoSuchProcess:
                continue
            titles = {
                "WorkerHTTP": http_kind,
                "WorkerCron": "cron",
                "WorkerJobRunner": "jobrunner",
            }
            for child in children:
                try:
                    cmdline = " ".join(child.cmdline())
                except psutil.Error:
                    continue
                kind = "other"
                for title, name in titles.items():
                    if cmdline.startswith(f"odoo: {title} "):
                        kind = name
                if kind == "other" and " gevent" in cmdline:
                    kind = "gevent"
                kinds[kind].append(child)
        return kinds

    def kill_worker(self, pid=None):
        """SIGKILL one HTTP worker (``pid``, or any: one of the jobs server
        if there is one); return its pid. The Odoo main process spawns a
        replacement."""
        kinds = self.odoo_processes()
        workers = [proc.pid for proc in kinds["http"] + kinds["jobs"] + kinds["other"]]
        if pid not in workers:
            candidates = kinds["jobs"] or kinds["http"]
            if not candidates:
                raise RuntimeError(
                    "no Odoo HTTP worker to kill (install setproctitle to tell "
                    "one from the other workers)"
                )
            pid = candidates[0].pid
        os.kill(pid, signal.SIGKILL)
        return pid

    def pause_job_runner(self):
        """SIGSTOP queue_job's runner process: jobs wait (for a measure of
        the intake alone); :meth:`resume_job_runner` lets them go."""
        for proc in self.odoo_processes()["jobrunner"]:
            proc.send_signal(signal.SIGSTOP)

    def resume_job_runner(self):
        for proc in self.odoo_processes()["jobrunner"]:
            with contextlib.suppress(psutil.Error):
                proc.send_signal(signal.SIGCONT)

    def restart_postgres(self):
        """Restart the PostgreSQL server this stack uses (fast shutdown:
        every session on it, of every database, is cut). Debian's
        ``pg_ctlcluster`` by default; ``MARKETPLACE_PG_RESTART`` may hold
        another command. Returns the seconds until it answers again."""
        started = time.monotonic()
        command = os.environ.get("MARKETPLACE_PG_RESTART")
        if command:
            subprocess.run(command, shell=True, check=True)
        else:
            subprocess.run(self._pg_restart_command(), check=True)
        options = self.options()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(psycopg2.OperationalError):
                self.sql("SELECT 1")
                return time.monotonic() - started
            time.sleep(0.1)
        raise RuntimeError(f"PostgreSQL on port {options['db_port']} did not come back")

    def _pg_restart_command(self):
        port = self.options()["db_port"]
        listing = subprocess.run(
            ["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=True
        ).stdout
        for line in listing.splitlines():
            version, cluster, cluster_port = line.split()[:3]
            if cluster_port == str(port):
                # the default mode is fast: sessions are cut, not waited for
                return [
                    "pg_ctlcluster",
                    "--skip-systemctl-redirect",
                    version,
                    cluster,
                    "restart",
                ]
        raise RuntimeError(
            f"no PostgreSQL cluster on port {port} in pg_lsclusters: set "
            f"MARKETPLACE_PG_RESTART to the command that restarts it"
        )
