"""Turn the raw stack config into a ``PlatformConfig`` or one readable error.

Pydantic's own messages are rewritten so a user sees the key path and what is
allowed (``platform.mlflow.port: must be 1-65535, got 70000``), never a raw
KeyError, TypeError or validation dump, and sees it before any resource exists.
"""

from __future__ import annotations

from typing import Any
from collections.abc import Mapping

import pulumi
from pydantic import BaseModel, ValidationError

from config.models import PlatformConfig
from config.types import shown

KEY_CHARS = 40


def key_text(part: Any) -> str:
    """One key of a path as an error shows it: control characters escaped, at most ``KEY_CHARS``."""
    text = "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii") for ch in str(part))
    return text if len(text) <= KEY_CHARS else text[: KEY_CHARS - 1] + "…"

CONFIG_NAMESPACE = "mlplatform"
CONFIG_KEY = "platform"


class ConfigError(pulumi.RunError):
    """Invalid stack config; a RunError so Pulumi prints the message without a traceback."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"invalid stack config `{CONFIG_NAMESPACE}:{CONFIG_KEY}` ({len(problems)} problem(s)):\n{lines}"
        )


def _model_at(loc: tuple[Any, ...], model: type[BaseModel] = PlatformConfig) -> type[BaseModel] | None:
    """The model class that owns the field at ``loc`` (used to list allowed keys)."""
    current: Any = model
    for part in loc:
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(str(part))
        if field is None:
            return None
        current = field.annotation
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _describe(error: Mapping[str, Any]) -> str:
    loc = tuple(error["loc"])
    path = ".".join([CONFIG_KEY, *map(key_text, loc)])
    kind = error["type"]
    given = error.get("input")
    if kind == "extra_forbidden":
        owner = _model_at(loc[:-1])
        allowed = ", ".join(owner.model_fields) if owner else "see README"
        return f"{path}: unknown key; allowed keys here: {allowed}"
    if kind == "missing":
        return f"{path}: required"
    message = str(error["msg"]).removeprefix("Value error, ")
    if kind == "cross_field":
        # Model-level checks name their own keys relative to the model.
        return "\n".join(f"{path}.{line}" for line in message.splitlines())
    if kind == "value_error":
        return f"{path}: {message}"
    return f"{path}: {message[0].lower()}{message[1:]}, got {shown(given)}"


def parse_platform(raw: Any, stack: str) -> PlatformConfig:
    """Validate a raw config object (as read from ``Pulumi.<stack>.yaml``)."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigError([f"{CONFIG_KEY}: must be a mapping of settings, got {type(raw).__name__}"])
    data = dict(raw)
    data.setdefault("environment", stack)
    try:
        return PlatformConfig.model_validate(data)
    except ValidationError as exc:
        problems: list[str] = []
        for error in exc.errors():
            problems.extend(_describe(error).splitlines())
        raise ConfigError(problems) from None


#: Secret config (``pulumi config set --secret mlplatform:<key>``) of an existing S3 bucket for MLflow's artifacts.
EXTERNAL_ARTIFACTS_KEYS = ("artifactsAccessKeyId", "artifactsSecretAccessKey")


def external_artifacts_credentials(
    config: pulumi.Config | None = None,
) -> tuple[pulumi.Output[str], pulumi.Output[str]]:
    """(access key id, secret access key) for ``mlflow.artifacts: external``, from secret config."""
    config = config or pulumi.Config(CONFIG_NAMESPACE)
    values = [config.get_secret(key) for key in EXTERNAL_ARTIFACTS_KEYS]
    missing = [key for key, value in zip(EXTERNAL_ARTIFACTS_KEYS, values, strict=True) if value is None]
    if missing:
        raise ConfigError([
            f"{CONFIG_KEY}.mlflow.artifacts: external needs the secret config {CONFIG_NAMESPACE}:{key} "
            f"(`pulumi config set --secret {CONFIG_NAMESPACE}:{key} <value>`)"
            for key in missing
        ])
    key_id, secret = values
    assert key_id is not None and secret is not None
    return key_id, secret


def ingest_secret_config(keys: list[str], config: pulumi.Config | None = None) -> dict[str, pulumi.Output[str]]:
    """The secret config values ``ingestion.sources[].secret_config`` names, or one error listing the missing."""
    config = config or pulumi.Config(CONFIG_NAMESPACE)
    values = {key: config.get_secret(key) for key in keys}
    missing = [key for key, value in values.items() if value is None]
    if missing:
        raise ConfigError([
            f"{CONFIG_KEY}.ingestion.sources: secret_config names {CONFIG_NAMESPACE}:{key}, which is not set "
            f"(`pulumi config set --secret {CONFIG_NAMESPACE}:{key} <value>`)"
            for key in missing
        ])
    return {key: value for key, value in values.items() if value is not None}


def load_platform(config: pulumi.Config | None = None) -> PlatformConfig:
    """Read ``mlplatform:platform`` from the current stack and validate it."""
    config = config or pulumi.Config(CONFIG_NAMESPACE)
    try:
        raw = config.get_object(CONFIG_KEY)
    except Exception as exc:  # malformed JSON/YAML value in the stack file
        raise ConfigError([f"{CONFIG_KEY}: cannot be read as an object ({exc})"]) from None
    return parse_platform(raw, pulumi.get_stack())
