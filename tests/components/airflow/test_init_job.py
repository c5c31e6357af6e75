"""The init job: runs on every deploy, after the database, before every Airflow service."""

from __future__ import annotations

from components.airflow_cluster import INIT_SCRIPT
from testing.program import shipped


def test_init_script_stops_at_the_first_failure():
    assert INIT_SCRIPT.startswith("set -euo pipefail")
    assert "|| true" not in INIT_SCRIPT


def test_init_job_reruns_every_deploy_with_the_generated_password():
    run = shipped("dev")
    init = run.container("airflow-init")
    assert init.inputs["command"][:2] == ["bash", "-c"]
    assert init.inputs["attach"] is True and init.replacement_trigger is not None
    admin = run.value("credentials")["airflow"]
    assert init.upload_content("/run/secrets/airflow-admin-password") == admin["password"]
    assert init.env()["MLPLATFORM_ADMIN_USERNAME"] == admin["username"] == "admin"
    assert run.value("checks")["airflow_init_succeeded"] is True


def test_init_runs_after_the_database_and_redis_and_services_after_init():
    containers = shipped("prod").containers()
    init = containers["airflow-init"]
    assert containers["postgres"].urn in init.dependencies
    assert containers["airflow-redis"].urn in init.dependencies
    for name in ("airflow-apiserver", "airflow-scheduler", "airflow-worker-1"):
        assert init.urn in containers[name].dependencies
