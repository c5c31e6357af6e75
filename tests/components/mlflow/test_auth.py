"""MLflow basic auth: off in dev, on in staging/prod with a generated admin password in secret files."""

from __future__ import annotations

from testing.program import shipped


def test_auth_is_off_in_dev():
    assert "--app-name" not in shipped("dev").container("mlflow").inputs["command"]
    assert "mlflow" not in shipped("dev").value("credentials")


def test_auth_is_on_in_prod_with_the_basic_auth_app():
    command = shipped("prod").container("mlflow").inputs["command"]
    assert command[command.index("--app-name") + 1] == "basic-auth"


def test_generated_admin_password_is_in_the_secret_auth_config():
    run = shipped("prod")
    c = run.container("mlflow")
    admin_password = run.value("credentials")["mlflow"]["password"]
    config = c.upload_content("/etc/mlflow/basic_auth.ini")
    assert f"admin_password = {admin_password}" in config and "/mlflow_auth" in config
    assert c.upload_is_secret("/etc/mlflow/basic_auth.ini")
    assert all(admin_password not in e for e in c.inputs["envs"])


def test_flask_secret_key_is_a_secret_file_not_an_env_var():
    c = shipped("prod").container("mlflow")
    assert len(c.upload_content("/run/secrets/mlflow-flask-secret-key")) == 64
    assert "MLFLOW_FLASK_SERVER_SECRET_KEY" not in c.env()
