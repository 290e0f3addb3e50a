"""Many quantities at once: a ``JSON_LISTINGS_FEED`` through the Feeds API.

Why a feed above a few writes: a PATCH per SKU is capped at 5/s, a feed
takes up to 25,000 messages. But feeds are scarce too (5 submissions per
5 minutes per region) and slow (minutes), so the core submits, keeps the
feed id as its *submission*, and asks for the outcome later
(:func:`feed_outcome`).

1. ``createFeedDocument`` (content type :data:`CONTENT_TYPE`) returns a
   document id and a pre-signed upload URL (valid 5 minutes);
2. the feed JSON (:func:`build_feed`: one ``PATCH`` message per write,
   ``messageId`` 1..N in write order) is PUT to that URL with the same
   content type;
3. ``createFeed`` names the document and the marketplaces; its ``feedId``
   is the submission.

Outcome: ``getFeed`` says ``IN_QUEUE``/``IN_PROGRESS`` (ask again later),
``DONE`` (the processing report, downloaded through ``getFeedDocument``,
lists issues per ``messageId``: a write with an ERROR issue failed with
"SKU X: <Amazon's message>", the others are applied), or ``FATAL`` /
``CANCELLED`` (every write failed, with the reason).
"""

import gzip
import json
import logging

from odoo.addons.marketplace_connector.lib.errors import DataError
from odoo.addons.marketplace_connector.lib.stock import StockWriteResult

from .listings import PRODUCT_TYPE, issue_text, location_problem, quantity_patches

_logger = logging.getLogger(__name__)

FEED_TYPE = "JSON_LISTINGS_FEED"
CONTENT_TYPE = "application/json; charset=UTF-8"
#: Amazon's maximum of messages per listings feed
MAX_MESSAGES = 25_000
FEEDS_PATH = "/feeds/2021-06-30/feeds"
FEED_PATH = "/feeds/2021-06-30/feeds/{}"
DOCUMENTS_PATH = "/feeds/2021-06-30/documents"
DOCUMENT_PATH = "/feeds/2021-06-30/documents/{}"
PROCESSING = ("IN_QUEUE", "IN_PROGRESS")
DONE = "DONE"


def build_feed(seller_id, writes, issue_locale="en_US"):
    """The feed document: one ``PATCH`` message per write, in write order
    (``messageId`` is the write's position, from 1)."""
    if not writes:
        raise ValueError("a feed needs at least one write")
    if len(writes) > MAX_MESSAGES:
        raise ValueError(f"a listings feed takes at most {MAX_MESSAGES} messages")
    return {
        "header": {
            "sellerId": seller_id,
            "version": "2.0",
            "issueLocale": issue_locale,
        },
        "messages": [
            {
                "messageId": number,
                "sku": write.item_ref,
                "operationType": "PATCH",
                "productType": PRODUCT_TYPE,
                "patches": quantity_patches(write.quantity),
            }
            for number, write in enumerate(writes, 1)
        ],
    }


def submit_feed(client, seller_id, marketplace_ids, writes):
    """Submit the writes as one feed.

    Writes that cannot go to Amazon at all (another location, a negative
    quantity) are refused before the upload.

    :return: a :class:`StockWriteResult` with ``submission`` (the feed id)
        and ``pending`` (the writes sent, in message order), plus the
        refused ones in ``errors``.
    """
    errors, sendable = [], []
    for write in writes:
        problem = location_problem(write)
        if problem:
            errors.append((write, problem))
        else:
            sendable.append(write)
    if not sendable:
        return StockWriteResult(errors=tuple(errors))
    content = json.dumps(build_feed(seller_id, sendable), separators=(",", ":"))
    document = client.call(
        "createFeedDocument", "POST", DOCUMENTS_PATH, body={"contentType": CONTENT_TYPE}
    )
    if not isinstance(document, dict) or not document.get("url"):
        raise DataError("Amazon's createFeedDocument answer has no upload URL.")
    client.transfer(
        "PUT", document["url"], content.encode("utf-8"), CONTENT_TYPE, "upload"
    )
    answer = client.call(
        "createFeed",
        "POST",
        FEEDS_PATH,
        body={
            "feedType": FEED_TYPE,
            "marketplaceIds": list(marketplace_ids),
            "inputFeedDocumentId": document["feedDocumentId"],
        },
    )
    feed_id = (answer or {}).get("feedId")
    if not feed_id:
        raise DataError("Amazon's createFeed answer has no feedId.")
    _logger.info("Amazon feed %s submitted: %d quantities", feed_id, len(sendable))
    return StockWriteResult(
        submission=str(feed_id), pending=tuple(sendable), errors=tuple(errors)
    )


def download_report(client, document_id):
    """The processing report (parsed JSON) of a feed result document."""
    document = client.call("getFeedDocument", "GET", DOCUMENT_PATH.format(document_id))
    if not isinstance(document, dict) or not document.get("url"):
        raise DataError(
            f"Amazon's getFeedDocument answer for {document_id} has no URL."
        )
    content = client.transfer("GET", document["url"], what="processing report")
    if str(document.get("compressionAlgorithm") or "").upper() == "GZIP":
        content = gzip.decompress(content)
    try:
        report = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as err:
        raise DataError(
            f"The processing report {document_id} is not JSON: the feed's outcome "
            f"is unknown; check it in Seller Central."
        ) from err
    if not isinstance(report, dict):
        raise DataError(f"The processing report {document_id} is not a JSON object.")
    return report


def parse_report(report, writes):
    """Applied writes and errors from a ``DONE`` feed's processing report.

    :param writes: the feed's writes, in message order.
    """
    by_message, feed_level = {}, []
    for issue in report.get("issues") or ():
        if not isinstance(issue, dict) or issue.get("severity") != "ERROR":
            continue
        message_id = issue.get("messageId")
        if isinstance(message_id, int) and 1 <= message_id <= len(writes):
            by_message.setdefault(message_id, []).append(issue)
        else:
            feed_level.append(issue)
    summary = report.get("summary") or {}
    if feed_level and not summary.get("messagesAccepted"):
        reason = "; ".join(str(issue.get("message")) for issue in feed_level)
        return StockWriteResult(
            errors=tuple(
                (write, f"SKU {write.item_ref}: the feed was refused: {reason}")
                for write in writes
            )
        )
    for issue in feed_level:
        _logger.warning("Amazon feed issue without a message: %s", issue.get("message"))
    applied, errors = [], []
    for number, write in enumerate(writes, 1):
        if number in by_message:
            errors.append((write, issue_text(write.item_ref, by_message[number])))
        else:
            applied.append(write)
    return StockWriteResult(applied=tuple(applied), errors=tuple(errors))


def feed_outcome(client, feed_id, writes):
    """The outcome of a submitted feed, or ``None`` while it is processed."""
    feed = client.call("getFeed", "GET", FEED_PATH.format(feed_id))
    status = (feed or {}).get("processingStatus")
    if status in PROCESSING:
        return None
    document_id = (feed or {}).get("resultFeedDocumentId")
    if status == DONE:
        if not document_id:
            raise DataError(f"Amazon feed {feed_id} is done but has no report.")
        return parse_report(download_report(client, document_id), writes)
    reason = f"Amazon feed {feed_id} ended {status or 'without a status'}"
    if document_id:
        report = download_report(client, document_id)
        messages = [
            str(issue.get("message"))
            for issue in report.get("issues") or ()
            if isinstance(issue, dict) and issue.get("message")
        ]
        if messages:
            reason += ": " + "; ".join(messages)[:500]
    elif status == "CANCELLED":
        reason += " (cancelled before processing)"
    return StockWriteResult(
        errors=tuple((write, f"SKU {write.item_ref}: {reason}") for write in writes)
    )
