# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Workers spending one rate budget at the same time, in real transactions.

Every call of every worker reserves its points on the same row. Under
Odoo's REPEATABLE READ, an update that waited for another worker's commit
fails to serialise, and the job that was about to call the channel would be
retried with a backoff: a flash sale's imports stalled on it."""

import threading

from odoo.addons.marketplace_connector.services.rate_budget import RateBudget

from .real_transactions import RealTransactionCase

THREADS = 4
RESERVATIONS = 40


class TestRateBudgetConcurrency(RealTransactionCase):
    def test_concurrent_reservations_never_fail_and_spend_exactly(self):
        with self.real_env() as env:
            backend = self.create_backend(env, "Rate budget race")
        # no refill: what is left is exactly what was not reserved
        maximum = THREADS * RESERVATIONS + 10
        budget_args = (backend.id, maximum, 0.0)
        errors, waits = [], []

        def spend():
            budget = RateBudget(self.env, *budget_args, family="race")
            try:
                for _i in range(RESERVATIONS):
                    waits.append(budget.reserve(1))
            except Exception as err:  # pylint: disable=broad-except
                errors.append(err)

        threads = [threading.Thread(target=spend) for _t in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        self.assertEqual(errors, [])
        self.assertEqual(waits, [0.0] * THREADS * RESERVATIONS)
        with self.real_env() as env:
            env.cr.execute(
                "SELECT available FROM marketplace_rate_budget "
                "WHERE backend_id = %s AND family = 'race'",
                (backend.id,),
            )
            self.assertAlmostEqual(env.cr.fetchone()[0], 10, places=6)
