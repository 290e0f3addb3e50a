# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Onboarding a shop over real HTTP against the simulator: Import
catalogue (locations, variants paged, every kind of mismatch, Create and
Link product), variants deleted on the shop, product webhooks, bindings of
the order import getting their inventory item, and webhook registration
(missing and foreign subscriptions, idempotent)."""

import json

from marketplace_sim.shopify import catalogue as sim_catalogue

from odoo.exceptions import UserError

from .common import ShopifyCase, tagged


@tagged("post_install", "-at_install")
class CatalogueCase(ShopifyCase):
    def setUp(self):
        super().setUp()
        self.clear_budget()
        self.Variant = self.env["marketplace.catalogue.variant"]
        self.Binding = self.env["marketplace.product.binding"].with_context(
            active_test=False
        )

    def import_catalogue(self):
        self.backend.action_import_catalogue()
        self.perform_jobs(rounds=10)
        jobs = self.env["queue.job"].search(
            [("method_name", "=", "_job_import_catalogue")], order="id desc", limit=1
        )
        self.assertEqual(
            self.backend.catalogue_import_state, "done", jobs.exc_info or jobs.result
        )

    def row(self, variant):
        return self.Variant.search(
            [
                ("backend_id", "=", self.backend.id),
                ("variant_ref", "=", str(variant["variant_id"])),
            ]
        )

    def binding_of(self, variant):
        return self.Binding.search(
            [
                ("backend_id", "=", self.backend.id),
                ("external_id", "=", str(variant["variant_id"])),
            ]
        )

    def graphql_bodies(self):
        return [
            json.dumps(r["json"] or {})
            for r in self.sim.requests
            if r["path"].endswith("graphql.json")
        ]

    def test_import_binds_and_lists_every_kind_of_mismatch(self):
        variants = self.sim_variants
        # an existing binding (as the order import makes them: no item)
        self.Binding.create(
            {
                "backend_id": self.backend.id,
                "product_id": self.products["TEE-L"].id,
                "external_id": str(variants["TEE-L"]["variant_id"]),
                "sku": "TEE-L",
            }
        )
        second_tee = sim_catalogue.add_variant(self.sim, "TEE-L", title="Tee again")
        sim_catalogue.update_product(self.sim, "CAP-RED", new_sku="", notify=False)
        unknown = self.sim.add_product(sku="NEW-HAT", price="5.00", title="Hat")
        for _copy in range(2):
            self._create_stocked_product("TWIN-1", "3.00", 1)
        twin = self.sim.add_product(sku="TWIN-1", price="3.00", title="Twin")
        self.sim.reset_stats()

        self.import_catalogue()

        mug = self.binding_of(variants["MUG-BLUE"])
        self.assertEqual(mug.product_id, self.products["MUG-BLUE"], "matched by SKU")
        self.assertEqual(
            mug.channel_item_ref, str(variants["MUG-BLUE"]["inventory_item_id"])
        )
        tee = self.binding_of(variants["TEE-L"])
        self.assertEqual(tee.product_id, self.products["TEE-L"], "existing binding")
        self.assertEqual(
            tee.channel_item_ref,
            str(variants["TEE-L"]["inventory_item_id"]),
            "the binding made without inventory item gets it",
        )
        self.assertEqual(self.row(variants["TEE-L"]).state, "bound")
        self.assertEqual(self.row(second_tee).state, "duplicate_sku")
        self.assertFalse(self.binding_of(second_tee))
        self.assertEqual(self.row(variants["CAP-RED"]).state, "no_sku")
        self.assertEqual(self.row(unknown).state, "unknown_sku")
        self.assertEqual(self.row(twin).state, "ambiguous_sku")
        self.assertFalse(self.binding_of(unknown) | self.binding_of(twin))
        self.assertEqual(self.backend.catalogue_mismatch_count, 4)
        self.assertIn("2 bound", self.backend.catalogue_import_summary)
        # the single shop location is mapped to the warehouse's stock
        location = self.backend.channel_location_ids
        self.assertEqual(location.external_id, str(self.sim.location_id))
        self.assertEqual(location.location_id, self.warehouse.lot_stock_id)
        # every call within the budget: no throttled answer
        self.assertEqual(self.sim.stats.get("throttled", 0), 0)
        bodies = self.graphql_bodies()
        self.assertEqual(sum("CatalogueVariants" in b for b in bodies), 1)
        self.assertEqual(sum("CatalogueLocations" in b for b in bodies), 1)

        # Create product: the unknown SKU becomes a product, bound
        self.row(unknown).action_create_product()
        hat = self.binding_of(unknown)
        self.assertEqual(hat.product_id.default_code, "NEW-HAT")
        self.assertEqual(hat.channel_item_ref, str(unknown["inventory_item_id"]))
        # Link product: the variant without SKU to the cap
        cap_row = self.row(variants["CAP-RED"])
        with self.assertRaises(UserError):
            cap_row.action_link_product()
        cap_row.product_id = self.products["CAP-RED"]
        cap_row.action_link_product()
        self.assertEqual(
            self.binding_of(variants["CAP-RED"]).product_id, self.products["CAP-RED"]
        )
        self.assertEqual(self.row(variants["CAP-RED"]).state, "bound")
        self.assertEqual(self.backend.catalogue_mismatch_count, 2)

        # a second import changes nothing it bound, and keeps the links
        self.import_catalogue()
        self.assertEqual(self.row(variants["CAP-RED"]).state, "bound")
        self.assertEqual(
            self.binding_of(variants["CAP-RED"]).product_id, self.products["CAP-RED"]
        )

    def test_pages_follow_the_cursor(self):
        sim_catalogue.add_variants(self.sim, 600, prefix="BULK")
        self.sim.reset_stats()
        self.import_catalogue()
        bodies = self.graphql_bodies()
        self.assertEqual(sum("CatalogueVariants" in b for b in bodies), 3)
        self.assertEqual(
            self.Variant.search_count([("backend_id", "=", self.backend.id)]), 603
        )
        self.assertEqual(self.sim.stats.get("throttled", 0), 0)

    def test_budget_spent_before_the_first_page_goes_on_later(self):
        """The first job spends its budget on the locations: the next job
        reads the pages later; nothing is taken for deleted meanwhile."""
        self.import_catalogue()
        # the shop's bucket nearly full and slow to drain: a page would
        # wait far longer than a job waits in place
        bucket = self.sim.graphql_bucket
        bucket.reconfigure(2000, 1.0)
        self.assertTrue(bucket.try_pour(bucket.available() - 100)[0])
        self.backend.action_import_catalogue()
        self.perform_jobs(rounds=1)
        self.assertEqual(self.backend.catalogue_import_state, "running")
        self.assertFalse(
            self.Variant.search(
                [("backend_id", "=", self.backend.id), ("state", "=", "deleted")]
            )
        )
        self.assertTrue(self.pending_jobs("_job_import_catalogue"))
        bucket.reconfigure(2000, 100.0)
        bucket.try_pour(bucket.available() - 2000)  # emptied
        self.clear_budget()
        self.perform_jobs(rounds=5)
        self.assertEqual(self.backend.catalogue_import_state, "done")
        self.assertEqual(
            self.Variant.search_count(
                [("backend_id", "=", self.backend.id), ("state", "=", "bound")]
            ),
            3,
        )

    def test_variant_deleted_on_the_shop_archives_its_binding(self):
        self.import_catalogue()
        mug = self.binding_of(self.sim_variants["MUG-BLUE"])
        self.assertTrue(mug.active)
        sim_catalogue.delete_product(self.sim, "MUG-BLUE", notify=False)
        self.import_catalogue()
        mug.invalidate_recordset()
        self.assertFalse(mug.active)
        self.assertFalse(mug.channel_item_ref)
        self.assertEqual(self.row(self.sim_variants["MUG-BLUE"]).state, "deleted")
        # an order still naming the deleted variant finds the product
        self.assertEqual(
            self.env["marketplace.product.binding"]._product_id_of_variant(
                self.backend.id, str(self.sim_variants["MUG-BLUE"]["variant_id"])
            ),
            self.products["MUG-BLUE"].id,
        )

    def test_product_webhooks_keep_bindings_current(self):
        self.import_catalogue()
        hat = self.sim.add_product(sku="NEW-HAT", price="5.00", title="Hat")
        self._create_stocked_product("NEW-HAT", "5.00", 4)
        payload = sim_catalogue.product_payload(
            self.sim, self.sim.store.variants_by_sku["NEW-HAT"]
        )
        self.assertEqual(self.deliver("products/update", payload), 200)
        self.assertEqual(self.deliver("products/update", payload), 200, "a redelivery")
        self.assertEqual(len(self.events(topic="products/update")), 1)
        self.perform_jobs()
        self.assertEqual(self.events(topic="products/update").state, "done")
        self.assertEqual(
            self.binding_of(hat).channel_item_ref, str(hat["inventory_item_id"])
        )
        item = self.sim_variants["TEE-L"]["inventory_item_id"]
        status = self.deliver("inventory_items/delete", {"id": item})
        self.assertEqual(status, 200)
        self.perform_jobs()
        tee = self.binding_of(self.sim_variants["TEE-L"])
        self.assertFalse(tee.active)
        self.assertEqual(self.row(self.sim_variants["TEE-L"]).state, "deleted")

    def test_order_import_bindings_get_their_inventory_item(self):
        order = self.sim.create_order(
            [("MUG-BLUE", 1), ("TEE-L", 2)], tax_rate="0", notify=False
        )
        self.assertEqual(self.deliver("orders/create", order), 200)
        self.assertEqual(self.deliver("orders/paid", order), 200)
        self.perform_jobs()
        self.assertEqual(len(self.sale_orders()), 1, self.events().mapped("last_error"))
        for sku in ("MUG-BLUE", "TEE-L"):
            binding = self.binding_of(self.sim_variants[sku])
            self.assertEqual(
                binding.channel_item_ref,
                str(self.sim_variants[sku]["inventory_item_id"]),
                sku,
            )
        lookups = [b for b in self.graphql_bodies() if "LookupVariants" in b]
        self.assertEqual(len(lookups), 1, "both variants in one call")

    def test_register_webhooks_is_idempotent_and_reports(self):
        url = self.backend.webhook_url
        adapter = self.backend._get_adapter()
        report = adapter.subscription_report()
        self.assertEqual(set(report.missing), set(adapter.handled_topics()))
        # a subscription of somebody else's, to another address
        adapter.client.graphql(
            "mutation { webhookSubscriptionCreate(topic: ORDERS_CREATE, "
            'webhookSubscription: {uri: "https://old.example.com/hook"}) '
            "{ userErrors { message } } }"
        )
        self.backend.action_register_webhooks()
        rows = self.sim.subscriptions.rows()
        ours = [r for r in rows if r["uri"] == url]
        self.assertEqual(len(ours), len(adapter.handled_topics()))
        self.assertIn("PRODUCTS_UPDATE", {r["topic"] for r in ours})
        self.backend.action_register_webhooks()
        self.assertEqual(len(self.sim.subscriptions.rows()), len(rows), "idempotent")
        message = adapter.test_connection()
        self.assertIn("old.example.com", message)
        self.assertNotIn("no subscription for", message)

    def test_simulator_refuses_bad_subscriptions(self):
        client = self.backend._get_adapter().client
        mutation = (
            "mutation S($uri: String!) { webhookSubscriptionCreate(topic: "
            "ORDERS_PAID, webhookSubscription: {uri: $uri}) "
            "{ userErrors { message } webhookSubscription { id } } }"
        )
        errors = client.graphql(mutation, {"uri": "http://shop.example.com/x"})
        self.assertIn(
            "not supported",
            errors["webhookSubscriptionCreate"]["userErrors"][0]["message"],
        )
        ok = client.graphql(mutation, {"uri": "http://127.0.0.1:9/x"})
        self.assertFalse(ok["webhookSubscriptionCreate"]["userErrors"])
        again = client.graphql(mutation, {"uri": "http://127.0.0.1:9/x"})
        self.assertIn(
            "already been taken",
            again["webhookSubscriptionCreate"]["userErrors"][0]["message"],
        )
        with self.assertRaises(Exception) as caught:
            client.graphql(
                "mutation { webhookSubscriptionCreate(topic: ORDERS_EXPLODED, "
                'webhookSubscription: {uri: "https://x.example.com"}) '
                "{ userErrors { message } } }"
            )
        self.assertIn("ORDERS_EXPLODED", str(caught.exception))
