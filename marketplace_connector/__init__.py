from . import controllers
from . import models
from . import fast_intake, job_runner_wakeup, worker_capacity_check
from . import metrics_endpoint


def post_load():
    """As a server-wide module: webhooks skip Odoo's request dispatch,
    queue_job's runner looks for dead jobs every few seconds, and the log
    says so when jobs may take every HTTP worker."""
    fast_intake.install()
    metrics_endpoint.install()
    job_runner_wakeup.install()
    worker_capacity_check.check()
