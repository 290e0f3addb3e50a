# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Quantities to Amazon: a few changed SKUs as one ``patchListingsItem``
each, more than the backend's threshold as one ``JSON_LISTINGS_FEED``
whose outcome a later job reads (Amazon is last-write-wins and
asynchronous: the core records the feed as a submission)."""

from .common import AmazonCase, tagged


@tagged("post_install", "-at_install")
class TestStockByPatch(AmazonCase):
    def test_few_changed_skus_are_patched_and_live_after_the_listing_delay(self):
        self.sim.listing_delay = 60
        self.change_stock("MUG-BLUE", -5)
        self.change_stock("TEE-L", -2)
        self.assertTrue(self.pending_jobs("_job_push_stock"), "queued by the change")
        self.perform_jobs("_job_push_stock")

        self.assertEqual(self.calls("patchListingsItem"), 2)
        self.assertEqual(self.calls("createFeed"), 0)
        mug, tee = self.level("MUG-BLUE"), self.level("TEE-L")
        self.assertEqual((mug.state, mug.last_confirmed_quantity), ("synced", 45))
        self.assertEqual((tee.state, tee.last_confirmed_quantity), ("synced", 18))
        self.assertFalse(self.level("CAP-RED"), "unchanged: not written")
        # accepted, not applied yet: Amazon applies a patch minutes later
        self.assertEqual(self.sim.listing_quantity("MUG-BLUE"), self.LISTED_QUANTITY)
        self.sim.clock.advance(61)
        self.assertEqual(self.sim.listing_quantity("MUG-BLUE"), 45)
        self.assertEqual(self.sim.listing_quantity("TEE-L"), 18)
        self.assertEqual(self.sim.listing_quantity("CAP-RED"), self.LISTED_QUANTITY)
        self.assertTrue(self.sim.listing_history("MUG-BLUE")[-1][2].startswith("patch"))

        # an unchanged quantity is not written again
        self.queue_push("MUG-BLUE", "TEE-L")
        self.perform_jobs("_job_push_stock")
        self.assertEqual(self.calls("patchListingsItem"), 2)

    def test_a_sale_lowers_the_quantity_offered(self):
        self.queue_push("CAP-RED")
        self.perform_jobs("_job_push_stock")
        self.assertEqual(self.sim.listing_quantity("CAP-RED"), 10)
        self.create_order([("CAP-RED", 3)])
        # the notification's demand counts before the import: the intake
        # queues the product for the next push (or the safety-net cron's)
        self.pull()
        self.assertEqual(
            self.env["marketplace.stock.dirty"]
            .search([("backend_id", "=", self.backend.id)])
            .product_id,
            self.products["CAP-RED"],
        )
        self.backend._enqueue_stock_push(decrement=True)
        self.perform_jobs("_job_push_stock")
        self.assertEqual(self.sim.listing_quantity("CAP-RED"), 7)
        # imported: the reservation takes over, nothing new to write
        self.perform_jobs("_job_process")
        patches = self.calls("patchListingsItem")
        self.queue_push("CAP-RED")
        self.perform_jobs("_job_push_stock")
        self.assertEqual(self.level("CAP-RED").ats_quantity, 7)
        self.assertEqual(self.calls("patchListingsItem"), patches)

    def drift_in_seller_central(self):
        """Pushed, then changed in Seller Central: a little more than we can
        sell, and far less (a wrong count, or a mapping to look at)."""
        self.queue_push()
        self.perform_jobs("_job_push_stock")
        self.assertEqual(self.sim.listing_quantity("TEE-L"), 20)
        now = self.sim.clock()
        self.sim.catalog.set_quantity("TEE-L", 23, now, "seller-central")
        self.sim.catalog.set_quantity("CAP-RED", 0, now, "seller-central")
        self.backend._enqueue_reconcile()
        self.perform_jobs("_job_reconcile_stock")

    def test_reconciliation_reads_every_listing_and_corrects_small_drift(self):
        self.drift_in_seller_central()
        self.assertGreaterEqual(self.calls("searchListingsItems"), 1)
        self.assertEqual(
            self.job("_job_reconcile_stock").result,
            "3 checked, 1 in sync, 1 corrected, 1 escalated",
        )
        self.assertEqual(self.level("TEE-L").state, "drift")
        self.assertEqual(self.sim.listing_quantity("TEE-L"), 20, "lowered at once")
        cap = self.level("CAP-RED")
        self.assertEqual(cap.state, "escalated")
        self.assertEqual(cap.last_error, "Channel shows 0, available to sell is 10")
        self.assertEqual(self.sim.listing_quantity("CAP-RED"), 0, "left to a person")
        self.assertTrue(self.backend.activity_ids, "the responsible is told")
        self.assertEqual(self.level("MUG-BLUE").state, "synced")

    def test_reconciliation_counts_the_drift_of_levels_created_by_a_push(self):
        self.drift_in_seller_central()
        self.assertEqual(self.level("TEE-L").drift_count, 1)
        self.assertEqual(self.level("CAP-RED").drift_count, 1)


@tagged("post_install", "-at_install")
class TestStockByFeed(AmazonCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.backend.amazon_patch_threshold = 2

    def feed_due(self):
        """Time for Amazon to take the feed in and process it."""
        self.sim.clock.advance(
            self.sim.feeds.queue_delay + self.sim.feeds.processing_delay + 1
        )

    def submission(self):
        return self.env["marketplace.stock.submission"].search(
            [("backend_id", "=", self.backend.id)]
        )

    def test_more_skus_than_the_threshold_go_as_one_feed(self):
        self.queue_push()
        self.perform_jobs("_job_push_stock")
        self.assertEqual(self.calls("createFeed"), 1)
        self.assertEqual(self.calls("patchListingsItem"), 0)
        submission = self.submission()
        self.assertEqual(len(submission), 1)
        self.assertEqual(submission.state, "processing")
        self.assertEqual(submission.write_count, 3)
        self.assertIn(submission.reference, self.sim.feeds.feeds)
        levels = self.level("MUG-BLUE") | self.level("TEE-L") | self.level("CAP-RED")
        self.assertEqual(set(levels.mapped("state")), {"pending"})
        self.assertEqual(levels.submission_id, submission)

        # Amazon is still at it: the check comes back later, spending no retry
        self.perform_jobs("_job_check", rounds=2)
        check = self.job("_job_check")
        self.assertEqual((check.state, check.retry), ("pending", 0))
        self.assertEqual(submission.state, "processing")
        self.assertEqual(self.sim.listing_quantity("MUG-BLUE"), self.LISTED_QUANTITY)

        self.feed_due()
        self.perform_jobs("_job_check")
        self.assertEqual(submission.state, "done")
        self.assertEqual((submission.applied_count, submission.error_count), (3, 0))
        self.assertEqual(set(levels.mapped("state")), {"synced"})
        self.assertFalse(levels.submission_id)
        for sku, on_hand, _price in self.CATALOGUE:
            self.assertEqual(self.level(sku).last_confirmed_quantity, on_hand)
            self.assertEqual(self.sim.listing_quantity(sku), on_hand)
            self.assertTrue(self.sim.listing_history(sku)[-1][2].startswith("feed"))
        # the check queues its products again: nothing changed, nothing sent
        self.perform_jobs("_job_push_stock")
        self.assertEqual(self.calls("createFeed"), 1)
        self.assertEqual(self.calls("patchListingsItem"), 0)

    def test_an_unknown_sku_in_a_feed_shows_amazons_message_on_its_level(self):
        self.products["LAMP-XL"] = self._create_bound_product("LAMP-XL", 4, "89.00")
        self.queue_push()
        self.perform_jobs("_job_push_stock")
        submission = self.submission()
        self.assertEqual(submission.write_count, 4)
        self.feed_due()
        self.perform_jobs("_job_check")
        self.assertEqual(submission.state, "done")
        self.assertEqual((submission.applied_count, submission.error_count), (3, 1))
        report = self.sim.feed_report(submission.reference)
        [issue] = report["issues"]
        self.assertEqual(issue["sku"], "LAMP-XL")
        lamp = self.level("LAMP-XL")
        self.assertEqual(lamp.state, "error")
        self.assertEqual(lamp.last_error, f"SKU LAMP-XL: {issue['message']}")
        self.assertEqual(self.level("MUG-BLUE").state, "synced")
        self.assertEqual(self.sim.listing_quantity("MUG-BLUE"), 50)
