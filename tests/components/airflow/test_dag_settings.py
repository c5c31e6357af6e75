"""What the DAGs are given: MLflow, data dir, connections, and DAGs mounted (dev) or baked (prod)."""

from __future__ import annotations

from testing.program import shipped


def test_dags_get_mlflow_and_platform_settings():
    env = shipped("dev").container("airflow-scheduler").env()
    assert env["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    assert env["MLPLATFORM_DATA_DIR"] == "/opt/airflow/data"
    assert env["MLPLATFORM_AIRBYTE_ENABLED"] == "false"
    assert '"host": "mlflow"' in env["AIRFLOW_CONN_MLFLOW_DEFAULT"]
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "false"
    assert env["MLFLOW_DISABLE_TELEMETRY"] == "true" and env["DO_NOT_TRACK"] == "true"


def test_mlflow_credentials_reach_airflow_when_mlflow_auth_is_on():
    run = shipped("prod")
    env = run.container("airflow-worker-1").env()
    mlflow = run.value("credentials")["mlflow"]
    assert env["MLFLOW_TRACKING_USERNAME"] == mlflow["username"]
    assert env["MLFLOW_TRACKING_PASSWORD"] == mlflow["password"]
    assert mlflow["password"] in env["AIRFLOW_CONN_MLFLOW_DEFAULT"]


def test_dags_are_mounted_read_only_in_dev():
    volumes = shipped("dev").container("airflow-scheduler").inputs["volumes"]
    mount = next(v for v in volumes if v["containerPath"] == "/opt/airflow/dags")
    assert mount["hostPath"].endswith("/dags") and mount["readOnly"] is True


def test_dags_are_baked_into_the_image_in_prod():
    volumes = shipped("prod").container("airflow-scheduler").inputs["volumes"]
    assert not any(v["containerPath"] == "/opt/airflow/dags" for v in volumes)
    targets = {s: next(r for r in shipped(s).of_type("RemoteImage") if r.name == "airflow-image")
               .inputs["build"]["target"] for s in ("dev", "prod")}
    assert targets == {"dev": "runtime", "prod": "baked"}


def test_airbyte_enabled_adds_its_connection_and_settings():
    from testing.program import shipped_with

    connection_id = "2f9c1e4a-7b3d-4c1e-9a8b-0123456789ab"
    run = shipped_with("dev", airbyte={"enabled": True, "connection_id": connection_id})
    scheduler = run.container("airflow-scheduler").env()
    assert scheduler["MLPLATFORM_AIRBYTE_ENABLED"] == "true"
    assert scheduler["MLPLATFORM_AIRBYTE_CONNECTION_ID"] == connection_id
    assert '"conn_type": "airbyte"' in scheduler["AIRFLOW_CONN_AIRBYTE_DEFAULT"]
