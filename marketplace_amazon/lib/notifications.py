"""ORDER_CHANGE notifications: pulled from the seller's SQS queue, parsed into
inbox events, deleted once stored.

Amazon delivers notifications only to SQS (or EventBridge), never to a
webhook, and SQS standard queues deliver at least once, in no guaranteed
order: duplicates of one ``NotificationId`` happen. So:

* a notification is a *trigger*: its event carries the notification, and
  the importer re-reads the order (``getOrder``) before mapping it;
* its dedupe key names the order state (id, status, change type, change
  time; :func:`.orders.dedupe_key`), so a redelivery and a second
  notification of the same change are stored once;
* its demand (MFN orders only; AFN is shipped from Amazon's stock, and a
  cancelled order takes nothing) counts against available-to-sell at once,
  before the order is imported;
* deletion is the core's acknowledgement, after the commit: a failed delete
  is logged, not raised -- the message comes back and dedupes.

What cannot be parsed raises :class:`DataError` (stored as a failed event
with its raw body, then acknowledged); another notification type returns
``None`` (acknowledged, not stored).

The queue is read with boto3 (long polling, up to 20 s and 10 messages per
call). AWS keys come from the backend, else from boto3's usual chain
(environment, instance role).
"""

import json
import logging

from odoo.addons.marketplace_connector.lib.adapter import PulledMessage
from odoo.addons.marketplace_connector.lib.errors import (
    AuthenticationError,
    DataError,
    PermanentError,
    RetryableError,
)
from odoo.addons.marketplace_connector.lib.inbound import DemandLine, InboundEvent

from .mapping import CANCELLED, normalise_status, optional_datetime
from .orders import RESOURCE_ORDER, dedupe_key

_logger = logging.getLogger(__name__)

#: the source of an event pulled from a queue (next to the core's webhook/poll)
SOURCE_QUEUE = "queue"
ORDER_CHANGE = "ORDER_CHANGE"
MAX_WAIT_SECONDS = 20
MAX_MESSAGES = 10
#: SQS error codes that no retry fixes without new settings or credentials
_AUTH_CODES = (
    "InvalidClientTokenId",
    "SignatureDoesNotMatch",
    "AccessDenied",
    "AccessDeniedException",
    "UnrecognizedClientException",
    "MissingAuthenticationToken",
    "InvalidSecurity",
    "ExpiredToken",
)
_QUEUE_CODES = (
    "AWS.SimpleQueueService.NonExistentQueue",
    "QueueDoesNotExist",
    "InvalidAddress",
)


# Parsing


def _json_object(body):
    if isinstance(body, bytes):
        try:
            body = body.decode("utf-8")
        except UnicodeDecodeError as err:
            raise DataError("The queue message is not UTF-8 text.") from err
    try:
        payload = json.loads(body)
    except (TypeError, ValueError) as err:
        raise DataError(f"The queue message is not JSON: {str(body)[:200]!r}") from err
    if not isinstance(payload, dict):
        raise DataError(f"The queue message is not a JSON object: {str(body)[:200]!r}")
    return payload


def notification_demand(notification):
    """DemandLines of an ORDER_CHANGE notification (see the module doc)."""
    summary = notification.get("Summary") or {}
    if str(summary.get("FulfillmentType") or "").upper() != "MFN":
        return ()
    if normalise_status(summary.get("OrderStatus")) == CANCELLED:
        return ()
    demand = []
    for item in summary.get("OrderItems") or ():
        if not isinstance(item, dict):
            continue
        sku = str(item.get("SellerSKU") or "").strip()
        quantity = item.get("Quantity")
        if sku and isinstance(quantity, int) and quantity > 0:
            demand.append(DemandLine(variant_id=sku, sku=sku, quantity=float(quantity)))
    return tuple(demand)


def parse_notification(body):
    """The inbox event of a notification body, or ``None`` for another type.

    :raise DataError: not JSON, not a notification envelope, or an
        ORDER_CHANGE without an ``AmazonOrderId``.
    """
    envelope = _json_object(body)
    kind = envelope.get("NotificationType")
    if not isinstance(kind, str) or not isinstance(envelope.get("Payload"), dict):
        raise DataError(
            "The queue message is not an SP-API notification (no "
            "NotificationType or Payload)."
        )
    if kind != ORDER_CHANGE:
        return None
    notification = envelope["Payload"].get("OrderChangeNotification")
    if not isinstance(notification, dict) or not notification.get("AmazonOrderId"):
        raise DataError(
            "The ORDER_CHANGE notification has no OrderChangeNotification "
            "with an AmazonOrderId."
        )
    order_id = str(notification["AmazonOrderId"]).strip()
    trigger = notification.get("OrderChangeTrigger") or {}
    metadata = envelope.get("NotificationMetadata") or {}
    changed_at = optional_datetime(trigger.get("TimeOfOrderChange"))
    if changed_at is None:  # TimeOfOrderChange may be null: the event's time
        changed_at = optional_datetime(envelope.get("EventTime"))
    change = str(notification.get("OrderChangeType") or "")
    status = (notification.get("Summary") or {}).get("OrderStatus")
    key = dedupe_key(order_id, status, change, changed_at)
    if changed_at is None:  # no time at all: at least one event per notification
        key += f":{metadata.get('NotificationId') or ''}"
    headers = {}
    if metadata.get("NotificationId"):
        headers["NotificationId"] = str(metadata["NotificationId"])
    return InboundEvent(
        topic=ORDER_CHANGE,
        dedupe_key=key,
        resource_type=RESOURCE_ORDER,
        external_id=order_id,
        external_updated_at=changed_at,
        payload=envelope,
        headers=headers,
        source=SOURCE_QUEUE,
        demand=notification_demand(notification),
    )


def is_notification(payload):
    """Whether a stored payload is a notification (not an order)."""
    return isinstance(payload, dict) and "NotificationType" in payload


def notification_order(payload):
    """``(AmazonOrderId, v2026 status, TimeOfOrderChange)`` of a stored one."""
    notification = (payload.get("Payload") or {}).get("OrderChangeNotification") or {}
    order_id = str(notification.get("AmazonOrderId") or "").strip()
    if not order_id:
        raise DataError("The stored notification has no AmazonOrderId.")
    status = normalise_status((notification.get("Summary") or {}).get("OrderStatus"))
    trigger = notification.get("OrderChangeTrigger") or {}
    return order_id, status, optional_datetime(trigger.get("TimeOfOrderChange"))


# The queue


def _client_error(err, queue_url, what):
    """A botocore error as the core's error, in words."""
    from botocore.exceptions import ClientError, NoCredentialsError

    if isinstance(err, NoCredentialsError):
        return AuthenticationError(
            "No AWS access key is set for the notification queue: enter the "
            "AWS access key id and secret of an IAM user allowed to read it "
            "(or give the server an AWS role)."
        )
    if not isinstance(err, ClientError):  # endpoint, connection, read timeout
        return RetryableError(
            f"Cannot reach the SQS queue for {what} ({err.__class__.__name__})."
        )
    code = str(err.response.get("Error", {}).get("Code") or "")
    status = err.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0
    if code in _AUTH_CODES or status in (401, 403):
        return AuthenticationError(
            f"AWS refused the notification queue's credentials ({code}): check "
            f"the AWS access key id and secret on the backend, and that their "
            f"IAM user may read and delete messages of {queue_url}."
        )
    if code in _QUEUE_CODES:
        return PermanentError(
            f"The SQS queue {queue_url} does not exist ({code}): check the "
            f"queue URL and the SQS region on the backend."
        )
    if status >= 500 or "Throttl" in code or code == "RequestThrottled":
        return RetryableError(f"SQS failed {what} ({code or status}).")
    return PermanentError(f"SQS refused {what} ({code or status}): {err}")


class NotificationQueue:
    """The seller's SQS queue of SP-API notifications.

    :param sqs: a boto3 SQS client.
    """

    def __init__(self, sqs, queue_url):
        if not queue_url:
            raise PermanentError(
                "No SQS queue URL is set on the backend: enter the URL of the "
                "queue the ORDER_CHANGE subscription delivers to."
            )
        self.sqs = sqs
        self.queue_url = queue_url

    def _call(self, what, method, **params):
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return method(QueueUrl=self.queue_url, **params)
        except (BotoCoreError, ClientError) as err:
            raise _client_error(err, self.queue_url, what) from err

    def receive(self, max_messages=MAX_MESSAGES, wait_seconds=MAX_WAIT_SECONDS):
        """Up to ``max_messages`` (1..10) messages, waiting at most
        ``wait_seconds`` (0..20) for the first one."""
        answer = self._call(
            "ReceiveMessage",
            self.sqs.receive_message,
            MaxNumberOfMessages=max(1, min(MAX_MESSAGES, int(max_messages))),
            WaitTimeSeconds=max(0, min(MAX_WAIT_SECONDS, int(wait_seconds))),
            MessageSystemAttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
        )
        return [
            PulledMessage(
                message_id=message["MessageId"],
                receipt=message["ReceiptHandle"],
                body=message.get("Body") or "",
                attributes=dict(message.get("Attributes") or {}),
            )
            for message in answer.get("Messages") or ()
        ]

    def delete(self, messages):
        """Delete deliveries, ten per call; returns how many were deleted.

        Never raises: a message not deleted comes back after its visibility
        timeout and its event dedupes.
        """
        deleted = 0
        messages = list(messages)
        for start in range(0, len(messages), MAX_MESSAGES):
            chunk = messages[start : start + MAX_MESSAGES]
            entries = [
                {"Id": f"m{index}", "ReceiptHandle": message.receipt}
                for index, message in enumerate(chunk)
            ]
            try:
                answer = self._call(
                    "DeleteMessageBatch", self.sqs.delete_message_batch, Entries=entries
                )
            except (RetryableError, PermanentError) as err:
                _logger.error(
                    "Could not delete %d message(s) from %s: %s (they come back "
                    "and are deduplicated)",
                    len(chunk),
                    self.queue_url,
                    err,
                )
                continue
            deleted += len(answer.get("Successful") or ())
            for failure in answer.get("Failed") or ():
                index = int(str(failure.get("Id", "m-1"))[1:] or -1)
                message_id = chunk[index].message_id if 0 <= index < len(chunk) else "?"
                _logger.warning(
                    "SQS did not delete message %s (%s: %s); it comes back and "
                    "is deduplicated",
                    message_id,
                    failure.get("Code"),
                    failure.get("Message"),
                )
        return deleted

    def attributes(self):
        """The queue's ARN and approximate message counts."""
        answer = self._call(
            "GetQueueAttributes",
            self.sqs.get_queue_attributes,
            AttributeNames=[
                "QueueArn",
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
            ],
        )
        return dict(answer.get("Attributes") or {})


def make_sqs_client(config):
    """A boto3 SQS client for the backend (see the module doc)."""
    import boto3
    from botocore.config import Config

    region = config.setting("sqs_region")
    if not region:
        raise PermanentError(
            "No SQS region is set on the backend: enter the AWS region of the "
            "notification queue (e.g. us-east-1)."
        )
    return boto3.client(
        "sqs",
        endpoint_url=config.setting("sqs_endpoint_url") or None,
        region_name=region,
        aws_access_key_id=config.credential("aws_access_key_id") or None,
        aws_secret_access_key=config.credential("aws_secret_access_key") or None,
        config=Config(
            connect_timeout=5,
            read_timeout=MAX_WAIT_SECONDS + 10,  # longer than a long poll
            retries={"max_attempts": 2, "mode": "standard"},
        ),
    )
