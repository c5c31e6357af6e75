"""Host names, limits and the shape of error messages: bad values are refused, and shown safely."""

from __future__ import annotations

import pytest

from config import ConfigError, parse_platform


def _problems(raw: dict) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_platform(raw, "dev")
    return caught.value.problems


@pytest.mark.parametrize("host", ["mlflow.example.org", "mlflow.example.org:5000", "10.0.0.1:80", "[fd00::1]:5000",
                                  "fd00::1", "ml-01"])
def test_allowed_hosts_take_host_names_and_host_port(host):
    assert parse_platform({"mlflow": {"extra_allowed_hosts": [host]}}, "dev").mlflow.extra_allowed_hosts == [host]


@pytest.mark.parametrize("host", ["*", "*.example.org", "http://mlflow", "mlflow/path", "a b", "x:99999",
                                  "[fd00::1", "mlflow\nevil", "-bad.example"])
def test_allowed_hosts_refuse_wildcards_schemes_paths_and_junk(host):
    [problem] = _problems({"mlflow": {"extra_allowed_hosts": [host]}})
    assert problem.startswith("platform.mlflow.extra_allowed_hosts.0: must be a host name or IP address")


def test_a_huge_memory_limit_is_refused_with_the_allowed_range():
    [problem] = _problems({"database": {"limits": {"memory_mb": 1e30}}})
    assert problem == "platform.database.limits.memory_mb: must be 64-262144 MiB, got 1e+30"


def test_a_memory_limit_below_64_mib_is_refused():
    assert _problems({"mlflow": {"limits": {"memory_mb": 16}}})[0].startswith(
        "platform.mlflow.limits.memory_mb: must be 64-262144 MiB")


def test_cpus_below_a_hundredth_are_refused():
    assert _problems({"airflow": {"limits": {"cpus": 0.001}}})[0].startswith(
        "platform.airflow.limits.cpus: input should be greater than or equal to 0.01")


def test_a_long_value_is_truncated_in_the_message():
    [problem] = _problems({"mlflow": {"port": "x" * 500}})
    assert len(problem) < 200 and problem.endswith("…")


def test_control_characters_in_a_key_cannot_split_the_message():
    [problem] = _problems({"mlflow\nINJECTED": {}})
    assert "\n" not in problem and problem.startswith("platform.mlflow\\nINJECTED: unknown key")


def test_control_characters_in_a_value_are_escaped():
    [problem] = _problems({"bind_address": "127.0.0.1\r\nX-Evil: 1"})
    assert "\n" not in problem and "\\r\\n" in problem
