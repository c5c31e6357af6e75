"""Generated secrets have the formats the services require, under realistic mocks."""

from __future__ import annotations

import base64
import string

import pulumi
from cryptography.fernet import Fernet

from components import secrets
from tests.pulumi_mocks import setup_mocks


def _resolve(make):
    setup_mocks("dev", {})
    seen = {}

    @pulumi.runtime.test
    def run():
        return pulumi.Output.from_input(make()).apply(lambda value: seen.update(value=value))

    run()
    return seen["value"]


def _is_secret(make) -> bool:
    setup_mocks("dev", {})
    seen = {}

    @pulumi.runtime.test
    def run():
        out = make()

        async def check():
            seen["secret"] = await out.is_secret()

        return pulumi.Output.from_input(check())

    run()
    return seen["secret"]


def test_fernet_key_is_valid_for_cryptography():
    key = _resolve(lambda: secrets.fernet_key("fk"))
    assert len(key) == 44 and key.endswith("=")
    token = Fernet(key.encode()).encrypt(b"connection password")
    assert Fernet(key.encode()).decrypt(token) == b"connection password"


def test_fernet_conversion_uses_url_safe_alphabet():
    raw = bytes(range(250, 256)) * 5 + b"\xff\xfe"
    converted = secrets.fernet_key_from_base64(base64.b64encode(raw).decode())
    assert "+" not in converted and "/" not in converted
    assert base64.urlsafe_b64decode(converted) == raw


def test_password_is_long_and_url_safe():
    value = _resolve(lambda: secrets.password("pw"))
    assert len(value) == 32
    assert set(value) <= set(string.ascii_letters + string.digits + "-_")


def test_hex_secret_has_requested_length():
    assert len(_resolve(lambda: secrets.hex_secret("jwt", 64))) == 128


def test_generated_values_are_secret():
    assert _is_secret(lambda: secrets.password("pw"))
    assert _is_secret(lambda: secrets.fernet_key("fk"))
    assert _is_secret(lambda: secrets.hex_secret("hx", 32))
