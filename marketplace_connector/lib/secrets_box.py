"""Encryption at rest for credentials and webhook secrets.

The key never lives in the database: it comes from the Odoo configuration
file (``marketplace_encryption_key``) or the environment variable
``MARKETPLACE_ENCRYPTION_KEY``. It is a Fernet key (urlsafe base64 of 32
bytes): ``python -c "from cryptography.fernet import Fernet;
print(Fernet.generate_key().decode())"``. Several keys may be given,
comma-separated, newest first: values are encrypted with the first and
decrypted with any, so a key can be rotated without losing data.
"""

from cryptography.fernet import Fernet, InvalidToken, MultiFernet

from .errors import PermanentError

ENV_VARIABLE = "MARKETPLACE_ENCRYPTION_KEY"
CONFIG_OPTION = "marketplace_encryption_key"


class MissingKeyError(PermanentError):
    """No encryption key is configured."""


class SecretBox:
    """Encrypts and decrypts short text secrets with the configured key(s)."""

    def __init__(self, keys):
        keys = [k.strip() for k in (keys or "").split(",") if k.strip()]
        if not keys:
            raise MissingKeyError(
                f"No encryption key: set {CONFIG_OPTION} in the Odoo configuration "
                f"file or the {ENV_VARIABLE} environment variable."
            )
        try:
            self._fernet = MultiFernet([Fernet(k.encode()) for k in keys])
        except (ValueError, TypeError) as err:
            raise MissingKeyError(
                f"The {CONFIG_OPTION} value is not a valid Fernet key: {err}"
            ) from err

    def encrypt(self, plaintext):
        if not plaintext:
            return False
        return self._fernet.encrypt(plaintext.encode()).decode()

    def decrypt(self, token):
        if not token:
            return ""
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken as err:
            raise MissingKeyError(
                "A stored secret cannot be decrypted with the configured key: "
                "was the key changed? Restore it or re-enter the secret."
            ) from err
