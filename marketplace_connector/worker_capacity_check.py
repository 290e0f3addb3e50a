# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""At startup, warn when the job runner may take every HTTP worker of this
server (see ``lib/worker_capacity.py``).

Runs in the server's main process (the manifest's ``post_load``). The
runner's capacity, host and port are read by queue_job itself
(``QueueJobRunner.from_environ_or_config``: environment, then the
``[queue_job]`` section), so the check sees what the runner will do.
"""

import logging

import odoo
from odoo.tools import config

from odoo.addons.queue_job.jobrunner import _is_runner_enabled
from odoo.addons.queue_job.jobrunner.runner import QueueJobRunner

from .lib.worker_capacity import jobs_sent_here, webhook_workers_warning

_logger = logging.getLogger(__name__)


def check():
    """:return: the warning logged, or ``None``"""
    if config["stop_after_init"] or not config["workers"] or odoo.evented:
        # an install or upgrade; threads, one per request; or the
        # websocket server that the main process started (it loads the
        # server-wide modules too, and would say it twice)
        return None
    if not _is_runner_enabled():
        return None
    runner = QueueJobRunner.from_environ_or_config()
    if not jobs_sent_here(
        runner.host, runner.port, config["http_interface"], config["http_port"]
    ):
        return None  # the jobs run on another server's workers
    warning = webhook_workers_warning(config["workers"], runner.max_capacity)
    if warning:
        _logger.warning(warning)
    return warning
