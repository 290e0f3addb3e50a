# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Onboarding a Shopify shop: *Import catalogue* (locations proposed for
mapping, variants bound to products, mismatches listed), *Register
webhooks*, and the catalogue kept current afterwards (product webhooks,
inventory items of bindings the order import creates)."""

import datetime

from odoo import _, fields, models
from odoo.exceptions import UserError

from odoo.addons.marketplace_connector.lib.errors import MarketplaceError
from odoo.addons.marketplace_connector.services.job_errors import retry_later
from odoo.addons.queue_job.job import identity_exact

from ..lib import catalogue
from ..lib.mapping_catalogue import ITEM_DELETE_TOPIC, RESOURCE_CATALOGUE
from ..services.catalogue_import import CatalogueImporter


class MarketplaceBackend(models.Model):
    _inherit = "marketplace.backend"

    catalogue_run = fields.Integer(
        string="Catalogue Imports",
        readonly=True,
        copy=False,
        help="Catalogue imports started so far; the jobs of an older one stop.",
    )
    catalogue_import_state = fields.Selection(
        [("running", "Running"), ("done", "Done")],
        readonly=True,
        copy=False,
    )
    catalogue_import_summary = fields.Char(readonly=True, copy=False)
    catalogue_mismatch_count = fields.Integer(compute="_compute_catalogue_counts")

    def _compute_catalogue_counts(self):
        groups = self.env["marketplace.catalogue.variant"]._read_group(
            [
                ("backend_id", "in", self.ids),
                ("state", "not in", ("bound", "deleted")),
            ],
            ["backend_id"],
            ["__count"],
        )
        counts = {backend.id: count for backend, count in groups}
        for backend in self:
            backend.catalogue_mismatch_count = counts.get(backend.id, 0)

    def _get_adapter_settings(self):
        settings = super()._get_adapter_settings()
        if self.marketplace_type == "shopify":
            settings["webhook_url"] = self.webhook_url
        return settings

    # Actions

    def action_import_catalogue(self):
        """Queue a catalogue import (one run per backend at a time)."""
        for backend in self:
            if backend.marketplace_type != "shopify":
                raise UserError(_("Import catalogue is for Shopify backends."))
            run = backend.catalogue_run + 1
            backend.write(
                {
                    "catalogue_run": run,
                    "catalogue_import_state": "running",
                    "catalogue_import_summary": _("Queued"),
                }
            )
            backend._enqueue_catalogue_page(run, None, first=True)
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {
                "message": _(
                    "The catalogue import was queued: the backend shows its "
                    "result, and Catalogue Mismatches what did not match."
                ),
                "type": "info",
            },
        }

    def action_register_webhooks(self):
        """Subscribe the webhook URL to every topic we handle; existing
        subscriptions to it are left alone."""
        self.ensure_one()
        try:
            created, report = self._get_adapter().register_webhooks()
        except MarketplaceError as err:
            raise UserError(
                _(
                    "Registering the webhooks of %(name)s failed: %(error)s",
                    name=self.name,
                    error=err,
                )
            ) from err
        message = (
            _("Subscribed %(topics)s.", topics=", ".join(created))
            if created
            else _("Every topic was subscribed already.")
        )
        if report.foreign:
            message += " " + _(
                "Subscriptions to another address remain (delete them in the "
                "shop's app if they are not yours): %(foreign)s.",
                foreign=", ".join(f"{t} -> {u}" for t, u in report.foreign),
            )
        return {
            "type": "ir.actions.client",
            "tag": "display_notification",
            "params": {"message": message, "type": "success"},
        }

    def action_view_catalogue_mismatches(self):
        self.ensure_one()
        action = self.env["ir.actions.act_window"]._for_xml_id(
            "marketplace_shopify.action_marketplace_catalogue_variant"
        )
        action["domain"] = [("backend_id", "=", self.id)]
        action["context"] = {"search_default_mismatch": 1}
        return action

    # Jobs

    def _enqueue_catalogue_page(self, run, cursor, first=False, eta=None):
        self.ensure_one()
        self.with_delay(
            priority=30,
            eta=datetime.timedelta(seconds=eta) if eta else None,
            identity_key=identity_exact,
            description=f"Import catalogue of {self.name}",
        )._job_import_catalogue(run, cursor, first)

    def _job_import_catalogue(self, run, cursor, first=False):
        """One job of catalogue import ``run``: pages from ``cursor`` on;
        the last one matches the whole catalogue. A job of an older run
        stops."""
        self.ensure_one()
        if self.catalogue_run != run:
            return "A newer catalogue import replaced this one"
        importer = CatalogueImporter(self, run)
        with retry_later():
            finished, summary = importer.run(cursor, first)
        if not finished:
            self.catalogue_import_summary = summary
            return summary
        summary = importer.finish()
        self.write(
            {"catalogue_import_state": "done", "catalogue_import_summary": summary}
        )
        return summary

    def _job_fill_inventory_items(self):
        """The inventory items of bindings created without one, looked up
        100 variants a call; a variant the shop no longer has archives its
        binding. More than a call's worth: another job follows."""
        self.ensure_one()
        bindings = self.env["marketplace.product.binding"].search(
            [("backend_id", "=", self.id), ("channel_item_ref", "=", False)],
            limit=catalogue.LOOKUP_SIZE,
            order="id",
        )
        if not bindings:
            return "no binding without inventory item"
        adapter = self._get_job_adapter()
        with retry_later():
            found = adapter.lookup_variants(bindings.mapped("external_id"))
        filled = gone = 0
        for binding in bindings:
            variant = found.get(binding.external_id)
            if variant is None:
                binding._archive_deleted_on_channel()
                gone += 1
            elif variant.inventory_item_id:
                binding.channel_item_ref = variant.inventory_item_id
                filled += 1
        if filled:
            self.env["marketplace.stock.dirty"]._mark(
                bindings.filtered("channel_item_ref").product_id.ids, False
            )
        if len(bindings) == catalogue.LOOKUP_SIZE:
            self.with_delay(
                priority=20, description=f"Inventory items of {self.name}"
            )._job_fill_inventory_items()
        return f"{filled} inventory items filled, {gone} variants gone from the shop"

    # Locations

    def _propose_channel_locations_from(self, adapter):
        """The shop's active locations as channel locations: mapped to the
        warehouse's stock when the shop has one location and the backend
        none yet (the common single-location shop), else proposed --
        archived, to be mapped and activated under Stock."""
        self.ensure_one()
        shop_locations = [loc for loc in adapter.read_locations() if loc.active]
        Location = self.env["marketplace.channel.location"].with_context(
            active_test=False
        )
        known = set(
            Location.search([("backend_id", "=", self.id)]).mapped("external_id")
        )
        stock = (
            self.warehouse_id.lot_stock_id
            or self.env["stock.warehouse"]
            .search([("company_id", "=", self.company_id.id)], limit=1)
            .lot_stock_id
        )
        new = [loc for loc in shop_locations if loc.location_id not in known]
        if not new or not stock:
            return
        map_now = not known and len(shop_locations) == 1
        Location.create(
            [
                {
                    "backend_id": self.id,
                    "name": loc.name,
                    "external_id": loc.location_id,
                    "location_id": stock.id,
                    "active": map_now,
                }
                for loc in new
            ]
        )

    # Catalogue webhooks

    def _process_channel_event(self, event):
        if event.resource_type != RESOURCE_CATALOGUE:
            return super()._process_channel_event(event)
        Variant = self.env["marketplace.catalogue.variant"]
        payload = event.sudo().payload
        if event.topic == ITEM_DELETE_TOPIC:
            item = str(payload.get("id"))
            bindings = self.env["marketplace.product.binding"].search(
                [("backend_id", "=", self.id), ("channel_item_ref", "=", item)]
            )
            rows = Variant.search(
                [("backend_id", "=", self.id), ("inventory_item_ref", "=", item)]
            )
            bindings._archive_deleted_on_channel()
            rows.write({"state": "deleted"})
            return (
                "done",
                f"Inventory item {item} deleted: {len(bindings)} binding(s) archived",
                None,
            )
        variants = catalogue.product_variants(payload)
        rows = Variant._record(
            self, variants, fields.Datetime.now(), self.catalogue_run
        )
        Variant._match(self, rows)
        return (
            "done",
            f"Product {event.external_id}: "
            + ", ".join(f"{row.sku or row.variant_ref} {row.state}" for row in rows),
            None,
        )
