"""The schema check fails on what `pulumi up` would refuse: unknown, mistyped, missing or out-of-enum inputs."""

from __future__ import annotations

import copy

from testing.mocks import Recorded
from testing.program import shipped
from testing.schema import ProviderSchema, provider_schema


def _mlflow() -> Recorded:
    return copy.deepcopy(shipped("prod").container("mlflow"))


def test_a_misspelled_property_is_reported():
    c = _mlflow()
    c.inputs["memroy"] = 512
    assert any("memroy: unknown property" in p for p in provider_schema().violations(c))


def test_a_mistyped_property_is_reported():
    c = _mlflow()
    c.inputs["restart"] = 3
    assert any("restart: expected a string" in p for p in provider_schema().violations(c))


def test_a_mistyped_nested_property_is_reported():
    c = _mlflow()
    c.inputs["healthcheck"]["retries"] = "six"
    assert any("healthcheck.retries: expected an integer" in p for p in provider_schema().violations(c))


def test_an_unknown_nested_property_is_reported():
    c = _mlflow()
    c.inputs["ports"][0]["hostIp"] = "127.0.0.1"
    assert any("ports[0].hostIp: unknown property" in p for p in provider_schema().violations(c))


def test_a_missing_required_property_is_reported():
    c = _mlflow()
    del c.inputs["image"]
    assert "image: required" in " ".join(provider_schema().violations(c))


def test_upload_owner_and_group_come_from_the_pinned_sdk():
    upload = provider_schema().types["docker:index/ContainerUpload:ContainerUpload"]
    assert upload.properties["owner"] == {"type": "string"} and upload.properties["group"] == {"type": "string"}
    c = _mlflow()
    c.inputs["uploads"][0]["owner"] = 1000
    assert any("uploads[0].owner: expected a string" in p for p in provider_schema().violations(c))


def test_a_value_outside_an_enum_is_reported():
    document = {
        "name": "t",
        "resources": {"t:index/thing:Thing": {"inputProperties": {"mode": {"$ref": "#/types/t:index/Mode:Mode"}}}},
        "types": {"t:index/Mode:Mode": {"type": "string", "enum": [{"value": "on"}, {"value": "off"}]}},
    }
    thing = Recorded("t:index/thing:Thing", "x", "", "", {"mode": "sideways"}, {}, set(), True)
    assert provider_schema().__class__(document).violations(thing) == [
        "t:index/thing:Thing 'x': mode: 'sideways' is not one of ['on', 'off']"]


def test_replacing_properties_are_the_schemas():
    replaces = provider_schema().replaces("docker:index/container:Container")
    assert {"envs", "uploads", "image", "command", "cpus"} <= replaces
    assert not {"memory", "restart", "healthcheck"} & replaces


def test_the_schema_is_the_provider_copy():
    assert isinstance(provider_schema(), ProviderSchema) and provider_schema().name == "docker"
