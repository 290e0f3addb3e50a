"""An SQS standard queue behind the AWS JSON 1.0 protocol that boto3 (botocore
>= 1.34) speaks to SQS: ``POST /`` with ``X-Amz-Target: AmazonSQS.<Action>``
and ``Content-Type: application/x-amz-json-1.0``. Errors are
``{"__type": "com.amazonaws.sqs#<Shape>", "message"}`` plus the
``x-amzn-query-error: <legacy code>;Sender`` header botocore reads, so
``ClientError.response["Error"]["Code"]`` is the classic SQS code
(``AWS.SimpleQueueService.NonExistentQueue``, ``ReceiptHandleIsInvalid``,
``InvalidParameterValue``...).

Semantics: at-least-once. A received message is invisible for its
visibility timeout (sim clock) and comes back if not deleted, with
``ApproximateReceiveCount`` one higher and a new receipt handle; deleting
with an older handle of a message received again since succeeds and deletes
nothing, as on SQS. With a redrive policy a message received more than
``maxReceiveCount`` times moves to the dead-letter queue. Fault knobs:
``duplicate_next`` (the next received messages are delivered again later:
same MessageId and body, a new handle), ``reorder`` (deliver visible
messages in random order), ``inject_malformed`` (a non-JSON body) and
``deletes_failing`` (the next deletions fail with ``InternalError``: the
messages come back after their visibility timeout).
The request must carry a SigV4 ``Authorization`` naming a known access key;
the signature itself is not checked.
"""

import hashlib
import json
import random
import re
import secrets
import threading
import time
import uuid

from .wire import Response

JSON_10 = "application/x-amz-json-1.0"
ACCOUNT = "000000000000"
_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")


class SqsError(Exception):
    def __init__(self, shape, code, message, status=400):
        super().__init__(message)
        self.shape, self.code, self.message, self.status = shape, code, message, status

    def response(self):
        body = json.dumps(
            {"__type": f"com.amazonaws.sqs#{self.shape}", "message": self.message}
        )
        return Response(
            self.status,
            body.encode(),
            {"Content-Type": JSON_10, "x-amzn-query-error": f"{self.code};Sender"},
        )


_INTERNAL_ERROR = "We encountered an internal error. Please try again."


def _internal_error():
    return SqsError("InternalError", "InternalError", _INTERNAL_ERROR, 500)


def _invalid(message):
    return SqsError("InvalidParameterValueException", "InvalidParameterValue", message)


class _Copy:
    """One deliverable copy of a message (duplicates are separate copies)."""

    def __init__(self, message_id, body, sent):
        self.message_id = message_id
        self.body = body
        self.sent = sent
        self.receive_count = 0
        self.first_receive = None
        self.visible_at = sent
        self.handle = None


class Queue:
    def __init__(
        self,
        name,
        clock,
        base_url,
        visibility_timeout=30,
        dead_letter=None,
        max_receive_count=None,
    ):
        self.name = name
        self.clock = clock
        self.base_url = base_url
        self.visibility_timeout = visibility_timeout
        self.dead_letter = dead_letter
        self.max_receive_count = max_receive_count
        self.created = clock()
        self.copies = []
        self.handles = {}  # every handle ever issued -> copy
        self.duplicates_pending = 0
        self.deletes_failing = 0
        self.reorder = False
        self._rng = random.Random(0)

    @property
    def url(self):
        return f"{self.base_url()}/{ACCOUNT}/{self.name}"

    @property
    def arn(self):
        return f"arn:aws:sqs:us-east-1:{ACCOUNT}:{self.name}"

    def send(self, body, message_id=None):
        copy = _Copy(message_id or str(uuid.uuid4()), body, self.clock())
        self.copies.append(copy)
        return copy

    def receive(self, limit, visibility):
        now = self.clock()
        ready = [copy for copy in self.copies if copy.visible_at <= now]
        if self.reorder:
            self._rng.shuffle(ready)
        taken = []
        for copy in ready:
            if len(taken) >= limit:
                break
            if (
                self.dead_letter is not None
                and self.max_receive_count
                and copy.receive_count >= self.max_receive_count
            ):
                self.copies.remove(copy)
                moved = self.dead_letter.send(copy.body, copy.message_id)
                moved.receive_count = 0
                continue
            copy.receive_count += 1
            copy.first_receive = copy.first_receive or now
            copy.visible_at = now + visibility
            copy.handle = secrets.token_urlsafe(48)
            self.handles[copy.handle] = copy
            taken.append(copy)
            if self.duplicates_pending > 0:
                self.duplicates_pending -= 1
                self.send(copy.body, copy.message_id)
        return taken

    def delete_fails(self):
        """Whether this deletion is one of the failing ones (and count it)."""
        if self.deletes_failing > 0:
            self.deletes_failing -= 1
            return True
        return False

    def copy_for(self, handle):
        """The copy a handle was issued for, None when stale (received again
        or already deleted); SqsError when never issued."""
        copy = self.handles.get(handle)
        if copy is None:
            raise SqsError(
                "ReceiptHandleIsInvalid",
                "ReceiptHandleIsInvalid",
                f'The input receipt handle "{handle}" is not a valid receipt handle.',
            )
        if copy.handle != handle or copy not in self.copies:
            return None
        return copy

    def attributes(self):
        now = self.clock()
        visible = sum(1 for copy in self.copies if copy.visible_at <= now)
        attributes = {
            "QueueArn": self.arn,
            "ApproximateNumberOfMessages": str(visible),
            "ApproximateNumberOfMessagesNotVisible": str(len(self.copies) - visible),
            "ApproximateNumberOfMessagesDelayed": "0",
            "VisibilityTimeout": str(self.visibility_timeout),
            "CreatedTimestamp": str(int(self.created)),
            "LastModifiedTimestamp": str(int(self.created)),
            "DelaySeconds": "0",
            "ReceiveMessageWaitTimeSeconds": "0",
            "MaximumMessageSize": "262144",
            "MessageRetentionPeriod": "345600",
        }
        if self.dead_letter is not None:
            attributes["RedrivePolicy"] = json.dumps(
                {
                    "deadLetterTargetArn": self.dead_letter.arn,
                    "maxReceiveCount": self.max_receive_count,
                }
            )
        return attributes


class SqsService:
    def __init__(self, clock, access_keys, base_url_getter):
        self.clock = clock
        self.access_keys = set(access_keys)
        self._base_url = base_url_getter
        self.lock = threading.Condition()
        self.queues = {}

    def create_queue(self, name, visibility_timeout=30, max_receive_count=None):
        with self.lock:
            dead = None
            if max_receive_count:
                dead = Queue(
                    f"{name}-dlq", self.clock, self._base_url, visibility_timeout
                )
                self.queues[dead.name] = dead
            queue = Queue(
                name,
                self.clock,
                self._base_url,
                visibility_timeout,
                dead,
                max_receive_count,
            )
            self.queues[name] = queue
            return queue

    def send(self, queue_name, body):
        with self.lock:
            copy = self.queues[queue_name].send(body)
            self.lock.notify_all()
            return copy.message_id

    # HTTP

    def handle(self, request):
        """``(operation name, Response)``."""
        target = request.header("X-Amz-Target") or ""
        action = target.split(".", 1)[1] if "." in target else target
        try:
            self._authorise(request)
            try:
                params = json.loads(request.body or b"{}")
            except ValueError:
                raise SqsError(
                    "SerializationException",
                    "SerializationException",
                    "the body is not JSON",
                ) from None
            handler = getattr(self, f"_{action}", None) if action.isalpha() else None
            if handler is None:
                raise SqsError(
                    "UnsupportedOperation",
                    "AWS.SimpleQueueService.UnsupportedOperation",
                    f"{action} is not supported by the simulator",
                )
            result = handler(params)
        except SqsError as err:
            return f"sqs:{action}", err.response()
        return f"sqs:{action}", Response(
            200, json.dumps(result).encode(), {"Content-Type": JSON_10}
        )

    def _authorise(self, request):
        header = request.header("Authorization") or ""
        match = _CREDENTIAL.search(header)
        if not header.startswith("AWS4-HMAC-SHA256") or match is None:
            raise SqsError(
                "MissingAuthenticationTokenException",
                "MissingAuthenticationToken",
                "Request is missing Authentication Token",
                403,
            )
        if match.group(1) not in self.access_keys:
            raise SqsError(
                "InvalidClientTokenId",
                "InvalidClientTokenId",
                "The security token included in the request is invalid.",
                403,
            )

    def _queue(self, params):
        url = params.get("QueueUrl")
        if not isinstance(url, str):
            raise _invalid("QueueUrl is required")
        queue = self.queues.get(url.rstrip("/").rsplit("/", 1)[-1])
        if queue is None or queue.url != url.rstrip("/"):
            raise SqsError(
                "QueueDoesNotExist",
                "AWS.SimpleQueueService.NonExistentQueue",
                "The specified queue does not exist.",
            )
        return queue

    @staticmethod
    def _int(params, name, low, high, default):
        value = params.get(name, default)
        if (
            isinstance(value, bool)
            or not isinstance(value, int)
            or not low <= value <= high
        ):
            raise _invalid(
                f"Value {value} for parameter {name} is invalid. "
                f"Reason: Must be between {low} and {high}, if provided."
            )
        return value

    def _GetQueueUrl(self, params):
        with self.lock:
            queue = self.queues.get(params.get("QueueName"))
        if queue is None:
            raise SqsError(
                "QueueDoesNotExist",
                "AWS.SimpleQueueService.NonExistentQueue",
                "The specified queue does not exist.",
            )
        return {"QueueUrl": queue.url}

    def _SendMessage(self, params):
        body = params.get("MessageBody")
        if not isinstance(body, str) or not body:
            raise _invalid("The request must contain the parameter MessageBody.")
        with self.lock:
            copy = self._queue(params).send(body)
            self.lock.notify_all()
        return {"MessageId": copy.message_id, "MD5OfMessageBody": _md5(body)}

    def _ReceiveMessage(self, params):
        limit = self._int(params, "MaxNumberOfMessages", 1, 10, 1)
        wait = self._int(params, "WaitTimeSeconds", 0, 20, 0)
        with self.lock:
            queue = self._queue(params)
            visibility = self._int(
                params, "VisibilityTimeout", 0, 43200, queue.visibility_timeout
            )
            names = set(params.get("MessageSystemAttributeNames") or ())
            names |= set(params.get("AttributeNames") or ())
            deadline_real = self.clock.real_seconds(wait)
            copies = queue.receive(limit, visibility)
            end = time.monotonic() + deadline_real
            while not copies:  # long polling; short waits also see timeouts lapse
                remaining = end - time.monotonic()
                if remaining <= 0:
                    break
                self.lock.wait(min(remaining, 0.05))
                copies = queue.receive(limit, visibility)
            messages = [self._render(copy, names) for copy in copies]
        return {"Messages": messages} if messages else {}

    def _render(self, copy, names):
        message = {
            "MessageId": copy.message_id,
            "ReceiptHandle": copy.handle,
            "MD5OfBody": _md5(copy.body),
            "Body": copy.body,
        }
        every = "All" in names
        attributes = {}
        if every or "ApproximateReceiveCount" in names:
            attributes["ApproximateReceiveCount"] = str(copy.receive_count)
        if every or "SentTimestamp" in names:
            attributes["SentTimestamp"] = str(int(copy.sent * 1000))
        if every or "ApproximateFirstReceiveTimestamp" in names:
            attributes["ApproximateFirstReceiveTimestamp"] = str(
                int(copy.first_receive * 1000)
            )
        if every or "SenderId" in names:
            attributes["SenderId"] = "AIDASIMULATEDSENDER"
        if attributes:
            message["Attributes"] = attributes
        return message

    def _DeleteMessage(self, params):
        with self.lock:
            queue = self._queue(params)
            copy = queue.copy_for(params.get("ReceiptHandle") or "")
            if queue.delete_fails():
                raise _internal_error()
            if copy is not None:
                queue.copies.remove(copy)
        return {}

    def _DeleteMessageBatch(self, params):
        entries = params.get("Entries") or []
        if not entries:
            raise SqsError(
                "EmptyBatchRequest",
                "AWS.SimpleQueueService.EmptyBatchRequest",
                "There should be at least one DeleteMessageBatchRequestEntry "
                "in the request.",
            )
        if len(entries) > 10:
            raise SqsError(
                "TooManyEntriesInBatchRequest",
                "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
                "Maximum number of entries per request are 10. "
                f"You have sent {len(entries)}.",
            )
        ids = [entry.get("Id") for entry in entries]
        if len(set(ids)) != len(ids):
            raise SqsError(
                "BatchEntryIdsNotDistinct",
                "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
                "Two or more batch entries in the request have the same Id.",
            )
        successful, failed = [], []
        with self.lock:
            queue = self._queue(params)
            for entry in entries:
                try:
                    copy = queue.copy_for(entry.get("ReceiptHandle") or "")
                except SqsError as err:
                    failed.append(
                        {
                            "Id": entry["Id"],
                            "SenderFault": True,
                            "Code": err.code,
                            "Message": err.message,
                        }
                    )
                    continue
                if queue.delete_fails():
                    failed.append(
                        {
                            "Id": entry["Id"],
                            "SenderFault": False,
                            "Code": "InternalError",
                            "Message": _INTERNAL_ERROR,
                        }
                    )
                    continue
                if copy is not None:
                    queue.copies.remove(copy)
                successful.append({"Id": entry["Id"]})
        return {"Successful": successful, "Failed": failed}

    def _ChangeMessageVisibility(self, params):
        timeout = self._int(params, "VisibilityTimeout", 0, 43200, None)
        with self.lock:
            queue = self._queue(params)
            copy = queue.copy_for(params.get("ReceiptHandle") or "")
            if copy is None or copy.visible_at <= self.clock():
                raise SqsError(
                    "MessageNotInflight",
                    "AWS.SimpleQueueService.MessageNotInflight",
                    "The message referred to isn't in flight.",
                )
            copy.visible_at = self.clock() + timeout
            self.lock.notify_all()
        return {}

    def _GetQueueAttributes(self, params):
        with self.lock:
            attributes = self._queue(params).attributes()
        names = params.get("AttributeNames") or []
        if "All" in names:
            return {"Attributes": attributes}
        unknown = [name for name in names if name not in attributes]
        if unknown:
            raise SqsError(
                "InvalidAttributeName",
                "InvalidAttributeName",
                f"Unknown Attribute {unknown[0]}.",
            )
        return (
            {"Attributes": {name: attributes[name] for name in names}} if names else {}
        )

    def _PurgeQueue(self, params):
        with self.lock:
            self._queue(params).copies.clear()
        return {}


def _md5(text):
    return hashlib.md5(text.encode("utf-8")).hexdigest()
