"""The MLflow server as declared: artifacts proxied onto a volume, Postgres backend from a secret file, health."""

from __future__ import annotations

from testing.mocks import Recorded
from testing.program import shipped, shipped_with


def _mlflow(stack: str = "dev") -> Recorded:
    return shipped(stack).container("mlflow")


def test_artifacts_are_served_through_the_server_onto_a_volume():
    c = _mlflow()
    assert "--serve-artifacts" in c.inputs["command"]
    assert "--default-artifact-root" not in c.inputs["command"]
    assert c.env()["MLFLOW_ARTIFACTS_DESTINATION"] == "/mlartifacts"
    assert c.inputs["volumes"] == [
        {"containerPath": "/mlartifacts", "volumeName": "mlplatform-dev-mlflow-artifacts", "readOnly": False}]


def test_backend_store_is_postgres_with_the_mlflow_role_in_a_secret_file():
    c = _mlflow()
    uri = c.upload_content("/run/secrets/mlflow-backend-store-uri")
    assert uri.startswith("postgresql+psycopg2://mlflow:") and uri.endswith("@postgres:5432/mlflow")
    assert c.upload_is_secret("/run/secrets/mlflow-backend-store-uri")
    assert not any("postgresql" in part for part in c.inputs["command"] + c.inputs["envs"])


def test_worker_count_follows_config():
    command = shipped_with("dev", mlflow={"workers": 3}).container("mlflow").inputs["command"]
    assert command[command.index("--workers") + 1] == "3"


def test_health_check_needs_no_curl():
    test = _mlflow().inputs["healthcheck"]["tests"]
    assert test[:2] == ["CMD", "python"] and "/health" in test[-1]


def test_telemetry_is_off():
    assert _mlflow().env()["MLFLOW_DISABLE_TELEMETRY"] == "true"


def test_genai_job_runner_is_off_unless_configured():
    assert _mlflow().env()["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "false"
    on = shipped_with("dev", mlflow={"background_jobs": True}).container("mlflow")
    assert on.env()["MLFLOW_SERVER_ENABLE_JOB_EXECUTION"] == "true"


def test_mlflow_waits_for_the_database():
    run = shipped("dev")
    assert run.container("postgres").urn in run.container("mlflow").dependencies
