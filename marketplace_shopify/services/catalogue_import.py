# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Import catalogue: the shop's locations and variants into bindings.

A run reads every variant page (250 variants, 502 points each) within the
backend's shared GraphQL budget, keeping each variant as a
``marketplace.catalogue.variant`` row; once the last page is in, it
matches them all at once (a SKU on two variants can only be told when
both are read) and archives the bindings of variants the shop no longer
has. A job reads pages while the budget lets it wait in place, for at
most :data:`PAGES_PER_JOB` pages, then hands its cursor to the next job
(due when the budget has refilled): no job holds a worker for minutes,
and what was read stays read.
"""

import logging

from odoo import fields

from odoo.addons.marketplace_connector.lib.errors import RateLimitedError

_logger = logging.getLogger(__name__)

#: pages one job reads before it hands over (each up to 30 s of waiting
#: for the budget once the burst is spent)
PAGES_PER_JOB = 10


class CatalogueImporter:
    """One job's share of a run.

    :param backend: the Shopify backend.
    :param run: the run's number (its rows are those it saw).
    """

    def __init__(self, backend, run):
        self.backend = backend
        self.env = backend.env
        self.run_number = run
        self.adapter = backend._get_job_adapter()
        self.gate = self.adapter.rate_gate
        self.calls = 0

    def _call(self, method, *args):
        """Call the adapter (it reserves the points first) and align the
        shared budget with what Shopify reports."""
        before = self.adapter.throttle_status()
        try:
            return method(*args)
        finally:
            self.calls += 1
            status = self.adapter.throttle_status()
            if status and status != before:
                for family, reported in status.items():
                    self.gate.observe(family, *reported)

    def run(self, cursor, first):
        """Read pages from ``cursor``; ``(whether the last page was read,
        summary)``. ``first``: the run's first job (it reads the locations
        too). Otherwise the next job is queued, with the cursor reached."""
        if first:
            self._call(self.backend._propose_channel_locations_from, self.adapter)
        pages = variants = 0
        Variant = self.env["marketplace.catalogue.variant"]
        while pages < PAGES_PER_JOB:
            try:
                page, next_cursor = self._call(self.adapter.read_variant_page, cursor)
            except RateLimitedError as err:
                if not pages and not first:
                    raise
                # what was read is kept: the next job goes on from here
                _logger.info("Catalogue of %s: %s", self.backend.name, err)
                self.backend._enqueue_catalogue_page(
                    self.run_number, cursor, eta=err.retry_after
                )
                return False, f"{variants} variants in {pages} pages; waiting {err}"
            Variant._record(self.backend, page, fields.Datetime.now(), self.run_number)
            pages += 1
            variants += len(page)
            cursor = next_cursor
            if cursor is None:
                return True, f"{variants} variants in {pages} pages"
        self.backend._enqueue_catalogue_page(self.run_number, cursor)
        return False, f"{variants} variants in {pages} pages, more to read"

    def finish(self):
        """Every page is in: match, archive what the shop deleted; the
        summary line shown on the backend."""
        Variant = self.env["marketplace.catalogue.variant"]
        domain = [("backend_id", "=", self.backend.id)]
        gone = Variant.search(
            domain + [("state", "!=", "deleted"), ("seen_run", "<", self.run_number)]
        )
        gone._mark_deleted()
        seen = Variant.search(domain + [("seen_run", "=", self.run_number)])
        Variant._match(self.backend, seen)
        counts = dict.fromkeys(
            ("bound", "no_sku", "unknown_sku", "duplicate_sku", "ambiguous_sku"), 0
        )
        for row in seen:
            counts[row.state] = counts.get(row.state, 0) + 1
        return (
            f"{len(seen)} variants read: {counts['bound']} bound, "
            f"{counts['no_sku']} without SKU, {counts['unknown_sku']} with a SKU "
            f"unknown in Odoo, {counts['duplicate_sku']} sharing a SKU, "
            f"{counts['ambiguous_sku']} whose SKU several products have; "
            f"{len(gone)} deleted on the shop"
        )
