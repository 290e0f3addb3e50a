# License AGPL-3.0 or later (https://www.gnu.org/licenses/agpl).
"""Applies a channel-neutral :class:`~..lib.order.Order` to Odoo.

Idempotent and insensitive to delivery order:

* one job at a time per external order (a transaction-level advisory lock;
  a second job for the same order retries shortly);
* the binding remembers the newest ``updated_at`` applied: an older state is
  ignored, the same state twice is ignored;
* create, update, paid and cancelled all land on the one sale order bound to
  the external order (``UNIQUE(backend_id, external_id)``).

Prices and taxes are the channel's: unit prices as sold, each channel tax
booked with the Odoo tax its backend maps it to (:mod:`.order_taxes`),
discounts and shipping as lines. The resulting total is checked against the
channel's ``total_price`` at the currency's own precision; a difference of a
few units of it (per-line versus global rounding) is booked on a visible
rounding line, a larger one fails the import with the figures.
"""

import contextlib
import logging
import time
from collections import namedtuple
from decimal import Decimal

import psycopg2

from odoo import Command, fields
from odoo.tools import email_normalize

from ..lib.errors import DataError, RetryableError, UnknownProductError
from ..lib.pricing import (
    exact_discount_percent,
    lines_signature,
    rounding_tolerance,
)
from .order_invoicing import enqueue_invoicing
from .order_taxes import OrderTaxes
from .stock_ledger import StockLedger

_logger = logging.getLogger(__name__)

#: a new order ready to be created: its binding and its sale order's values
PreparedOrder = namedtuple("PreparedOrder", ["order", "binding", "vals"])

SIMULATED_LATENCY_PARAMETER = "marketplace_connector.simulated_import_latency_ms"


class OrderImporter:
    def __init__(self, backend):
        self.backend = backend
        self.env = (
            backend.with_context(
                tracking_disable=True,
                mail_create_nolog=True,
                mail_create_nosubscribe=True,
            )
            .with_company(backend.company_id)
            .env
        )
        self.company = backend.company_id
        self.taxes = OrderTaxes(backend, self.env)
        self._product_cache = {}
        self._region_cache = {}
        self._adapter = None
        # one ledger for the import: it remembers the products it locked
        self.ledger = StockLedger(backend)
        self._latency = (
            int(
                self.env["ir.config_parameter"]
                .sudo()
                .get_param(SIMULATED_LATENCY_PARAMETER, 0)
            )
            / 1000
        )

    # Entry point

    def apply(self, order):
        """:return: ``(state, message, sale_order)``"""
        self._lock(order.external_id)
        binding = self._find_binding(order)
        creates = not binding.order_id and self.is_importable(order)
        if not creates:
            self._simulate_latency()  # a new order's, once its stock is locked
        if binding.external_updated_at:
            if order.updated_at < binding.external_updated_at:
                return (
                    "ignored",
                    f"Older than the state applied ({binding.external_updated_at} UTC)",
                    binding.order_id or None,
                )
            if (
                order.updated_at == binding.external_updated_at
                and order.digest == binding.state_digest
            ):
                return ("ignored", "This state was already applied", binding.order_id)
        if creates:
            return self.import_new([self._prepare_new(order, binding)])[0]
        if self._takes_stock(binding, order):
            self._lock_stock(order)
        if binding.order_id:
            message = self._update(binding, order)
            state = "done"
        else:
            binding = binding or self._new_binding(order)
            state, message = self._hold_back(binding, order)
        self._record_applied(binding, order)
        return state, message, binding.order_id or None

    # Several new orders at once

    def is_new_import(self, order):
        """Whether applying ``order`` creates its sale order: never seen
        before and importable. Such orders can be imported several in one
        transaction: :meth:`prepare_new` for each, then :meth:`import_new`."""
        return self.is_importable(order) and not self._find_binding(order)

    def prepare_new(self, order):
        """Take a new order's lock and its products' locks, bind it and build
        its sale order's values -- everything but the sale order. Raises as
        :meth:`apply` does (another job importing it, its stock held
        elsewhere, unknown products, bad data)."""
        self._lock(order.external_id)
        binding = self._find_binding(order)
        if binding.order_id:
            # imported in this very transaction: never a second sale order
            raise RetryableError(
                f"Order {order.external_id} was imported meanwhile", retry_after=1
            )
        return self._prepare_new(order, binding)

    def _prepare_new(self, order, binding):
        if self.backend.auto_confirm:
            self._lock_stock(order)
        self._simulate_latency()
        return PreparedOrder(
            order, binding or self._new_binding(order), self._sale_order_vals(order)
        )

    def import_new(self, prepared):
        """Create the sale orders of ``prepared`` (:class:`PreparedOrder`) in
        one ``create``, take their stock on the ledger in that order and
        confirm them in one ``action_confirm``: Odoo creates and confirms
        orders about twice as fast in batches.

        :return: ``[(state, message, sale_order)]`` in the same order
        """
        sales = self.env["sale.order"].create([item.vals for item in prepared])
        # the fiscal position must not remap the channel's taxes
        sales.fiscal_position_id = False
        pairs = list(zip(prepared, sales, strict=True))
        for item, sale in pairs:
            self._book_rounding(sale, item.order)
            item.binding.order_id = sale
            self._set_sync(item.binding, "synced", f"Imported as {sale.name}")
        if self.backend.auto_confirm:
            self._confirm_all(
                [(item.binding, sale, item.order) for item, sale in pairs]
            )
        for item in prepared:
            self._record_applied(item.binding, item.order)
        return [("done", f"Created {sale.name}", sale) for sale in sales]

    @contextlib.contextmanager
    def savepoint(self, writes=True):
        """A savepoint that also forgets what this importer learned inside
        it when it is rolled back: products it locked (the rollback releases
        the locks), taxes and product bindings it created.

        ``writes=False`` for a step that only reads records and takes locks
        (raw SQL): what is pending is flushed first, and a rollback keeps
        the ORM's cache, which a savepoint for writes clears -- everything
        read so far in the transaction would be read again."""
        locked = set(self.ledger._locked)
        taxes, products = dict(self.taxes.cache), dict(self._product_cache)
        if not writes:
            self.env.flush_all()
        try:
            with self.env.cr.savepoint(flush=writes):
                yield
        except BaseException:
            self.ledger._locked = locked
            self.taxes.cache, self._product_cache = taxes, products
            raise

    def _simulate_latency(self):
        """Benchmarks slow each order's import down on purpose (system
        parameter ``marketplace_connector.simulated_import_latency_ms``,
        default 0: off), to show what a slow Odoo does to the queues. The
        time is spent where a slow Odoo spends it: building the order, its
        order's lock (and a new order's stock locks) held, as every import
        holds them while it works; an order taken along by a batch is slow
        in the same place."""
        if self._latency > 0:
            time.sleep(self._latency)

    def _record_applied(self, binding, order):
        binding.write(
            {
                "external_updated_at": order.updated_at,
                "state_digest": order.digest,
                "external_name": order.name,
                "financial_status": order.financial_status,
                "marketplace": order.marketplace,
                "lines_signature": lines_signature(order),
                "payment_gateway": order.payment_gateway or False,
            }
        )
        enqueue_invoicing(binding, order)

    def _lock(self, external_id):
        self.env.cr.execute(
            "SELECT pg_try_advisory_xact_lock(%s, hashtext(%s))",
            (self.backend.id, f"order:{external_id}"),
        )
        if not self.env.cr.fetchone()[0]:
            raise RetryableError(
                f"Another job is importing order {external_id}", retry_after=2
            )

    def is_importable(self, order):
        """Whether this state of an order not imported yet creates its sale
        order: the adapter decides (its channel's statuses, the backend's
        policy); a cancelled order never does."""
        return not order.is_cancelled and self.adapter.importable(order)

    @property
    def adapter(self):
        """The backend's adapter, built once per import."""
        if self._adapter is None:
            self._adapter = self.backend._get_adapter()
        return self._adapter

    def _takes_stock(self, binding, order):
        """Whether applying this state confirms the sale order (reserves)."""
        if not self.backend.auto_confirm or not self.is_importable(order):
            return False
        return not binding.order_id or binding.order_id.state in ("draft", "sent")

    def lock_known_stock(self, order):
        """Lock the stock of a new order's products that are bound already,
        without waiting and without binding any (a read-only step: see
        :meth:`savepoint`). Raises ``LockNotAvailable`` when another import
        holds one: a batch checks this first, before anything that would be
        thrown away."""
        self._lock_stock(order, bind=False)

    def _lock_stock(self, order, bind=True):
        """Take the lock rows of the order's products first, before any work
        that a lost race would waste: held by another import, they make this
        job retry at once instead of waiting (and then failing to serialise
        after building the whole sale order). ``bind=False``: only the
        products found without creating a product binding."""
        products = self.env["product.product"].browse(
            {
                product.id
                for product in (self._product(line, bind) for line in order.lines)
                if product
            }
        )
        self.ledger.lock_products(products.filtered("is_storable").ids, nowait=True)

    def _find_binding(self, order):
        return self.env["marketplace.order.binding"].search(
            [
                ("backend_id", "=", self.backend.id),
                ("external_id", "=", order.external_id),
            ],
            limit=1,
        )

    def _new_binding(self, order):
        """Bind an order that ``_find_binding`` found unbound, under its
        lock. Its company is given, not recomputed: one UPDATE less for
        every order."""
        return self._create_unique(
            "marketplace.order.binding",
            {
                "backend_id": self.backend.id,
                "company_id": self.company.id,
                "external_id": order.external_id,
                "external_name": order.name,
            },
        )

    def _create_unique(self, model, vals):
        """Create a binding; a concurrent job that created it first makes
        this job retry (it will then find the binding)."""
        try:
            with self.env.cr.savepoint():
                return self.env[model].create(vals)
        except psycopg2.errors.UniqueViolation as err:
            raise RetryableError(
                f"{model} {vals.get('external_id')} was created concurrently",
                retry_after=1,
            ) from err

    # Creation

    def _hold_back(self, binding, order):
        """An order not imported (yet): cancelled, or not paid as the
        backend's policy wants."""
        if order.is_cancelled:
            self._set_sync(binding, "pending", "Cancelled before import")
            return "ignored", "Cancelled before it was imported"
        message = (
            f"Not imported while its status is "
            f"'{order.financial_status}' (channel and backend policy)"
        )
        self._set_sync(binding, "pending", message)
        if self.adapter.unpaid_orders_hold_stock:
            # the channel keeps its units for it: they keep counting
            return "waiting", message + "; its units stay held"
        return "ignored", message

    def _confirm(self, binding, sale, order):
        self._confirm_all([(binding, sale, order)])

    def _confirm_all(self, items):
        """Take the stock of ``items`` (``(binding, sale, order)``) on the
        ledger, in that order and under their products' locks, flag
        shortfalls, then confirm: Odoo reserves in the same transaction."""
        own = [item for item in items if not item[2].fulfilled_by_channel]
        shortfalls = self.ledger.apply_sales(
            [(sale, order.external_id) for _binding, sale, order in own]
        )
        for binding, sale, order in own:
            if shortfalls[sale.id]:
                self._flag_oversold(binding, sale, order, shortfalls[sale.id])
        self.env["sale.order"].union(*(sale for _b, sale, _o in own)).action_confirm()
        by_channel = [sale for _b, sale, order in items if order.fulfilled_by_channel]
        if by_channel:
            # shipped by the channel from its own stock: booked, but no
            # delivery, no reservation and no ledger entry of ours
            self.env["sale.order"].union(*by_channel).with_context(
                skip_procurement=True
            ).action_confirm()

    def _flag_oversold(self, binding, sale, order, shortfalls):
        details = ", ".join(
            f"{product.default_code or product.display_name} short by {qty:g}"
            for product, qty in shortfalls
        )
        message = (
            f"Oversold: {details}. Restock, substitute or cancel {order.name} "
            f"on the marketplace."
        )
        sale.marketplace_oversold = True
        self._set_sync(binding, "attention", message)
        self._schedule_review(sale, message, summary="Marketplace order oversold")

    def _sale_order_vals(self, order):
        pricelist = self._pricelist(order.currency)
        self._check_price_precision(pricelist.currency_id)
        partner = self._partner(order)
        shipping_partner = self._shipping_partner(partner, order)
        vals = {
            "partner_id": partner.id,
            "partner_invoice_id": partner.id,
            "partner_shipping_id": shipping_partner.id,
            "pricelist_id": pricelist.id,
            "company_id": self.company.id,
            "warehouse_id": self.backend.warehouse_id.id,
            "client_order_ref": order.name,
            "origin": f"{self.backend.name} {order.name}",
            "date_order": order.created_at,
            "order_line": self._all_line_commands(order),
            "marketplace_fulfilled_by_channel": order.fulfilled_by_channel,
        }
        if self.backend.team_id:
            vals["team_id"] = self.backend.team_id.id
        if order.note:
            vals["note"] = order.note
        return vals

    def _pricelist(self, currency_code):
        currency = (
            self.env["res.currency"]
            .with_context(active_test=False)
            .search([("name", "=", currency_code)], limit=1)
        )
        if not currency:
            raise DataError(f"Unknown currency '{currency_code}'.")
        if not currency.active:
            raise DataError(
                f"Currency {currency_code} is not active: activate it in "
                f"Accounting > Configuration > Currencies, then Retry."
            )
        if self.backend.pricelist_id.currency_id == currency:
            return self.backend.pricelist_id
        pricelist = self.env["product.pricelist"].search(
            [
                ("currency_id", "=", currency.id),
                ("company_id", "in", (self.company.id, False)),
            ],
            limit=1,
        )
        if not pricelist:
            raise DataError(
                f"No pricelist in {currency_code} for {self.company.name}: create "
                f"one (Sales > Products > Pricelists), then Retry."
            )
        return pricelist

    # Partners

    def _partner(self, order):
        customer = order.customer
        partner = self.env["res.partner"]
        if customer.external_id:
            partner = (
                self.env["marketplace.partner.binding"]
                .search(
                    [
                        ("backend_id", "=", self.backend.id),
                        ("external_id", "=", customer.external_id),
                    ],
                    limit=1,
                )
                .partner_id
            )
        bound = bool(partner)
        email = email_normalize(customer.email) if customer.email else False
        if not partner and email:
            partner = self.env["res.partner"].search(
                [
                    ("email_normalized", "=", email),
                    ("parent_id", "=", False),
                    ("company_id", "in", (self.company.id, False)),
                ],
                limit=1,
            )
        if not partner:
            address = (
                order.billing_address
                if not order.billing_address.is_empty()
                else order.shipping_address
            )
            name = (
                customer.name
                or address.name
                or customer.email
                or f"{self.backend.name} customer {customer.external_id}"
            )
            partner = self.env["res.partner"].create(
                dict(
                    self._address_vals(address),
                    name=name,
                    email=customer.email or False,
                    phone=customer.phone or address.phone or False,
                )
            )
        if customer.external_id and not bound:
            self._create_unique(
                "marketplace.partner.binding",
                {
                    "backend_id": self.backend.id,
                    "external_id": customer.external_id,
                    "partner_id": partner.id,
                },
            )
        return partner

    def _shipping_partner(self, partner, order):
        address = order.shipping_address
        if address.is_empty():
            return partner
        vals = self._address_vals(address)
        name = address.name or partner.name
        if self._has_address(partner, vals):
            return partner
        domain = [("parent_id", "=", partner.id), ("type", "=", "delivery")]
        domain += [(key, "=", value) for key, value in vals.items()]
        existing = self.env["res.partner"].search(
            domain + [("name", "=", name)], limit=1
        )
        if existing:
            return existing
        return self.env["res.partner"].create(
            dict(vals, name=name, parent_id=partner.id, type="delivery")
        )

    @staticmethod
    def _has_address(partner, vals):
        for key, value in vals.items():
            current = partner[key]
            if partner._fields[key].type == "many2one":
                current = current.id
            if (current or False) != (value or False):
                return False
        return True

    def _address_vals(self, address):
        country_id, state_id = self._region(address.country_code, address.state_code)
        return {
            "street": address.street or False,
            "street2": address.street2 or False,
            "city": address.city or False,
            "zip": address.zip or False,
            "country_id": country_id,
            "state_id": state_id,
        }

    def _region(self, country_code, state_code):
        """``(country id, state id)`` of the codes, ``False`` where unknown;
        looked up once per import (a batch's orders mostly share them)."""
        key = (country_code, state_code)
        if key not in self._region_cache:
            country = self.env["res.country"]
            state = self.env["res.country.state"]
            if country_code:
                country = country.search([("code", "=", country_code.upper())], limit=1)
            if country and state_code:
                state = state.search(
                    [("country_id", "=", country.id), ("code", "=", state_code)],
                    limit=1,
                )
            self._region_cache[key] = (country.id, state.id)
        return self._region_cache[key]

    # Lines

    def _product(self, line, bind=True):
        """The line's product; ``bind=False``: ``None`` instead of binding
        a product found by its SKU, or of raising for an unknown one."""
        key = (line.variant_id, line.sku)
        if key in self._product_cache:
            return self._product_cache[key]
        product = self.env["product.product"]
        if line.variant_id:
            product = product.browse(
                self.env["marketplace.product.binding"]._product_id_of_variant(
                    self.backend.id, line.variant_id
                )
            )
        if not product and line.sku:
            product = self.env["product.product"].search(
                [
                    ("default_code", "=", line.sku),
                    ("company_id", "in", (self.company.id, False)),
                ],
                limit=2,
            )
            if len(product) > 1:
                raise DataError(
                    f"SKU '{line.sku}' matches several products "
                    f"({', '.join(product.mapped('display_name'))}): make Internal "
                    f"References unique or add a product binding, then Retry."
                )
            if product and line.variant_id:
                if not bind:
                    return None
                self._create_unique(
                    "marketplace.product.binding",
                    {
                        "backend_id": self.backend.id,
                        "product_id": product.id,
                        "external_id": line.variant_id,
                        "sku": line.sku,
                    },
                )
        if not product:
            if not bind:
                return None
            raise UnknownProductError(line.sku, line.variant_id, line.title)
        self._product_cache[key] = product
        return product

    def _product_line_commands(self, line, order):
        product = self._product(line)
        taxes = self.taxes.of(line.taxes, order)
        vals = {
            "product_id": product.id,
            "name": line.title or product.display_name,
            "product_uom_qty": float(line.quantity),
            "price_unit": float(line.price_unit),
            "tax_id": [Command.set(taxes.ids)],
            "marketplace_line_id": line.external_id,
        }
        discount_command = None
        if line.discount_amount:
            percent = exact_discount_percent(
                line.price_unit * line.quantity,
                line.discount_amount,
                self._decimals(order),
            )
            if percent is not None:
                vals["discount"] = float(percent)
            else:
                discount_command = self._discount_command(
                    f"Discount on {line.title}", line.discount_amount, taxes
                )
        return [Command.create(vals)] + ([discount_command] if discount_command else [])

    def _shipping_line_commands(self, shipping, order):
        taxes = self.taxes.of(shipping.taxes, order)
        product = self.env.ref("marketplace_connector.product_marketplace_shipping")
        commands = [
            Command.create(
                {
                    "product_id": product.id,
                    "name": shipping.title or product.name,
                    "product_uom_qty": 1.0,
                    "price_unit": float(shipping.price),
                    "tax_id": [Command.set(taxes.ids)],
                }
            )
        ]
        if shipping.discount_amount:
            commands.append(
                self._discount_command(
                    f"Discount on {shipping.title}", shipping.discount_amount, taxes
                )
            )
        return commands

    def _discount_command(self, name, amount, taxes):
        product = self.env.ref("marketplace_connector.product_marketplace_discount")
        return Command.create(
            {
                "product_id": product.id,
                "name": name,
                "product_uom_qty": 1.0,
                "price_unit": -float(amount),
                "tax_id": [Command.set(taxes.ids)],
            }
        )

    def _check_price_precision(self, currency):
        """Unit prices are kept at the *Product Price* precision: one below
        the currency's (2 for dinars with 3) would round every price."""
        digits = self.env["decimal.precision"].precision_get("Product Price")
        if digits < currency.decimal_places:
            raise DataError(
                f"{currency.name} has {currency.decimal_places} decimals but "
                f"Odoo keeps prices with {digits}: set the decimal accuracy "
                f"'Product Price' to {currency.decimal_places} (Settings > "
                f"Technical > Decimal Accuracy), then Retry."
            )

    def _decimals(self, order):
        """The decimal places of the order's currency (JPY 0, KWD 3)."""
        return self._pricelist(order.currency).currency_id.decimal_places

    def _book_rounding(self, sale, order):
        """Reconcile Odoo's total with the channel's at the currency's own
        precision (a yen, a fils, a cent)."""
        currency = sale.currency_id
        digits = currency.decimal_places
        difference = currency.round(
            currency.round(float(order.total_price)) - sale.amount_total
        )
        if currency.is_zero(difference):
            return
        tolerance = rounding_tolerance(
            len(order.lines) + len(order.shipping_lines),
            Decimal(str(currency.rounding)),
        )
        if Decimal(str(abs(difference))) > tolerance:
            raise DataError(
                f"Totals differ: {order.currency} {order.total_price} on the "
                f"marketplace, {sale.amount_total:.{digits}f} in Odoo (tax "
                f"{order.total_tax} vs {sale.amount_tax:.{digits}f}). Check the "
                f"taxes and their mappings, then Retry."
            )
        product = self.env.ref("marketplace_connector.product_marketplace_rounding")
        sale.order_line = [
            Command.create(
                {
                    "product_id": product.id,
                    "name": "Rounding difference with the marketplace",
                    "product_uom_qty": 1.0,
                    "price_unit": difference,
                    "tax_id": [Command.clear()],
                }
            )
        ]

    # Updates

    def _update(self, binding, order):
        sale = binding.order_id
        if order.is_cancelled:
            if sale.state == "cancel":
                return "Already cancelled"
            return self._cancel(binding, sale, order)
        messages = []
        if lines_signature(order) != binding.lines_signature:
            if sale.state in ("draft", "sent"):
                sale.order_line.unlink()
                sale.write({"order_line": self._all_line_commands(order)})
                self._book_rounding(sale, order)
                messages.append("lines updated")
            else:
                message = (
                    f"{order.name} was edited on the marketplace after "
                    f"confirmation: compare the lines with {sale.name}."
                )
                self._set_sync(binding, "attention", message)
                self._schedule_review(sale, message)
                return message
        if (
            self.is_importable(order)
            and sale.state in ("draft", "sent")
            and self.backend.auto_confirm
        ):
            self._confirm(binding, sale, order)
            messages.append("confirmed")
        if binding.sync_state != "attention":
            self._set_sync(binding, "synced", f"Updated {fields.Datetime.now()} UTC")
        return f"Updated {sale.name}" + (f": {', '.join(messages)}" if messages else "")

    def _all_line_commands(self, order):
        commands = []
        for line in order.lines:
            commands += self._product_line_commands(line, order)
        for shipping in order.shipping_lines:
            commands += self._shipping_line_commands(shipping, order)
        return commands

    def _cancel(self, binding, sale, order):
        done = sale.picking_ids.filtered(
            lambda p: p.state == "done" and p.picking_type_code == "outgoing"
        )
        if done:
            (sale.picking_ids - done).filtered(
                lambda p: p.state not in ("done", "cancel")
            ).action_cancel()
            message = (
                f"{order.name} was cancelled on the marketplace "
                f"({order.cancel_reason or 'no reason given'}) but "
                f"{', '.join(done.mapped('name'))} is already delivered: "
                f"arrange the return and refund."
            )
            self._set_sync(binding, "attention", message)
            self._schedule_review(sale, message)
            return message
        sale._action_cancel()
        self.ledger.apply_cancel(sale, order.external_id)
        self._set_sync(
            binding, "synced", f"Cancelled on the marketplace ({order.cancel_reason})"
        )
        return f"Cancelled {sale.name}"

    def _set_sync(self, binding, state, message):
        binding.write({"sync_state": state, "sync_message": message})

    def _schedule_review(self, sale, message, summary="Marketplace order needs review"):
        responsible = (
            self.backend.team_id.user_id or self.backend.user_id or self.env.user
        )
        sale.activity_schedule(
            "mail.mail_activity_data_todo",
            summary=summary,
            note=message,
            user_id=responsible.id,
        )
