# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Whether a server's HTTP workers leave room for webhooks when every job
place is taken.

In multi-worker mode queue_job's runner sends each job as an HTTP request to
an Odoo server, by default this very one, and a running job holds its
worker until it ends (an import of 20 orders: seconds). When the runner may
run as many jobs at once as the server has workers, a flash sale takes every
worker for imports and webhooks wait in the listen queue behind them:
Shopify gives up after 5 s and delivers again, adding load when there is
least room for it. The check runs once, at startup, and only warns.
"""

#: HTTP workers a server should keep for webhooks (and users) while every
#: job place is taken: one is busy with a slow request now and then
WEBHOOK_WORKERS_WANTED = 2

#: hosts that name this machine, as queue_job's ``host`` setting may say it
LOCAL_HOSTS = frozenset({"", "localhost", "127.0.0.1", "::1", "0.0.0.0", "::"})


def jobs_sent_here(runner_host, runner_port, http_interface, http_port):
    """Whether the runner sends its jobs to this server's HTTP port (the
    ports as the configuration gives them: numbers or text)."""
    if str(runner_port).strip() != str(http_port).strip():
        return False
    host = (runner_host or "").strip().lower()
    return host in LOCAL_HOSTS or host == (http_interface or "").strip().lower()


def webhook_workers_warning(http_workers, job_places, wanted=WEBHOOK_WORKERS_WANTED):
    """A warning for the server log, or ``None`` when ``http_workers``
    leave at least ``wanted`` workers free with ``job_places`` jobs running
    on them. ``http_workers`` 0 is Odoo's threaded mode, which starts a
    thread per request: nothing to warn about."""
    if http_workers <= 0 or job_places <= 0:
        return None
    left = http_workers - job_places
    if left >= wanted:
        return None
    return (
        f"Odoo runs {http_workers} HTTP workers and queue_job up to "
        f"{job_places} jobs at a time on them: with every job place taken, "
        f"{max(left, 0)} worker(s) answer webhooks. During a flash sale "
        "webhooks then wait behind imports, and a marketplace that waits too "
        "long delivers again. Set workers to at least "
        f"{job_places + wanted}, lower the root channel's capacity, or run "
        "the jobs on a server of their own (README, Operations: Jobs on a "
        "server of their own)."
    )
