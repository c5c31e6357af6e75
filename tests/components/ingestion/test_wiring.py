"""What the platform gives the ingest DAG: the warehouse, the sources, and only to the containers that run tasks."""

from __future__ import annotations

import json

import pytest

from components.ingestion import PYAIRBYTE_PYTHON, SOURCES_FILE, WAREHOUSE_FILE
from config.loader import ConfigError
from config.versions import baked_connectors
from testing.program import run_program, shipped, stack_config, with_overrides

SECRETS_DIR = "/run/secrets"


def airflow_containers(run) -> dict:
    return {name: c for name, c in run.containers().items() if name.startswith("airflow-") and name != "airflow-redis"}


@pytest.mark.parametrize("stack, runners", [
    ("dev", {"airflow-scheduler"}),
    ("prod", {"airflow-worker-1", "airflow-worker-2", "airflow-worker-3"}),
])
def test_only_the_task_runners_get_the_warehouse_login_and_the_sources(stack, runners):
    containers = airflow_containers(shipped(stack))
    holders = {name for name, c in containers.items() if f"{SECRETS_DIR}/{WAREHOUSE_FILE}" in c.uploads()}
    assert holders == runners
    for name in runners:
        env = containers[name].env()
        assert env["MLPLATFORM_WAREHOUSE_FILE"] == f"{SECRETS_DIR}/{WAREHOUSE_FILE}"
        assert env["MLPLATFORM_INGEST_SOURCES_FILE"] == f"{SECRETS_DIR}/{SOURCES_FILE}"
        assert env["MLPLATFORM_PYAIRBYTE_PYTHON"] == PYAIRBYTE_PYTHON
        assert env["MLPLATFORM_TRAFFIC_TABLE"] == "landing.traffic_hourly"
        assert env["AIRBYTE_OFFLINE_MODE"] == "1"


def test_the_warehouse_login_is_the_ingest_roles_and_stays_out_of_the_env():
    run = shipped("dev")
    scheduler = run.container("airflow-scheduler")
    upload = scheduler.uploads()[f"{SECRETS_DIR}/{WAREHOUSE_FILE}"]
    assert upload["permissions"] == "0400"
    login = json.loads(scheduler.upload_content(f"{SECRETS_DIR}/{WAREHOUSE_FILE}"))
    assert (login["host"], login["port"], login["user"], login["database"]) == ("postgres", 5432, "warehouse",
                                                                                "warehouse")
    assert login["password"] in run.mocks.generated_secrets
    assert login["password"] not in json.dumps(scheduler.env())


def test_the_default_source_is_the_baked_file_connector_over_the_landing_folder():
    scheduler = shipped("dev").container("airflow-scheduler")
    (source,) = json.loads(scheduler.upload_content(f"{SECRETS_DIR}/{SOURCES_FILE}"))["sources"]
    assert source["name"] == "landing" and source["connector"] == "source-file"
    assert source["version"] == baked_connectors()["source-file"]
    assert source["executable"] == "/opt/mlplatform/venvs/source-file/bin/source-file"
    assert source["config"]["url"] == "/opt/airflow/data/landing/traffic_hourly.csv"
    assert source["config"]["provider"] == {"storage": "local"}


SFTP_SOURCE = {
    "name": "partner",
    "connector": "source-file",
    "config": {"dataset_name": "counts", "format": "csv", "url": "/data/counts.csv",
               "provider": {"storage": "SFTP", "host": "sftp.example.org", "user": "ingest"}},
    "secret_config": {"provider.password": "partnerSftpPassword"},
}
PARTNER_INGESTION = {"sources": [SFTP_SOURCE], "traffic_table": "partner.counts"}


def test_secret_connector_fields_come_from_pulumi_secrets_into_the_secret_file_only():
    config = with_overrides(stack_config("dev"), ingestion=PARTNER_INGESTION)
    run = run_program("dev", config, secret_config={"partnerSftpPassword": "s3cret-from-config"})
    scheduler = run.container("airflow-scheduler")
    (source,) = json.loads(scheduler.upload_content(f"{SECRETS_DIR}/{SOURCES_FILE}"))["sources"]
    assert source["config"]["provider"] == {"storage": "SFTP", "host": "sftp.example.org", "user": "ingest",
                                            "password": "s3cret-from-config"}
    assert scheduler.env()["MLPLATFORM_TRAFFIC_TABLE"] == "partner.counts"
    for container in run.containers().values():
        assert "s3cret-from-config" not in json.dumps(container.env())


def test_a_missing_secret_config_key_fails_before_any_resource():
    config = with_overrides(stack_config("dev"), ingestion=PARTNER_INGESTION)
    with pytest.raises(ConfigError, match="mlplatform:partnerSftpPassword, which is not set"):
        run_program("dev", config)


def test_the_warehouse_has_a_schema_per_source_and_the_dashboards_role_reads_them():
    sql = shipped("dev").container("postgres").upload_content("/mlplatform/bootstrap.sql")
    assert "CREATE DATABASE %I OWNER %I', 'warehouse', 'warehouse'" in sql
    for schema in ("landing", "analytics"):
        assert f'CREATE SCHEMA IF NOT EXISTS "{schema}" AUTHORIZATION "warehouse";' in sql
        assert f'GRANT USAGE ON SCHEMA "{schema}" TO "mlflow_reader";' in sql
        assert (f'ALTER DEFAULT PRIVILEGES FOR ROLE "warehouse" IN SCHEMA "{schema}" GRANT SELECT ON TABLES TO '
                '"mlflow_reader";') in sql


def test_grafana_gets_the_warehouse_as_a_second_read_only_data_source():
    import yaml

    from components.grafana import DATASOURCE_FILE

    grafana = shipped("dev").container("grafana")
    sources = {s["name"]: s for s in yaml.safe_load(grafana.upload_content(DATASOURCE_FILE))["datasources"]}
    assert set(sources) == {"MLflow", "Warehouse"}
    warehouse = sources["Warehouse"]
    assert (warehouse["user"], warehouse["jsonData"]["database"]) == ("mlflow_reader", "warehouse")
    assert warehouse["isDefault"] is False and sources["MLflow"]["isDefault"] is True
    assert warehouse["secureJsonData"] == sources["MLflow"]["secureJsonData"]  # the role's password file



def test_the_ingest_roles_login_is_a_stack_credential_for_loaders_outside_airflow():
    run = shipped("dev")
    login = run.value("credentials")["warehouse"]
    assert login["username"] == "warehouse" and login["password"] in run.mocks.generated_secrets
    assert run.is_secret("credentials")
