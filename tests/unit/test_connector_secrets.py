"""Secrets at rest: encrypted with the configured key, rotatable."""

import pytest
from cryptography.fernet import Fernet

from odoo.addons.marketplace_connector.lib.secrets_box import MissingKeyError, SecretBox


def test_round_trip_and_ciphertext_hides_the_secret():
    box = SecretBox(Fernet.generate_key().decode())
    token = box.encrypt("shpat_very_secret")
    assert "shpat_very_secret" not in token
    assert box.decrypt(token) == "shpat_very_secret"


def test_empty_values_stay_empty():
    box = SecretBox(Fernet.generate_key().decode())
    assert box.encrypt("") is False
    assert box.decrypt(False) == ""


def test_missing_key_names_where_to_set_it():
    with pytest.raises(MissingKeyError, match="marketplace_encryption_key"):
        SecretBox("")
    with pytest.raises(MissingKeyError, match="not a valid Fernet key"):
        SecretBox("not-a-key")


def test_key_rotation_keeps_old_values_readable():
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    token = SecretBox(old).encrypt("s3cret")
    rotated = SecretBox(f"{new},{old}")
    assert rotated.decrypt(token) == "s3cret"
    assert SecretBox(new).decrypt(rotated.encrypt("x")) == "x"


def test_wrong_key_is_an_actionable_error():
    token = SecretBox(Fernet.generate_key().decode()).encrypt("s3cret")
    with pytest.raises(MissingKeyError, match="re-enter the secret"):
        SecretBox(Fernet.generate_key().decode()).decrypt(token)
