"""Stack config: every stack file is valid; bad input fails with a message naming the key."""

from __future__ import annotations

import pytest

from config import ConfigError, parse_platform
from tests.helpers import STACKS
import runpy

from tests.pulumi_mocks import REPO_ROOT, setup_mocks, stack_config


@pytest.mark.parametrize("stack", STACKS)
def test_stack_file_is_valid(stack):
    config = parse_platform(stack_config(stack), stack)
    assert config.environment == stack
    assert config.bind_address == "127.0.0.1"


def test_minimal_config_uses_defaults():
    config = parse_platform({}, "dev")
    assert config.airflow.executor == "LocalExecutor"
    assert config.mlflow.port == 5000
    assert config.images.airflow_base == "apache/airflow:3.3.2-python3.11"


def test_prod_runs_celery_with_workers_protection_and_limits():
    prod = parse_platform(stack_config("prod"), "prod")
    assert prod.airflow.executor == "CeleryExecutor" and prod.airflow.workers >= 2
    assert prod.protect_data and prod.mlflow.auth
    for limits in (prod.database.limits, prod.mlflow.limits, prod.airflow.limits, prod.airflow.worker_limits,
                   prod.grafana.limits, prod.airbyte.limits):
        assert limits.memory_mb and limits.cpus


def test_dev_is_small_local_and_mounts_dags():
    dev = parse_platform(stack_config("dev"), "dev")
    assert dev.airflow.executor == "LocalExecutor" and dev.airflow.dags == "mount"
    assert not dev.protect_data


def test_staging_is_shaped_like_prod_but_smaller():
    staging, prod = (parse_platform(stack_config(s), s) for s in ("staging", "prod"))
    assert staging.airflow.executor == prod.airflow.executor
    assert staging.airflow.workers < prod.airflow.workers
    assert staging.mlflow.limits.memory_mb < prod.mlflow.limits.memory_mb


INVALID = [
    ({"mlflow": {"port": 70000}}, "platform.mlflow.port: must be 1-65535, got 70000"),
    ({"airflow": {"port": 0}}, "platform.airflow.port: must be 1-65535, got 0"),
    ({"grafana": {"port": 5000}}, "platform.grafana.port: host port 5000 on 127.0.0.1 is already used by mlflow.port"),
    ({"airflow": {"executor": "KubernetesExecutor"}},
     "platform.airflow.executor: input should be 'LocalExecutor' or 'CeleryExecutor', got 'KubernetesExecutor'"),
    ({"airflow": {"executor": "CeleryExecutor", "workers": 0}},
     "platform.airflow.workers: input should be greater than or equal to 1, got 0"),
    ({"airflow": {"workers": 3}}, "platform.airflow.workers: only CeleryExecutor runs workers"),
    ({"images": {"postgres": "postgres:latest"}}, "platform.images.postgres: must not use the 'latest' tag"),
    ({"images": {"redis": "redis"}}, "platform.images.redis: must be pinned to a version tag or digest"),
    ({"mlflow": {"prot": 5000}}, "platform.mlflow.prot: unknown key; allowed keys here: port, workers, auth"),
    ({"databse": {}}, "platform.databse: unknown key; allowed keys here: environment, bind_address"),
    ({"bind_address": "localhost"}, "platform.bind_address: must be an IP address such as 127.0.0.1, got 'localhost'"),
    ({"mlflow": {"workers": "many"}}, "platform.mlflow.workers: input should be a valid integer"),
    ({"images": {"extra_ca_bundle": "/no/such/ca.pem"}}, "platform.images.extra_ca_bundle: file not found"),
    ({"airbyte": {"connection_id": "not-a-uuid"}}, "platform.airbyte.connection_id: string should match pattern"),
]


@pytest.mark.parametrize("raw,message", INVALID, ids=[m.split(":")[0] for _, m in INVALID])
def test_invalid_config_names_key_and_what_is_allowed(raw, message):
    with pytest.raises(ConfigError) as caught:
        parse_platform(raw, "dev")
    assert any(p.startswith(message) for p in caught.value.problems), caught.value.problems


def test_every_problem_is_reported_at_once():
    with pytest.raises(ConfigError) as caught:
        parse_platform({"mlflow": {"port": 70000, "workers": 0}, "airflow": {"executor": "X"}, "foo": 1}, "dev")
    assert len(caught.value.problems) == 4
    assert "4 problem(s)" in str(caught.value)


def test_not_a_mapping_is_a_clear_error():
    with pytest.raises(ConfigError, match="platform: must be a mapping of settings, got list"):
        parse_platform([1, 2], "dev")


def test_error_is_a_pulumi_run_error_without_a_pydantic_dump():
    import pulumi

    with pytest.raises(pulumi.RunError) as caught:
        parse_platform({"mlflow": {"port": 70000}}, "dev")
    assert "validation error" not in str(caught.value).lower()
    assert "pydantic" not in str(caught.value).lower()


def test_bad_config_fails_before_any_resource_is_declared():
    mocks = setup_mocks("dev", {"mlflow": {"port": 70000}})
    with pytest.raises(ConfigError, match="platform.mlflow.port: must be 1-65535"):
        runpy.run_path(str(REPO_ROOT / "__main__.py"), run_name="__main__")
    assert mocks.resources == []
