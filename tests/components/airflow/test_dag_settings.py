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


def test_the_dags_log_in_to_mlflow_as_their_own_user_from_a_credentials_file():
    run = shipped("prod")
    worker = run.container("airflow-worker-1")
    pipelines = run.value("credentials")["mlflow_pipelines"]
    assert pipelines["username"] == "airflow" != run.value("credentials")["mlflow"]["username"]
    credentials = worker.upload_content("/home/airflow/.mlflow/credentials")
    assert credentials == (f"[mlflow]\nmlflow_tracking_username = airflow\n"
                           f"mlflow_tracking_password = {pipelines['password']}\n")
    assert worker.upload_is_secret("/home/airflow/.mlflow/credentials")
    assert worker.uploads()["/home/airflow/.mlflow/credentials"]["owner"] == "50000"


def test_no_mlflow_password_is_in_the_airflow_environment():
    run = shipped("prod")
    passwords = {run.value("credentials")[k]["password"] for k in ("mlflow", "mlflow_pipelines")}
    for name, c in run.containers().items():
        if name.startswith("airflow-"):
            assert not {k for k in c.env() if k.startswith("MLFLOW_TRACKING_USER") or k.endswith("PASSWORD")}, name
            assert not any(p in entry for p in passwords for entry in c.inputs["envs"]), name


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
