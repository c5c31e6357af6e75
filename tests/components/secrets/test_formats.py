"""Generated secrets have the formats the services require, and are secret, under realistic mocks."""

from __future__ import annotations

import base64
import string
from collections.abc import Callable

import pulumi
from cryptography.fernet import Fernet

from components import secrets
from testing.program import Export, declare_component


def _generate(make: Callable[[], pulumi.Output[str]]) -> Export:
    return declare_component(lambda ctx: {"value": make()}).exports["value"]


def test_fernet_key_is_accepted_by_cryptography():
    key = _generate(lambda: secrets.fernet_key("fk")).value
    assert len(key) == 44 and key.endswith("=")
    token = Fernet(key.encode()).encrypt(b"connection password")
    assert Fernet(key.encode()).decrypt(token) == b"connection password"


def test_fernet_conversion_uses_the_url_safe_alphabet():
    raw = bytes(range(250, 256)) * 5 + b"\xff\xfe"
    converted = secrets.fernet_key_from_base64(base64.b64encode(raw).decode())
    assert "+" not in converted and "/" not in converted
    assert base64.urlsafe_b64decode(converted) == raw


def test_password_is_long_and_url_safe():
    value = _generate(lambda: secrets.password("pw")).value
    assert len(value) == 32
    assert set(value) <= set(string.ascii_letters + string.digits + "-_")


def test_hex_secret_has_the_requested_length():
    assert len(_generate(lambda: secrets.hex_secret("jwt", 64)).value) == 128


def test_password_is_a_secret_output():
    assert _generate(lambda: secrets.password("pw")).secret


def test_fernet_key_stays_secret_through_its_conversion():
    assert _generate(lambda: secrets.fernet_key("fk")).secret


def test_hex_secret_is_a_secret_output():
    assert _generate(lambda: secrets.hex_secret("hx", 32)).secret
