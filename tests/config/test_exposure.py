"""Leaving loopback is an explicit choice, and then nothing published is left without auth."""

from __future__ import annotations

import pytest

from config import ConfigError, parse_platform
from testing.program import run_program

EXPOSED = {"expose": True, "mlflow": {"auth": True}}


def _problems(raw: dict) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_platform(raw, "dev")
    return caught.value.problems


def test_loopback_needs_no_opt_in():
    assert parse_platform({"bind_address": "::1"}, "dev").bind_address == "::1"


def test_a_non_loopback_address_is_refused_without_expose():
    [problem] = _problems({"bind_address": "10.0.0.5"})
    assert problem.startswith("platform.bind_address: 10.0.0.5 is reachable from other hosts; set expose: true")


def test_every_interface_is_refused_without_expose():
    assert _problems({"bind_address": "0.0.0.0"})[0].startswith("platform.bind_address: 0.0.0.0 is reachable")


def test_exposed_mlflow_must_have_auth():
    assert "platform.mlflow.auth: must be true when expose is on" in _problems(
        {"bind_address": "10.0.0.5", "expose": True})[0]


def test_exposed_stacks_never_publish_postgresql():
    problems = _problems({"bind_address": "10.0.0.5", **EXPOSED, "database": {"port": 5432}})
    assert problems == ["platform.database.port: must be unset when expose is on (PostgreSQL stays inside the network)"]


def test_binding_every_interface_needs_the_public_host_clients_use():
    problems = _problems({"bind_address": "0.0.0.0", **EXPOSED})
    assert problems[0].startswith("platform.public_host: required with bind_address 0.0.0.0")


def test_an_exposed_stack_with_auth_everywhere_is_accepted():
    config = parse_platform({"bind_address": "0.0.0.0", "public_host": "ml.example.internal", **EXPOSED}, "dev")
    assert config.expose and config.public_host == "ml.example.internal"


def test_endpoints_show_the_public_host_not_loopback():
    run = run_program("dev", {"bind_address": "0.0.0.0", "public_host": "ml.example.internal", **EXPOSED})
    assert run.value("endpoints")["mlflow"]["url"] == "http://ml.example.internal:5000"
    hosts = run.container("mlflow").env()["MLFLOW_SERVER_ALLOWED_HOSTS"].split(",")
    assert "ml.example.internal:5000" in hosts


def test_ipv6_addresses_are_bracketed_in_urls_and_host_headers():
    run = run_program("dev", {"bind_address": "::1"})
    assert run.value("endpoints")["airflow"]["url"] == "http://[::1]:8080"
    assert run.container("mlflow").inputs["ports"][0]["ip"] == "::1"
    assert "[::1]:5000" in run.container("mlflow").env()["MLFLOW_SERVER_ALLOWED_HOSTS"].split(",")


def test_an_ipv6_zone_id_is_refused():
    [problem] = _problems({"bind_address": "fe80::1%eth0"})
    assert "no IPv6 zone id" in problem
