"""The shipped stack files are valid and shaped as the README says."""

from __future__ import annotations

import pytest

from config import parse_platform
from testing.program import STACKS, stack_config


@pytest.mark.parametrize("stack", STACKS)
def test_stack_file_is_valid_and_binds_to_loopback(stack):
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
