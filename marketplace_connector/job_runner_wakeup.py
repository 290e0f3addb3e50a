# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""queue_job's runner looks for dead jobs every few seconds, not every minute.

A job whose worker died (SIGKILLed, or cut off by a PostgreSQL restart)
stays ``enqueued`` or ``started`` and keeps its place in its channel until
the runner re-queues it. The runner does that at the top of its loop, for
jobs enqueued more than 10 seconds ago, and its loop turns on a
notification or, with nothing to notify and no job waiting for its ``eta``,
after ``SELECT_TIMEOUT`` (60 s). After a restart at the end of a sale the
queue is quiet: measured with ``bench/flash-sale --orders 300
--no-ceilings``, no job started for 65 s after PostgreSQL came back, the
two import places and the stock place held by dead jobs. Waking every
``WAKEUP_SECONDS`` costs the runner one ``SELECT 1`` and its dead-job query.

Set in the server's main process (the manifest's ``post_load``), before
Odoo forks the runner's process.
"""

import logging

from odoo.addons.queue_job.jobrunner import runner

_logger = logging.getLogger(__name__)

#: the longest the runner waits without a notification
WAKEUP_SECONDS = 5


def install():
    if runner.SELECT_TIMEOUT > WAKEUP_SECONDS:
        runner.SELECT_TIMEOUT = WAKEUP_SECONDS
        _logger.info("queue_job runner wakes up every %s s at least", WAKEUP_SECONDS)
