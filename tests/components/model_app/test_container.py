"""The model app as declared: Airflow's data volume read-only, its own MLflow user as a file, health, port."""

from __future__ import annotations

from testing.program import shipped, shipped_with

PROD = "prod"


def _app():
    return shipped(PROD).container("modelapp")


def test_the_batch_scores_come_from_airflows_data_volume_read_only():
    run = shipped(PROD)
    airflow_data = next(m for m in run.container("airflow-worker-1").inputs["volumes"]
                        if m["containerPath"] == "/opt/airflow/data")["volumeName"]
    assert run.container("modelapp").inputs["volumes"] == [
        {"containerPath": "/data", "volumeName": airflow_data, "readOnly": True}]
    assert run.container("modelapp").env()["MLPLATFORM_DATA_DIR"] == "/data"


def test_it_scores_through_the_model_server_and_reads_mlflow_on_the_network():
    env = _app().env()
    assert env["MODEL_SERVER_URL"] == "http://modelserver:8080"
    assert env["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    assert (env["MODEL_NAME"], env["MODEL_ALIAS"]) == ("anomaly-detector", "champion")


def test_it_reads_mlflow_as_its_own_user_from_a_credentials_file():
    app = _app()
    path = "/home/modelapp/.mlflow/credentials"
    assert app.upload_content(path).startswith("[mlflow]\nmlflow_tracking_username = modelapp\n")
    upload = app.uploads()[path]
    assert app.upload_is_secret(path) and (upload["owner"], upload["permissions"]) == ("1000", "0400")
    assert "MLFLOW_TRACKING_PASSWORD" not in app.env()


def test_streamlit_runs_headless_without_usage_statistics_as_the_images_user():
    app = _app()
    command = app.inputs["command"]
    assert command[:3] == ["streamlit", "run", "/opt/modelapp/app/app.py"]
    assert command[command.index("--browser.gatherUsageStats") + 1] == "false"
    assert command[command.index("--server.headless") + 1] == "true"
    assert app.inputs["user"] == "1000:1000"


def test_the_health_check_is_streamlits_own():
    test = _app().inputs["healthcheck"]["tests"]
    assert test[:2] == ["CMD", "python"] and "/_stcore/health" in test[-1]


def test_the_port_is_published_on_the_bind_address_only():
    assert _app().inputs["ports"] == [{"internal": 8501, "external": 8501, "ip": "127.0.0.1"}]
    assert shipped(PROD).value("endpoints")["model_app"]["url"] == "http://127.0.0.1:8501"


def test_it_starts_after_the_model_server_and_is_off_unless_enabled():
    assert any(dep.endswith("::modelserver") for dep in _app().dependencies)
    assert "modelapp" not in shipped("dev").containers()
    assert "modelapp" not in shipped_with("dev", model_server={"enabled": True}).containers()


def test_limits_follow_the_config():
    assert _app().inputs["memory"] == 1024
