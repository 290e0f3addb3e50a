"""A strict Shopify simulator: the Admin API subset our connector uses, over
real HTTP on loopback, and webhook delivery with Shopify's failure modes.

Strict means: what the real service refuses, this refuses the same way
(status code and error shape), so a test that passes here exercises the code
paths the real service would. The wire formats follow the Shopify section of
the project's marketplace protocol notes (Shopify's public documentation).

Usage::

    from marketplace_sim.shopify import ShopifySimulator, WebhookSender

    sim = ShopifySimulator(shop_domain="acme.myshopify.com",
                           access_token="shpat_test").start()
    sim.add_product(sku="MUG", price="19.99", title="Mug", inventory=10)
    sim.webhooks = WebhookSender(url, secret, sim.shop_domain, time_scale=0.001)
    order = sim.create_order(lines=[("MUG", 2)])   # fires orders/create (+paid)
    ...
    sim.stop()

Or in its own process: ``python -m marketplace_sim.shopify serve --port 8071
--shop demo.myshopify.com --token shpat_demo``, driven through ``/_sim/``
(:mod:`.control`).

What is simulated
-----------------
- Admin API under ``/admin/api/{version}/``: token check
  (``X-Shopify-Access-Token``, 401 with Shopify's message), versions
  (supported ``sim.api_versions``, default 2025-10 … 2026-10; a malformed
  version is a 404, an older well-formed one is served by the oldest supported,
  a newer one is a 404; ``X-Shopify-API-Version`` on every answer).
- REST (:mod:`.rest_api`): ``orders.json`` with status/date filters, Link
  header paging with ``page_info``, ``fields``; ``orders/{id}.json``,
  ``orders/count.json``, ``shop.json``. Orders older than ``visible_days``
  (60) are invisible, as without ``read_all_orders``.
- GraphQL (:mod:`.graphql_api`): a real graphql-core schema per API version
  (``shop``, ``locations``, ``productVariants``, ``inventoryItems``,
  ``inventoryItem``, ``inventorySetQuantities``); validation errors with
  Shopify's codes; ``inventorySetQuantities`` with compare-and-set,
  ``@idempotent`` and the 2026-04 switch from ``compareQuantity`` to
  ``changeFromQuantity`` (:mod:`.inventory`).
- Rate limits (:mod:`.ratelimit`), leaky buckets per plan — REST 40 calls
  leaking 2/s (plus/enterprise 400 and 20/s), 429 + ``Retry-After: 2.0`` +
  ``X-Shopify-Shop-Api-Call-Limit``; GraphQL points, standard 2000 restoring
  100/s, advanced 4000/200, plus 20000/1000, enterprise 40000/2000.
- Orders (:mod:`.orders`) with exactly consistent Decimal totals, taxes
  included or not, percentage discount codes, shipping; inventory moves from
  available to committed when an order is placed and back when it is
  cancelled. ``updated_at`` of an order (and of an inventory level) strictly
  increases, at least one second per state (max(now, last + 1 s)).
- Webhooks (:mod:`.webhooks`): signed deliveries with every ``X-Shopify-*``
  header, retries, duplicates, drops and reordering on demand. Deliveries
  caused by one action (``mark_paid`` → orders/paid + orders/updated) share
  one ``X-Shopify-Event-Id``; each has its own ``X-Shopify-Webhook-Id``,
  kept across its retries and duplicates.
- Faults (:mod:`.faults`): the next calls fail with a status, hang past the
  client's timeout, or are throttled.
- Refunds (:mod:`.refunds`): ``refund_order`` validated as Shopify validates
  (more than remains refundable, ``cancel`` of fulfilled units, ``return``
  of unfulfilled ones, shipping beyond what is left: refused), stored on the
  order, restocked by restock type, announced with ``refunds/create`` (the
  REST Refund) and ``orders/updated``; ``mark_fulfilled`` is the merchant
  fulfilling by hand in the admin.

Retry schedule
--------------
8 retries after the first attempt, waiting 56 s and doubling: 56, 112, 224,
448, 896, 1792, 3584, 7168 s (14,280 s, just under 4 hours), each multiplied
by the sender's ``time_scale``; then the delivery is given up.

Cost model
----------
(:mod:`.cost`) scalar/enum 0, object 1, connection 2 + first x (1 + one
node's selection), mutation 10 + its selection; over 1000 is
``MAX_COST_EXCEEDED``. The requested cost is charged up front and reported as
the actual cost too (no refund for short pages: slightly pessimistic).
``THROTTLED`` answers HTTP 200 (``sim.graphql_throttle_status = 429`` to
change it). Both kinds of throttling count in ``sim.stats["throttled"]``.

Deliberate simplifications
--------------------------
- One variant per product, SKUs unique (``add_product`` with a known SKU
  updates it). One currency per order, no ``*_set`` money bags, no
  presentment conversion. Prices in any order currency are the product's.
- REST lists are sorted by ``updated_at`` then ``id`` ascending; only the
  filters listed in :mod:`.rest_api` exist; unknown parameters are ignored
  (as Shopify does), invalid values of known ones are a 400.
- Inventory quantities are ``available`` and ``committed`` (``on_hand`` =
  their sum; the other names read 0). Orders never fail for lack of stock
  (inventory policy "continue"); placing or cancelling an order does not
  fire ``inventory_levels/update`` (changes through the API or
  ``set_inventory(notify=True)`` do).
- Returns (``returns/*``) and GraphQL ``refundCreate`` are not simulated:
  a refund is made through the control surface or ``refunds.refund_order``.
- Fulfillment orders, their holds and ``fulfillmentCreate`` are simulated
  (:mod:`.fulfillment`), as are GraphQL ``orders`` for polling
  (:mod:`.orders_graphql`); ``fulfillmentCreate`` ignores ``@idempotent``, so
  only the client's own retry check can prevent a double fulfilment.
- Error wordings not documented by Shopify (bad ``limit``, missing
  ``@idempotent``, missing ``changeFromQuantity``) are our best guess; the
  status codes and shapes are what matters to a client.
- The idempotency store never expires, and a replay returns the first result
  whatever it was (user errors included).
"""

from .clock import FakeClock
from .simulator import DEFAULT_API_VERSIONS, ShopifySimulator
from .webhooks import (
    RETRY_DELAYS,
    Delivery,
    WebhookSender,
    sign_webhook,
    webhook_headers,
)

__all__ = [
    "DEFAULT_API_VERSIONS",
    "RETRY_DELAYS",
    "Delivery",
    "FakeClock",
    "ShopifySimulator",
    "WebhookSender",
    "sign_webhook",
    "webhook_headers",
]
