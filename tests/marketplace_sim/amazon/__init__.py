"""A strict Amazon Selling Partner API simulator: the SP-API subset our
connector uses, Login with Amazon, and the SQS queue ORDER_CHANGE
notifications arrive on, over real HTTP on loopback.

Strict means: what Amazon refuses, this refuses the same way (status code and
``{"errors": [{"code", "message", "details"}]}``), and what it answers
validates against Amazon's own models (``tests/unit/test_amazon_contract.py``
checks it with :mod:`.contract`). The wire formats follow the Amazon section
of the project's marketplace protocol notes and Amazon's public models.

Usage::

    import boto3, requests
    from marketplace_sim.amazon import AmazonSimulator, SimClock

    sim = AmazonSimulator(seller_id="A1SELLER", marketplace_ids=["ATVPDKIKX0DER"],
                          client_id="cid", client_secret="secret",
                          refresh_token="Atzr|rt", clock=SimClock(time_scale=0)).start()
    sim.add_listing("MUG", quantity=10)
    order = sim.create_order([("MUG", 2, "19.99")])      # ORDER_CHANGE queued
    token = requests.post(sim.lwa_url, data={...}).json()["access_token"]
    requests.get(f"{sim.url}/orders/2026-01-01/orders/{order['orderId']}",
                 headers={"x-amz-access-token": token})
    sqs = boto3.client("sqs", endpoint_url=sim.sqs_url, region_name="us-east-1",
                       aws_access_key_id="testing", aws_secret_access_key="x")
    sqs.receive_message(QueueUrl=sim.queue_url, WaitTimeSeconds=1)
    sim.clock.advance(180)                               # instead of sleeping
    sim.stop()

Or in its own process: ``python -m marketplace_sim.amazon serve --port 8072``,
driven through ``/_sim/`` (:mod:`.control`).

What is simulated
-----------------
- LWA (:mod:`.auth`): ``POST /auth/o2/token``, refresh-token grant only;
  ``invalid_client`` (401), ``invalid_grant`` (400, also after
  ``revoke_refresh_token()``); tokens live 3600 s of sim time,
  ``expire_tokens()`` kills them now. SP-API calls without a live
  ``x-amz-access-token`` are 403 ``Unauthorized``.
- Orders API v2026-01-01 (:mod:`.orders_api`, :mod:`.orders`):
  searchOrders with every documented rule, getOrder, ``includedData``; v0
  confirmShipment with per-item quantities, partial shipments, duplicate
  package detection (``sim.shipments()``, ``sim.shipment_attempts()``).
  Order changes (:mod:`.orderbook`) put an ORDER_CHANGE notification on the
  queue; ``visibility_lag`` delays what the API shows (Amazon: ~2 min).
- Listings Items 2021-08-01 (:mod:`.listings_api`): quantities through
  ``fulfillment_availability`` patches, applied ``listing_delay`` seconds
  later; getListingsItem, searchListingsItems with paging.
- Feeds 2021-06-30 (:mod:`.feeds`): ``JSON_LISTINGS_FEED`` only, pre-signed
  upload/download URLs, IN_QUEUE -> IN_PROGRESS -> DONE/FATAL on the sim
  clock, processing reports, 5 submissions per 5 minutes.
- Writes to one SKU from PATCHes and feeds resolve by the time they land
  (:mod:`.catalog`): last write wins, no compare-and-set.
- Usage plans (:mod:`.ratelimit`): a token bucket per operation, seller and
  application with the models' rates; 429 ``QuotaExceeded`` with
  ``x-amzn-RateLimit-Limit``; ``throttle(seconds)`` for a 429 storm,
  ``fail_next(500|503)`` for server errors (:mod:`.faults`).
- SQS (:mod:`.sqs`): the AWS JSON 1.0 protocol boto3 uses, at-least-once
  delivery, visibility timeouts, redrive to a dead-letter queue,
  duplicate/reordered/malformed delivery on demand.
- Stats per operation (:mod:`.stats`): calls, throttled, errors.

Time
----
Everything runs on ``sim.clock`` (:class:`.clock.SimClock`): real time
multiplied by ``time_scale`` (0 freezes it) plus whatever ``advance()``
added. Long polling waits real time (``WaitTimeSeconds / time_scale``; no
wait on a frozen clock).

Deliberate simplifications
--------------------------
- One seller and one application (a token's client id keys its buckets).
- Orders: no TAX/PAYMENT/EXPENSE/FULFILLMENT_ORDERS data; PENDING orders
  carry no buyer, recipient or proceeds (Amazon withholds them until paid).
- Listings: only ``fulfillment_availability`` is modelled; patches of other
  attributes are accepted and ignored; an unknown SKU is ``INVALID`` (a
  PATCH cannot create a listing). Feed messages: PATCH and PARTIAL_UPDATE;
  UPDATE/DELETE are reported invalid as not simulated.
- Issue codes and error wordings Amazon does not document are best guesses;
  statuses and shapes are what a client depends on.
- SigV4 on SQS: the header must name a known access key; the signature is
  not verified.
"""

from .clock import SimClock
from .simulator import AmazonSimulator

__all__ = ["AmazonSimulator", "SimClock"]
