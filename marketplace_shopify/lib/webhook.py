"""Shopify webhook signatures.

Shopify signs each delivery with ``X-Shopify-Hmac-Sha256``: the base64 of an
HMAC-SHA256 of the *raw* request body, keyed with the app's client secret.
The check therefore runs on the bytes as received, before any JSON parsing
(re-serialising a parsed body changes the bytes and breaks the signature).

During a secret rotation Shopify keeps signing with the oldest unrevoked
secret for up to an hour, so a delivery is accepted when it matches any of
the configured secrets (the current one, then the previous one).
"""

import base64
import binascii
import hashlib
import hmac


def compute_hmac(body, secret):
    """The ``X-Shopify-Hmac-Sha256`` value Shopify would send for ``body``.

    :param body: the raw request body (bytes).
    :param secret: the app's client secret (str).
    :return: the base64 text of the HMAC-SHA256 digest.
    """
    digest = hmac.new(secret.encode("utf-8"), bytes(body), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_hmac(body, header_value, secrets):
    """Whether ``header_value`` is a valid signature of ``body``.

    Never raises for a bad header: a missing, empty or garbled value (not
    base64, wrong length, not text) is simply not a valid signature.

    :param body: the raw request body (bytes), exactly as received.
    :param header_value: the ``X-Shopify-Hmac-Sha256`` header, or ``None``.
    :param secrets: the secrets a delivery may be signed with, current first;
        empty ones are skipped.
    :return: ``True`` when one of the secrets produces this signature.
    """
    if not header_value or not isinstance(header_value, (str, bytes)):
        return False
    try:
        received = base64.b64decode(header_value.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    if len(received) != hashlib.sha256().digest_size:
        return False
    body = bytes(body)
    for secret in secrets:
        if not secret:
            continue
        expected = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
        if hmac.compare_digest(expected, received):
            return True
    return False
