"""Feeds API 2021-06-30 for ``JSON_LISTINGS_FEED``, and the pre-signed
document URLs (served here, standing in for S3).

Flow: createFeedDocument -> PUT the JSON to its ``url`` (Content-Type as
declared, within 5 minutes) -> createFeed -> getFeed until DONE/FATAL ->
getFeedDocument(resultFeedDocumentId) -> GET the processing report.

- Only ``JSON_LISTINGS_FEED``: the legacy XML and flat-file listing and
  inventory feed types are refused (retired 2025-07-31); any other type is
  not simulated and refused too.
- At most 5 createFeed per 5 minutes per seller and region (429), on top of
  the createFeed token bucket.
- IN_QUEUE for ``queue_delay`` seconds, IN_PROGRESS for
  ``processing_delay``, then DONE (the document parsed, whatever its
  messages' fate) or FATAL (not JSON, wrong header, no or too many
  messages). Both have a processing report.
- Processing happens on the catalogue timeline at the feed's end time:
  accepted messages set their quantities then, so a feed and a PATCH for one
  SKU resolve by which lands last.
"""

import dataclasses
import json
import secrets
import threading
import uuid

from . import listings_api
from .clock import format_ts
from .wire import (
    QUOTA_MESSAGE,
    ApiError,
    InvalidInput,
    NotFound,
    Response,
    json_response,
)

FEED_TYPE = "JSON_LISTINGS_FEED"
LEGACY_FEED_TYPES = (
    "POST_INVENTORY_AVAILABILITY_DATA",
    "POST_PRODUCT_DATA",
    "POST_PRODUCT_PRICING_DATA",
    "POST_FLAT_FILE_INVLOADER_DATA",
    "POST_FLAT_FILE_LISTINGS_DATA",
    "POST_FLAT_FILE_PRICEANDQUANTITYONLY_UPDATE_DATA",
)
CONTENT_TYPES = (
    "application/json",
    "text/xml",
    "text/tab-separated-values",
    "text/plain",
)
MAX_MESSAGES = 25_000
URL_LIFETIME = 300
SUBMISSION_WINDOW = 300
SUBMISSIONS_PER_WINDOW = 5


def _normalise_type(value):
    parts = [part.strip().lower() for part in str(value).split(";")]
    return ";".join(part.replace(" ", "") for part in parts if part)


@dataclasses.dataclass
class Document:
    document_id: str
    content_type: str
    secret: str
    url_expiry: float
    content: bytes | None = None


@dataclasses.dataclass
class Feed:
    feed_id: str
    feed_type: str
    marketplace_ids: list
    input_document_id: str
    created: float
    started: float
    ends: float
    status: str | None = None  # DONE | FATAL once processed
    result_document_id: str | None = None
    report: dict | None = None

    def render(self, now):
        body = {
            "feedId": self.feed_id,
            "feedType": self.feed_type,
            "marketplaceIds": list(self.marketplace_ids),
            "createdTime": format_ts(self.created),
            "processingStatus": self.status
            or ("IN_PROGRESS" if now >= self.started else "IN_QUEUE"),
        }
        if now >= self.started:
            body["processingStartTime"] = format_ts(self.started)
        if self.status:
            body["processingEndTime"] = format_ts(self.ends)
            body["resultFeedDocumentId"] = self.result_document_id
        return body


class FeedService:
    def __init__(self, sim):
        self.sim = sim
        self.queue_delay = 30.0
        self.processing_delay = 120.0
        self.lock = threading.Lock()
        self.documents = {}
        self.feeds = {}
        self._submissions = []

    # Documents

    def new_document(self, content_type, content=None):
        document = Document(
            document_id=f"amzn1.tortuga.4.na.{uuid.uuid4()}",
            content_type=content_type,
            secret=secrets.token_hex(16),
            url_expiry=self.sim.clock() + URL_LIFETIME,
            content=content,
        )
        with self.lock:
            self.documents[document.document_id] = document
        return document

    def url(self, document):
        return (
            f"{self.sim.url}/_documents/{document.document_id}"
            f"?X-Amz-Expires={URL_LIFETIME}&X-Amz-Signature={document.secret}"
        )

    def refresh_url(self, document):
        document.url_expiry = self.sim.clock() + URL_LIFETIME
        return self.url(document)

    def handle_document(self, request, document_id):
        """PUT (upload) or GET (download) through a pre-signed URL."""
        with self.lock:
            document = self.documents.get(document_id)
        signature = (request.query.get("X-Amz-Signature") or [""])[0]
        if document is None or not secrets.compare_digest(signature, document.secret):
            return _s3_error(
                403, "SignatureDoesNotMatch", "The request signature does not match"
            )
        if self.sim.clock() > document.url_expiry:
            return _s3_error(403, "AccessDenied", "Request has expired")
        if request.method == "PUT":
            sent = _normalise_type(request.header("Content-Type") or "")
            if sent != _normalise_type(document.content_type):
                return _s3_error(
                    403,
                    "SignatureDoesNotMatch",
                    "The Content-Type must be the one given to createFeedDocument",
                )
            document.content = request.body
            return Response(200, b"", {"ETag": f'"{secrets.token_hex(16)}"'})
        if request.method == "GET":
            if document.content is None:
                return _s3_error(404, "NoSuchKey", "The specified key does not exist.")
            return Response(
                200, document.content, {"Content-Type": document.content_type}
            )
        return _s3_error(405, "MethodNotAllowed", "The method is not allowed")

    # API handlers

    def create_feed_document(self, request, _match):
        body = _json_object(request)
        content_type = body.get("contentType")
        if not isinstance(content_type, str) or (
            _normalise_type(content_type).split(";")[0] not in CONTENT_TYPES
        ):
            raise InvalidInput(
                "Invalid input", f"contentType {content_type!r} is not supported"
            )
        document = self.new_document(content_type)
        return json_response(
            201, {"feedDocumentId": document.document_id, "url": self.url(document)}
        )

    def get_feed_document(self, request, match):
        with self.lock:
            document = self.documents.get(match.group("documentId"))
        if document is None:
            raise NotFound("Feed document not found", match.group("documentId"))
        return json_response(
            200,
            {"feedDocumentId": document.document_id, "url": self.refresh_url(document)},
        )

    def create_feed(self, request, _match):
        body = _json_object(request)
        feed_type = body.get("feedType")
        if feed_type in LEGACY_FEED_TYPES:
            raise InvalidInput(
                "Invalid input",
                f"Feed type {feed_type} is no longer supported for listings; "
                f"use {FEED_TYPE}",
            )
        if feed_type != FEED_TYPE:
            raise InvalidInput(
                "Invalid input", f"feedType {feed_type!r} is not supported"
            )
        marketplace_ids = body.get("marketplaceIds")
        if (
            not isinstance(marketplace_ids, list)
            or not 1 <= len(marketplace_ids) <= 25
            or any(mid not in self.sim.marketplace_ids for mid in marketplace_ids)
        ):
            raise InvalidInput(
                "Invalid input", "marketplaceIds: 1 to 25 of the seller's"
            )
        document_id = body.get("inputFeedDocumentId")
        with self.lock:
            document = self.documents.get(document_id)
        if document is None:
            raise InvalidInput(
                "Invalid input", f"inputFeedDocumentId {document_id!r} unknown"
            )
        if document.content is None:
            raise InvalidInput(
                "Invalid input", "the feed document's content has not been uploaded"
            )
        now = self.sim.clock()
        with self.lock:
            self._submissions = [
                t for t in self._submissions if now - t < SUBMISSION_WINDOW
            ]
            if len(self._submissions) >= SUBMISSIONS_PER_WINDOW:
                raise ApiError(QUOTA_MESSAGE, status=429, code="QuotaExceeded")
            self._submissions.append(now)
            feed = Feed(
                feed_id=str(
                    50_000_000_000 + len(self.feeds) * 7 + secrets.randbelow(7)
                ),
                feed_type=feed_type,
                marketplace_ids=list(marketplace_ids),
                input_document_id=document_id,
                created=now,
                started=now + self.queue_delay,
                ends=now + self.queue_delay + self.processing_delay,
            )
            self.feeds[feed.feed_id] = feed
        self.sim.catalog.schedule(
            feed.ends, lambda at: self._process(feed, document, at)
        )
        return json_response(202, {"feedId": feed.feed_id})

    def get_feed(self, request, match):
        self.sim.catalog.settle()
        with self.lock:
            feed = self.feeds.get(match.group("feedId"))
        if feed is None:
            raise NotFound("Feed not found", match.group("feedId"))
        return json_response(200, feed.render(self.sim.clock()))

    # Processing

    def _process(self, feed, document, at):
        status, report, quantities = process_listings_feed(
            document.content, self.sim, feed.feed_id
        )
        for sku, quantity in quantities:
            self.sim.catalog.set_quantity(sku, quantity, at, f"feed:{feed.feed_id}")
        result = self.new_document(
            "application/json", json.dumps(report, separators=(",", ":")).encode()
        )
        feed.report, feed.status, feed.result_document_id = (
            report,
            status,
            result.document_id,
        )


def _json_object(request):
    try:
        body = request.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        raise InvalidInput("Invalid input", "the body must be a JSON object")
    return body


def _s3_error(status, code, message):
    text = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    )
    return Response(status, text.encode(), {"Content-Type": "application/xml"})


def _report(sim, feed_id, issues, processed, accepted, invalid):
    return {
        "header": {"sellerId": sim.seller_id, "version": "2.0", "feedId": feed_id},
        "issues": issues,
        "summary": {
            "errors": sum(1 for item in issues if item["severity"] == "ERROR"),
            "warnings": sum(1 for item in issues if item["severity"] == "WARNING"),
            "messagesProcessed": processed,
            "messagesAccepted": accepted,
            "messagesInvalid": invalid,
        },
    }


def _fatal(sim, feed_id, message):
    issue = {"code": "100001", "severity": "ERROR", "message": message}
    return "FATAL", _report(sim, feed_id, [issue], 0, 0, 0), []


def _message_problem(message, seen):
    """What makes a message invalid before its values are looked at."""
    if not isinstance(message, dict):
        return "a message must be an object"
    message_id = message.get("messageId")
    if (
        isinstance(message_id, bool)
        or not isinstance(message_id, int)
        or message_id < 1
    ):
        return "messageId must be a positive integer"
    if message_id in seen:
        return f"messageId {message_id} is not unique within the feed"
    if not isinstance(message.get("sku"), str) or not message["sku"]:
        return "sku is required"
    operation = message.get("operationType")
    if operation == "PATCH":
        if "attributes" in message or "requirements" in message:
            return "PATCH messages take patches, not attributes or requirements"
        if not message.get("productType") or not message.get("patches"):
            return "PATCH messages require productType and patches"
        try:
            listings_api._check_patch_body(message)
        except ApiError as err:
            return err.details
    elif operation == "PARTIAL_UPDATE":
        if not message.get("productType") or not isinstance(
            message.get("attributes"), dict
        ):
            return "PARTIAL_UPDATE messages require productType and attributes"
    elif operation in ("UPDATE", "DELETE"):
        return (
            f"operationType {operation} is not simulated (only PATCH, PARTIAL_UPDATE)"
        )
    else:
        return f"operationType {operation!r} is not valid"
    return None


def _message_quantity(message):
    """``(quantity or None, [issues])`` for a well-formed message."""
    if message["operationType"] == "PARTIAL_UPDATE":
        values = message["attributes"].get("fulfillment_availability")
        if values is None:
            return None, []
        quantity, issue = listings_api.quantity_from_value(values)
        return quantity, [issue] if issue else []
    quantity, issues = None, []
    for patch in message["patches"]:
        if patch["path"] != listings_api.QUANTITY_PATH:
            continue
        quantity, issue = listings_api.quantity_from_value(patch.get("value"))
        if issue:
            issues.append(issue)
    return quantity, issues


def process_listings_feed(content, sim, feed_id):
    """``(status, report, [(sku, quantity)])`` for a JSON_LISTINGS_FEED."""
    try:
        feed = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        return _fatal(sim, feed_id, f"The feed is not valid JSON: {err}")
    if not isinstance(feed, dict) or not isinstance(feed.get("header"), dict):
        return _fatal(sim, feed_id, "The feed must be an object with a header")
    header = feed["header"]
    if header.get("sellerId") != sim.seller_id or header.get("version") != "2.0":
        return _fatal(sim, feed_id, "header.sellerId must be yours and version 2.0")
    messages = feed.get("messages")
    if not isinstance(messages, list) or not 1 <= len(messages) <= MAX_MESSAGES:
        return _fatal(sim, feed_id, f"messages: 1 to {MAX_MESSAGES} required")
    issues, updates, seen, invalid = [], [], set(), 0
    for message in messages:
        problem = _message_problem(message, seen)
        message_issues = []
        if problem:
            entry = {"code": "100002", "severity": "ERROR", "message": problem}
            if isinstance(message, dict):
                if (
                    isinstance(message.get("messageId"), int)
                    and message["messageId"] >= 1
                ):
                    entry["messageId"] = message["messageId"]
                if isinstance(message.get("sku"), str) and message["sku"]:
                    entry["sku"] = message["sku"]
            issues.append(entry)
            invalid += 1
            continue
        seen.add(message["messageId"])
        sku = message["sku"]
        if sim.catalog.listings.get(sku) is None:
            message_issues.append(listings_api.unknown_sku_issue(sku))
        quantity, value_issues = _message_quantity(message)
        message_issues.extend(value_issues)
        for item in message_issues:
            entry = {
                "messageId": message["messageId"],
                "sku": sku,
                "code": item["code"],
                "severity": item["severity"],
                "message": item["message"],
            }
            if item["attributeNames"][0] != "sku":
                entry["attributeName"] = item["attributeNames"][0]
            issues.append(entry)
        if message_issues:
            invalid += 1
        elif quantity is not None:
            updates.append((sku, quantity))
    report = _report(
        sim, feed_id, issues, len(messages), len(messages) - invalid, invalid
    )
    return "DONE", report, updates
