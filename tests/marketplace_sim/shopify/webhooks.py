"""Webhook delivery as Shopify does it, with its failure modes on demand.

A :class:`WebhookSender` POSTs signed deliveries to one URL from a small pool
of worker threads (one ``requests.Session`` each). A delivery succeeds only on
a 2xx answer (redirects are not followed: a 3xx is a failure). A failure or a
timeout schedules a retry; after :data:`RETRY_DELAYS` is exhausted (8 retries,
56 s doubling up to 7168 s: 14,280 s, just under 4 hours) the delivery is
given up. Every delay is multiplied by ``time_scale`` so tests can run the
whole schedule in milliseconds. Deliveries waiting for a retry stay queued, so
a target that is down loses nothing that is not given up.

Timeouts: 1 s to connect, 5 s for the answer. ``requests`` bounds each socket
read, not the whole exchange, so an answer that arrives after ``read_timeout``
in total is also counted as a timeout, as Shopify would have hung up.

Faults on demand, all deterministic under ``seed`` (given the order of
``send`` calls; with more than one worker the arrival order also depends on
thread scheduling, use ``workers=1`` for an exact order):

- ``drop_rate``: that fraction of deliveries is never sent.
- ``duplicate_rate``: that fraction is queued twice with the same webhook id
  and event id, as a retry after a timeout that in fact reached the app.
- ``reorder_window``: deliveries are shuffled within consecutive windows of
  that many; a window that does not fill is flushed after ``reorder_linger``
  seconds (or by :meth:`WebhookSender.drain`).
"""

import base64
import dataclasses
import hashlib
import heapq
import hmac
import itertools
import json
import logging
import random
import threading
import time
import uuid

import requests

from .clock import triggered_at

_logger = logging.getLogger(__name__)

#: Seconds before each of the 8 retries (multiplied by ``time_scale``).
RETRY_DELAYS = tuple(56 * 2**attempt for attempt in range(8))


def sign_webhook(body, secret):
    """``X-Shopify-Hmac-Sha256``: base64(HMAC-SHA256(secret, raw body))."""
    if isinstance(body, str):
        body = body.encode()
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def webhook_headers(
    body,
    secret,
    shop_domain,
    topic="orders/create",
    api_version="2026-10",
    webhook_id="3f2b9a5e-4c1d-4e8f-9a7b-0c1d2e3f4a5b",
    event_id="98a2c3f5-1b4d-4e6f-8a9b-1c2d3e4f5a6b",
    triggered_at="2026-11-23T18:00:27.877041743Z",
    **overrides,
):
    """The headers Shopify sends with a delivery of ``body``.

    ``overrides`` replace headers by their name after ``X-Shopify-``, with
    ``_`` for ``-`` (``Hmac_Sha256="..."``); ``None`` removes one -- for
    tests that craft bad deliveries.
    """
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Shopify-Captain-Hook",
        "X-Shopify-Topic": topic,
        "X-Shopify-Hmac-Sha256": sign_webhook(body, secret),
        "X-Shopify-Shop-Domain": shop_domain,
        "X-Shopify-API-Version": api_version,
        "X-Shopify-Webhook-Id": webhook_id,
        "X-Shopify-Event-Id": event_id,
        "X-Shopify-Triggered-At": triggered_at,
    }
    for key, value in overrides.items():
        name = "X-Shopify-" + key.replace("_", "-")
        if value is None:
            headers.pop(name, None)
        else:
            headers[name] = value
    return headers


def encode_payload(payload):
    """The exact bytes sent (and signed): compact JSON."""
    return json.dumps(payload, separators=(",", ":")).encode()


@dataclasses.dataclass(eq=False)
class Delivery:
    """One delivery (and its retries) of one topic to the sender's URL.

    ``state``: ``queued`` → ``accepted`` | ``gave_up``; or ``dropped``.
    """

    topic: str
    body: bytes
    webhook_id: str
    event_id: str
    triggered_at: str
    duplicate: bool = False
    state: str = "queued"
    attempts: int = 0
    last_status: int | None = None
    done: threading.Event = dataclasses.field(default_factory=threading.Event)

    @property
    def payload(self):
        return json.loads(self.body)

    def wait(self, timeout=None):
        """Block until the delivery is accepted or given up (or dropped)."""
        return self.done.wait(timeout)


class WebhookSender:
    """Deliver webhooks for one shop to one URL; see the module docstring."""

    def __init__(
        self,
        url,
        secret,
        shop_domain,
        api_version="2026-10",
        time_scale=1.0,
        duplicate_rate=0.0,
        reorder_window=0,
        drop_rate=0.0,
        seed=0,
        connect_timeout=1.0,
        read_timeout=5.0,
        workers=4,
        retry_delays=RETRY_DELAYS,
        reorder_linger=0.2,
    ):
        for name, rate in (
            ("duplicate_rate", duplicate_rate),
            ("drop_rate", drop_rate),
        ):
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be within [0, 1], not {rate}")
        if time_scale < 0 or workers < 1 or reorder_window < 0:
            raise ValueError("time_scale >= 0, workers >= 1, reorder_window >= 0")
        self.url = url
        self.secret = secret
        self.shop_domain = shop_domain
        self.api_version = api_version
        self.time_scale = float(time_scale)
        self.duplicate_rate = float(duplicate_rate)
        self.drop_rate = float(drop_rate)
        self.reorder_window = int(reorder_window)
        self.reorder_linger = float(reorder_linger)
        self.connect_timeout = float(connect_timeout)
        self.read_timeout = float(read_timeout)
        self.retry_delays = tuple(retry_delays)
        self._rng = random.Random(seed)
        self._cond = threading.Condition()
        self._heap = []  # (due monotonic time, sequence, Delivery)
        self._sequence = itertools.count()
        self._staged = []  # waiting for their reorder window to fill
        self._staged_since = None
        self._unfinished = 0
        self._closed = False
        self._stats = self._empty_stats()
        self._sessions = []
        self._local = threading.local()
        self._workers = [
            threading.Thread(
                target=self._work, name=f"webhook-sender-{index}", daemon=True
            )
            for index in range(workers)
        ]
        for worker in self._workers:
            worker.start()

    @staticmethod
    def _empty_stats():
        return {
            "sent": 0,
            "attempts": 0,
            "accepted": 0,
            "non_2xx": {},
            "timeouts": 0,
            "connection_errors": 0,
            "retried": 0,
            "gave_up": 0,
            "duplicates_sent": 0,
            "dropped": 0,
            "latencies": [],
        }

    @property
    def stats(self):
        """A snapshot: ``sent`` (queued by :meth:`send`, not dropped),
        ``attempts`` (HTTP requests, :meth:`deliver_once` included),
        ``accepted`` (2xx answers), ``non_2xx`` ({status: n}), ``timeouts``,
        ``connection_errors``, ``retried`` (retries scheduled), ``gave_up``,
        ``duplicates_sent`` (extra copies queued), ``dropped``, ``latencies``
        (seconds per attempt), ``pending`` (deliveries not finished)."""
        with self._cond:
            snapshot = dict(self._stats)
            snapshot["non_2xx"] = dict(self._stats["non_2xx"])
            snapshot["latencies"] = list(self._stats["latencies"])
            snapshot["pending"] = self._unfinished
            return snapshot

    # Queueing

    def send(self, topic, payload, event_id=None, triggered_at_ns=None):
        """Queue one delivery of ``payload``; return its :class:`Delivery`.

        :param event_id: share one between the deliveries one action causes.
        """
        delivery = Delivery(
            topic=topic,
            body=encode_payload(payload),
            webhook_id=str(uuid.uuid4()),
            event_id=event_id or str(uuid.uuid4()),
            triggered_at=triggered_at(triggered_at_ns),
        )
        with self._cond:
            if self._closed:
                raise RuntimeError("the webhook sender is closed")
            # always draw both numbers, so one rate does not shift the other's
            dropped = self._rng.random() < self.drop_rate
            duplicated = self._rng.random() < self.duplicate_rate
            if dropped:
                delivery.state = "dropped"
                delivery.done.set()
                self._stats["dropped"] += 1
                return delivery
            self._stats["sent"] += 1
            batch = [delivery]
            if duplicated:
                batch.append(
                    dataclasses.replace(
                        delivery, duplicate=True, done=threading.Event()
                    )
                )
                self._stats["duplicates_sent"] += 1
            self._unfinished += len(batch)
            if self.reorder_window > 1:
                self._stage(batch)
            else:
                for item in batch:
                    self._schedule(item, 0.0)
            self._cond.notify_all()
        return delivery

    def _stage(self, batch):
        if not self._staged:
            self._staged_since = time.monotonic()
        self._staged.extend(batch)
        if len(self._staged) >= self.reorder_window:
            self._flush_staged()

    def _flush_staged(self):
        staged, self._staged, self._staged_since = self._staged, [], None
        self._rng.shuffle(staged)
        for item in staged:
            self._schedule(item, 0.0)

    def _schedule(self, delivery, delay):
        due = time.monotonic() + delay
        heapq.heappush(self._heap, (due, next(self._sequence), delivery))

    # Workers

    def _next_due(self):
        with self._cond:
            while True:
                if self._closed:
                    return None
                now = time.monotonic()
                waits = []
                if self._staged:
                    linger_end = self._staged_since + self.reorder_linger
                    if now >= linger_end:
                        self._flush_staged()
                    else:
                        waits.append(linger_end - now)
                if self._heap:
                    due = self._heap[0][0]
                    if due <= now:
                        return heapq.heappop(self._heap)[2]
                    waits.append(due - now)
                self._cond.wait(min(waits) if waits else None)

    def _work(self):
        while True:
            delivery = self._next_due()
            if delivery is None:
                return
            try:
                status, _seconds = self._attempt(
                    self._session(),
                    delivery.topic,
                    delivery.body,
                    self._headers(delivery),
                )
            except Exception:  # a bug here must not kill the worker
                _logger.exception("webhook delivery %s crashed", delivery.webhook_id)
                status = None
            self._settle(delivery, status)

    def _settle(self, delivery, status):
        with self._cond:
            delivery.attempts += 1
            delivery.last_status = status
            retries_done = delivery.attempts - 1
            if status is not None and 200 <= status < 300:
                delivery.state = "accepted"
            elif retries_done < len(self.retry_delays):
                self._stats["retried"] += 1
                self._schedule(
                    delivery, self.retry_delays[retries_done] * self.time_scale
                )
                self._cond.notify_all()
                return
            else:
                delivery.state = "gave_up"
                self._stats["gave_up"] += 1
                _logger.info(
                    "webhook %s %s given up after %d attempts",
                    delivery.topic,
                    delivery.webhook_id,
                    delivery.attempts,
                )
            self._unfinished -= 1
            delivery.done.set()
            self._cond.notify_all()

    # HTTP

    def _session(self):
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            with self._cond:
                self._sessions.append(session)
        return session

    def _headers(self, delivery, body=None):
        return webhook_headers(
            delivery.body if body is None else body,
            self.secret,
            self.shop_domain,
            topic=delivery.topic,
            api_version=self.api_version,
            webhook_id=delivery.webhook_id,
            event_id=delivery.event_id,
            triggered_at=delivery.triggered_at,
        )

    def _attempt(self, session, topic, body, headers):
        """One POST; return ``(status or None on timeout/error, seconds)``."""
        started = time.monotonic()
        status = None
        outcome = None
        try:
            response = session.post(
                self.url,
                data=body,
                headers=headers,
                timeout=(self.connect_timeout, self.read_timeout),
                allow_redirects=False,
            )
            response.close()
            status = response.status_code
        except requests.Timeout:
            outcome = "timeouts"
        except requests.RequestException as err:
            outcome = "connection_errors"
            _logger.debug("webhook %s to %s failed: %s", topic, self.url, err)
        seconds = time.monotonic() - started
        if status is not None and seconds > self.read_timeout:
            status, outcome = None, "timeouts"  # Shopify hung up already
        with self._cond:
            self._stats["attempts"] += 1
            self._stats["latencies"].append(seconds)
            if outcome:
                self._stats[outcome] += 1
            elif 200 <= status < 300:
                self._stats["accepted"] += 1
            else:
                non_2xx = self._stats["non_2xx"]
                non_2xx[status] = non_2xx.get(status, 0) + 1
        return status, seconds

    def deliver_once(
        self,
        topic,
        payload,
        webhook_id=None,
        event_id=None,
        headers_override=None,
        body_override=None,
    ):
        """One synchronous attempt, no retry, for tests crafting deliveries.

        :param body_override: raw bytes to send instead of the payload's JSON
            (signed as sent, unless ``headers_override`` sets the signature).
        :param headers_override: headers to set; a None value removes one.
        :return: ``(status, seconds)``; status is None on a timeout or a
            connection error.
        """
        body = encode_payload(payload) if body_override is None else body_override
        if isinstance(body, str):
            body = body.encode()
        delivery = Delivery(
            topic=topic,
            body=body,
            webhook_id=webhook_id or str(uuid.uuid4()),
            event_id=event_id or str(uuid.uuid4()),
            triggered_at=triggered_at(),
        )
        headers = self._headers(delivery)
        for name, value in (headers_override or {}).items():
            for existing in [key for key in headers if key.lower() == name.lower()]:
                del headers[existing]
            if value is not None:
                headers[name] = value
        return self._attempt(self._session(), topic, body, headers)

    # Lifecycle

    def drain(self, timeout=30):
        """Wait until every queued delivery is accepted or given up; flushes
        a partly filled reorder window first. Return False on timeout."""
        deadline = time.monotonic() + timeout
        with self._cond:
            if self._staged:
                self._flush_staged()
                self._cond.notify_all()
            while self._unfinished:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    def close(self):
        """Stop the workers; deliveries still queued are abandoned."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify_all()
        for worker in self._workers:
            if worker is not threading.current_thread():
                worker.join(timeout=self.connect_timeout + self.read_timeout + 1)
        with self._cond:
            sessions, self._sessions = self._sessions, []
        for session in sessions:
            session.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()
