"""Generated secrets: pulumi-random resources whose results are secret Outputs.

Only RandomPassword and RandomBytes are used: their results are marked secret by
the provider and they are stable across updates. RandomId/RandomString are not
secret (RandomId even keeps its value as the plain resource id) and never used.
"""

from __future__ import annotations


import pulumi
import pulumi_random as random

#: Characters safe unescaped in URLs, ini files, YAML and double-quoted shell.
URL_SAFE_SPECIALS = "-_"


def keepers(generation: int) -> dict[str, str] | None:
    """pulumi-random's keepers for a rotation generation: a new generation replaces the value.

    Generation 0 has none, so secrets generated before rotation existed keep their values.
    """
    return {"rotation": str(generation)} if generation else None


def password(
    name: str, opts: pulumi.ResourceOptions | None = None, length: int = 32, generation: int = 0
) -> pulumi.Output[str]:
    """A strong password that needs no escaping in connection URLs or config files."""
    return random.RandomPassword(
        name,
        length=length,
        special=True,
        override_special=URL_SAFE_SPECIALS,
        min_lower=2,
        min_upper=2,
        min_numeric=2,
        keepers=keepers(generation),
        opts=opts,
    ).result


def fernet_key_from_base64(standard_b64: str) -> str:
    """Turn standard padded base64 of 32 bytes into the url-safe padded form Fernet requires."""
    return standard_b64.replace("+", "-").replace("/", "_")


def fernet_key(name: str, opts: pulumi.ResourceOptions | None = None) -> pulumi.Output[str]:
    """A valid Airflow Fernet key: 32 random bytes, url-safe base64 WITH padding (44 chars).

    Rotation makes a new key under a new name (the old one must stay readable while
    Airflow re-encrypts), so Fernet keys take no generation.
    """
    return random.RandomBytes(name, length=32, opts=opts).base64.apply(fernet_key_from_base64)


def hex_secret(
    name: str, num_bytes: int, opts: pulumi.ResourceOptions | None = None, generation: int = 0
) -> pulumi.Output[str]:
    """``num_bytes`` random bytes as hex (2 characters per byte)."""
    return random.RandomBytes(name, length=num_bytes, keepers=keepers(generation), opts=opts).hex
