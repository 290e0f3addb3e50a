from . import controllers
from . import models
from . import fast_intake, job_runner_wakeup


def post_load():
    """As a server-wide module: webhooks skip Odoo's request dispatch, and
    queue_job's runner looks for dead jobs every few seconds."""
    fast_intake.install()
    job_runner_wakeup.install()
