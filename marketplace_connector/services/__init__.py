"""Odoo-side workers that are not models: the job entry points hand over to
them (OCA connector style: importer/processor classes, thin jobs)."""
