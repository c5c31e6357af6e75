"""Field types of the stack config, each with the check that makes a bad value fail before deploy.

A message names what is allowed and shows the given value, truncated and with
control characters escaped, so no input can flood or split an error line.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Literal

from pydantic import AfterValidator
from pydantic_core import PydanticCustomError

SHOWN_CHARS = 60


def shown(value: Any) -> str:
    """A value as an error message shows it: repr, control characters escaped, at most ``SHOWN_CHARS``."""
    text = repr(value)
    text = "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in text)
    return text if len(text) <= SHOWN_CHARS else text[: SHOWN_CHARS - 1] + "…"


def cross_field_error(problems: list[str]) -> PydanticCustomError:
    """One error carrying several problems, each ``relative.key.path: message``."""
    return PydanticCustomError("cross_field", "{problems}", {"problems": "\n".join(problems)})


def _check_port(value: int) -> int:
    if not 1 <= value <= 65535:
        raise ValueError(f"must be 1-65535, got {shown(value)}")
    return value


def _check_pinned(ref: str) -> str:
    """An image reference must name a fixed version: a tag other than latest, or a digest."""
    if "@sha256:" in ref:
        return ref
    name, _, tag = ref.rpartition(":")
    if not name or "/" in tag or not tag:
        raise ValueError(f"must be pinned to a version tag or digest (e.g. postgres:16.11-bookworm), got {shown(ref)}")
    if tag == "latest":
        raise ValueError(f"must not use the 'latest' tag (pin a version), got {shown(ref)}")
    return ref


def parse_address(value: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    """An IP address without an IPv6 zone id (a zone id is not an address Docker can bind)."""
    address = ipaddress.ip_address(value)
    if isinstance(address, ipaddress.IPv6Address) and address.scope_id is not None:
        raise ValueError("zone id")
    return address


def _check_address(value: str) -> str:
    try:
        parse_address(value)
    except ValueError:
        raise ValueError(
            f"must be an IP address such as 127.0.0.1 or ::1 (no IPv6 zone id), got {shown(value)}"
        ) from None
    return value


_LABEL = r"(?!-)[A-Za-z0-9-]{1,63}(?<!-)"
_HOST_NAME = re.compile(rf"{_LABEL}(\.{_LABEL})*\.?")


def is_host_name(value: str) -> bool:
    """A DNS host name (RFC 1123 labels) or an IP address (IPv6 bare or in brackets); no wildcard or port."""
    if len(value) <= 253 and _HOST_NAME.fullmatch(value):
        return True
    bare = value[1:-1] if value.startswith("[") and value.endswith("]") else value
    try:
        address = parse_address(bare)
    except ValueError:
        return False
    return bare == value or isinstance(address, ipaddress.IPv6Address)


def _split_host_port(value: str) -> tuple[str, str | None]:
    """``host``, ``host:port``, ``[v6]``, ``[v6]:port`` or a bare IPv6 address."""
    if value.startswith("["):
        host, bracket, rest = value.partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ValueError("unbalanced brackets")
        return host + "]", rest[1:] if rest else None
    if value.count(":") == 1:
        host, port = value.split(":")
        return host, port
    return value, None


def _check_host(value: str) -> str:
    try:
        host, port = _split_host_port(value)
        ok = is_host_name(host) and (port is None or (port.isdigit() and 1 <= int(port) <= 65535))
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(
            "must be a host name or IP address, optionally with :port (IPv6 in brackets); no wildcard, "
            f"scheme or path, got {shown(value)}"
        )
    return value


def _check_public_host(value: str) -> str:
    if not is_host_name(value):
        raise ValueError(f"must be a host name or IP address (no port, scheme or wildcard), got {shown(value)}")
    return value


_BUCKET = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")


def _check_bucket(value: str) -> str:
    """An S3 bucket name that works path-style and virtual-host style everywhere: no dots, no uppercase."""
    if not _BUCKET.fullmatch(value):
        raise ValueError(f"must be an S3 bucket name: 3-63 lowercase letters, digits and '-', got {shown(value)}")
    return value


def _check_s3_endpoint(value: str) -> str:
    scheme, sep, rest = value.partition("://")
    host = rest.rstrip("/")
    ok = bool(sep) and scheme in ("http", "https") and "/" not in host and host != ""
    if ok:
        try:
            name, port = _split_host_port(host)
            ok = is_host_name(name) and (port is None or (port.isdigit() and 1 <= int(port) <= 65535))
        except ValueError:
            ok = False
    if not ok:
        raise ValueError(f"must be an http(s) URL of an S3 endpoint without a path, e.g. https://s3.example.com, "
                         f"got {shown(value)}")
    return value.rstrip("/")


Port = Annotated[int, AfterValidator(_check_port)]
BucketName = Annotated[str, AfterValidator(_check_bucket)]
S3Endpoint = Annotated[str, AfterValidator(_check_s3_endpoint)]
PinnedImage = Annotated[str, AfterValidator(_check_pinned)]
IPAddress = Annotated[str, AfterValidator(_check_address)]
HostAndPort = Annotated[str, AfterValidator(_check_host)]
HostName = Annotated[str, AfterValidator(_check_public_host)]
Executor = Literal["LocalExecutor", "CeleryExecutor"]

#: The most memory one container may be given (256 GiB); a larger value is a typo, not a plan.
MAX_MEMORY_MB = 262144
#: The least CPU quota Docker accepts meaningfully, and the most a container may be given.
MIN_CPUS, MAX_CPUS = 0.01, 256
