"""MLflow basic auth: off in dev, on in staging/prod with a generated admin password in secret files."""

from __future__ import annotations

from components.mlflow_server import AUTH_CACHE_TTL_S
from testing.program import run_program, shipped, stack_config, with_overrides
from testing.schema import provider_schema


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


def test_verified_logins_are_cached_by_mlflows_own_setting(tmp_path, monkeypatch):
    """Without the cache every request pays a scrypt check; MLflow itself reads the setting."""
    from mlflow.server.auth.config import read_auth_config

    path = tmp_path / "basic_auth.ini"
    path.write_text(shipped("prod").container("mlflow").upload_content("/etc/mlflow/basic_auth.ini"))
    monkeypatch.setenv("MLFLOW_AUTH_CONFIG_PATH", str(path))
    assert read_auth_config().auth_cache_ttl_seconds == AUTH_CACHE_TTL_S == 60


def test_a_login_rotation_replaces_the_server_so_no_cached_old_password_is_accepted():
    state: dict = {}
    before = run_program("prod", stack_config("prod"), state=state).container("mlflow")
    after = run_program("prod", with_overrides(stack_config("prod"), rotation={"logins": 1}), state=state)
    ini = "/etc/mlflow/basic_auth.ini"
    assert after.container("mlflow").upload_content(ini) != before.upload_content(ini)
    assert "uploads" in provider_schema().replaces(before.typ)
