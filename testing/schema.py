"""pulumi-docker's provider schema, and a check of recorded inputs against it.

``pulumi-docker-schema.json`` is the provider's schema (Container, Network,
Volume, RemoteImage and their types) from the pulumi-docker repository at
v5.1.0-24 (copied from shared/reference/). The pinned SDK (5.2.0) added
properties after that schema; they are read from the installed SDK's
``*Args`` classes, so a property the SDK accepts is known and a misspelled or
mistyped one is not.
"""

from __future__ import annotations

import functools
import inspect
import json
import re
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi_docker

from testing.mocks import Recorded, is_unknown

SCHEMA_FILE = Path(__file__).with_name("pulumi-docker-schema.json")
_ANY_REFS = ("pulumi.json#/Any", "pulumi.json#/Archive", "pulumi.json#/Asset")


def _camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def _sdk_type(annotation: Any) -> dict[str, Any] | None:
    """A schema type for a simple SDK annotation (``pulumi.Input[Optional[str]]`` -> string)."""
    text = str(annotation)
    for python, schema_type in (("str", "string"), ("bool", "boolean"), ("int", "integer"), ("float", "number")):
        if re.search(rf"\b{python}\b", text) and not re.search(r"Sequence|Mapping|Args", text):
            return {"type": schema_type}
    return None


def _sdk_class(token: str, suffix: str = "Args") -> type | None:
    """The SDK class for a schema token, e.g. docker:index/ContainerUpload:ContainerUpload -> ContainerUploadArgs."""
    name = token.rsplit(":", 1)[-1] + suffix
    cls = getattr(pulumi_docker, name, None)
    return cls if isinstance(cls, type) else None


def _sdk_additions(token: str, known: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Properties the installed SDK's Args class takes that the schema file lacks."""
    cls = _sdk_class(token)
    if cls is None:
        return {}
    added = {}
    for param in inspect.signature(cls).parameters.values():
        if param.name in ("self", "__self__", "resource_name", "opts") or param.kind is param.VAR_KEYWORD:
            continue
        prop = _camel(param.name)
        if prop not in known:
            schema_type = _sdk_type(param.annotation)
            if schema_type is not None:
                added[prop] = schema_type
    return added


@dataclass(frozen=True)
class ObjectType:
    properties: dict[str, dict[str, Any]]
    required: frozenset[str]
    replace_on_changes: frozenset[str]


class ProviderSchema:
    """The resources and types of pulumi-docker, with the pinned SDK's additions."""

    def __init__(self, document: Mapping[str, Any]):
        self.name = document["name"]
        self.types: dict[str, ObjectType] = {}
        for token, spec in document["types"].items():
            self.types[token] = self._object(token, spec.get("properties", {}), spec.get("required", ()))
        self.resources: dict[str, ObjectType] = {}
        for token, spec in document["resources"].items():
            self.resources[token] = self._object(token, spec.get("inputProperties", {}), spec.get("requiredInputs", ()))
        self.enums = {token: [v["value"] for v in spec["enum"]] for token, spec in document["types"].items()
                      if "enum" in spec}

    @staticmethod
    def _object(token: str, properties: Mapping[str, Any], required: typing.Iterable[str]) -> ObjectType:
        props = {**properties, **_sdk_additions(token, properties)}
        replace = frozenset(name for name, spec in props.items() if spec.get("willReplaceOnChanges"))
        return ObjectType(dict(props), frozenset(required), replace)

    def replaces(self, resource_type: str) -> frozenset[str]:
        """Input properties whose change replaces the resource (``willReplaceOnChanges``)."""
        return self.resources[resource_type].replace_on_changes

    def violations(self, resource: Recorded) -> list[str]:
        """Every way ``resource``'s inputs disagree with the schema; empty when they fit."""
        spec = self.resources.get(resource.typ)
        where = f"{resource.typ} {resource.name!r}"
        if spec is None:
            return [f"{where}: not a resource of the {self.name} provider schema"]
        return [f"{where}: {problem}" for problem in self._check_object(spec, resource.inputs, "")]

    def _check_object(self, spec: ObjectType, value: Any, path: str) -> list[str]:
        if not isinstance(value, dict):
            return [f"{path or 'inputs'}: expected an object, got {type(value).__name__}"]
        problems = [f"{path}{'.' if path else ''}{name}: required" for name in sorted(spec.required - set(value))]
        for key, item in value.items():
            where = f"{path}.{key}" if path else key
            if key not in spec.properties:
                problems.append(f"{where}: unknown property (known: {', '.join(sorted(spec.properties))})")
            else:
                problems += self._check_value(spec.properties[key], item, where)
        return problems

    def _check_value(self, spec: Mapping[str, Any], value: Any, path: str) -> list[str]:
        if value is None or is_unknown(value):
            return []
        ref = spec.get("$ref")
        if ref is not None:
            if ref in _ANY_REFS:
                return []
            token = ref.removeprefix("#/types/")
            if token in self.enums:
                allowed = self.enums[token]
                return [] if value in allowed else [f"{path}: {value!r} is not one of {allowed}"]
            return self._check_object(self.types[token], value, path)
        kind = spec.get("type")
        if kind == "string":
            return [] if isinstance(value, str) else [f"{path}: expected a string, got {value!r}"]
        if kind == "boolean":
            return [] if isinstance(value, bool) else [f"{path}: expected a boolean, got {value!r}"]
        if kind == "integer":
            ok = isinstance(value, int | float) and not isinstance(value, bool) and float(value).is_integer()
            return [] if ok else [f"{path}: expected an integer, got {value!r}"]
        if kind == "number":
            ok = isinstance(value, int | float) and not isinstance(value, bool)
            return [] if ok else [f"{path}: expected a number, got {value!r}"]
        if kind == "array":
            if not isinstance(value, list):
                return [f"{path}: expected an array, got {value!r}"]
            return [p for i, item in enumerate(value) for p in self._check_value(spec["items"], item, f"{path}[{i}]")]
        if kind == "object":
            if not isinstance(value, dict):
                return [f"{path}: expected an object, got {value!r}"]
            item_spec = spec.get("additionalProperties", {"type": "string"})
            return [p for k, item in value.items() for p in self._check_value(item_spec, item, f"{path}.{k}")]
        return [f"{path}: the schema gives no type ({spec})"]


@functools.lru_cache(maxsize=1)
def provider_schema() -> ProviderSchema:
    return ProviderSchema(json.loads(SCHEMA_FILE.read_text()))
