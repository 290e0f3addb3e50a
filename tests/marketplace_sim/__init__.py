"""Marketplace simulators our tests, the demo and the benchmarks speak real
HTTP to. One sub-package per channel (``marketplace_sim.shopify``)."""
