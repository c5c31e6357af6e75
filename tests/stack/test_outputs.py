"""Stack outputs: every endpoint, every login (one secret), the deploy checks."""

from __future__ import annotations

import pytest

from testing.program import STACKS, ProgramRun, shipped


@pytest.mark.parametrize("stack", STACKS)
def test_endpoints_list_browser_and_in_network_urls(stack):
    endpoints = shipped(stack).value("endpoints")
    assert endpoints["mlflow"] == {"url": "http://127.0.0.1:5000", "internal_url": "http://mlflow:5000"}
    assert endpoints["airflow"] == {"url": "http://127.0.0.1:8080", "internal_url": "http://airflow-apiserver:8080"}
    assert endpoints["postgres"]["internal_url"] == "postgresql://postgres:5432"


@pytest.mark.parametrize("stack", STACKS)
def test_airflow_admin_login_is_in_the_credentials(stack):
    credentials = shipped(stack).value("credentials")
    assert credentials["airflow"]["username"] == "admin"
    assert len(credentials["airflow"]["password"]) == 32


@pytest.mark.parametrize("stack", STACKS)
def test_grafana_is_deployed_with_its_endpoint_and_login(stack):
    run = shipped(stack)
    assert "grafana" in run.containers()
    assert run.value("endpoints")["grafana"]["url"] == "http://127.0.0.1:3000"
    assert len(run.value("credentials")["grafana"]["password"]) == 32


def test_every_service_with_a_login_has_an_endpoint(stack: ProgramRun):
    endpoints, credentials = stack.value("endpoints"), stack.value("credentials")
    # Logins that are roles or users of another service: the read-only and the ingest database roles, the
    # pipelines' MLflow user.
    assert set(credentials) - {"dashboards_reader", "warehouse", "mlflow_pipelines"} <= set(endpoints)


def test_every_deploy_check_passes_when_the_jobs_exit_0(stack: ProgramRun):
    checks = stack.value("checks")
    assert checks and all(value is True for value in checks.values())
