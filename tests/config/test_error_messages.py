"""How config errors reach the user: all at once, readable, before anything is declared."""

from __future__ import annotations

import runpy

import pulumi
import pytest

from config import ConfigError, parse_platform
from testing.program import REPO_ROOT, install_mocks


def test_every_problem_is_reported_at_once():
    with pytest.raises(ConfigError) as caught:
        parse_platform({"mlflow": {"port": 70000, "workers": 0}, "airflow": {"executor": "X"}, "foo": 1}, "dev")
    assert len(caught.value.problems) == 4
    assert "4 problem(s)" in str(caught.value)


def test_not_a_mapping_is_a_clear_error():
    with pytest.raises(ConfigError, match="platform: must be a mapping of settings, got list"):
        parse_platform([1, 2], "dev")


def test_error_is_a_pulumi_run_error_without_a_pydantic_dump():
    with pytest.raises(pulumi.RunError) as caught:
        parse_platform({"mlflow": {"port": 70000}}, "dev")
    assert "validation error" not in str(caught.value).lower()
    assert "pydantic" not in str(caught.value).lower()


def test_bad_config_fails_before_any_resource_is_declared():
    mocks = install_mocks("dev", {"mlflow": {"port": 70000}})
    with pytest.raises(ConfigError, match="platform.mlflow.port: must be 1-65535"):
        runpy.run_path(str(REPO_ROOT / "__main__.py"), run_name="__main__")
    assert mocks.resources == []
