"""Airflow's services reach PostgreSQL through PgBouncer with drivers that survive transaction pooling."""

from __future__ import annotations

import pytest

from testing.program import shipped

SERVICES = ("airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer", "airflow-worker-1")


@pytest.mark.parametrize("service", SERVICES)
def test_services_use_the_pooler(service):
    settings = shipped("prod").container(service).effective_settings()
    assert settings["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://airflow:")
    assert settings["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith("@pgbouncer:6432/airflow")


@pytest.mark.parametrize("service", SERVICES)
def test_the_async_engine_uses_psycopg_without_prepared_statements(service):
    settings = shipped("prod").container(service).effective_settings()
    assert settings["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC"].startswith("postgresql+psycopg_async://")
    assert settings["AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS_ASYNC"] == "mlplatform_pgbouncer.ASYNC"


def test_celery_results_go_through_the_pooler():
    settings = shipped("prod").container("airflow-worker-1").effective_settings()
    assert settings["AIRFLOW__CELERY__RESULT_BACKEND"].endswith("@pgbouncer:6432/airflow")


def test_migrations_go_directly_to_postgresql():
    settings = shipped("prod").container("airflow-init").effective_settings()
    assert settings["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith("@postgres:5432/airflow")
    assert "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC" not in settings


def test_the_connect_arguments_turn_prepared_statements_off():
    from testing.program import REPO_ROOT

    namespace: dict = {}
    exec((REPO_ROOT / "images/airflow/config/mlplatform_pgbouncer.py").read_text(), namespace)
    assert namespace["ASYNC"] == {"prepare_threshold": None}


def test_without_the_pooler_services_go_directly():
    settings = shipped("dev").container("airflow-scheduler").effective_settings()
    assert settings["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].endswith("@postgres:5432/airflow")
