"""The Database component as declared (under mocks)."""

from __future__ import annotations

from components.database import password_file
from tests.helpers import program_for
from tests.pulumi_mocks import env_dict


def _postgres(stack="dev"):
    return program_for(stack).mocks.containers()["postgres"]


def test_image_is_the_pinned_postgres_by_image_id():
    run = program_for("dev")
    image = next(r for r in run.mocks.of_type("RemoteImage") if r.name == "postgres-image")
    assert image.inputs["name"] == "postgres:16.11-bookworm"
    assert _postgres().inputs["image"] == image.outputs["imageId"]


def test_data_volume_is_retained_and_protected_only_in_prod():
    dev = next(r for r in program_for("dev").mocks.of_type("Volume") if r.name == "pgdata")
    prod = next(r for r in program_for("prod").mocks.of_type("Volume") if r.name == "pgdata")
    assert dev.retain_on_delete and prod.retain_on_delete
    assert not dev.protect and prod.protect
    mounts = _postgres().inputs["volumes"]
    assert mounts == [{"containerPath": "/var/lib/postgresql/data", "volumeName": "mlplatform-dev-pgdata", "readOnly": False}]


def _uploads(c) -> dict[str, str]:
    return {u["file"]: u["content"] for u in c.inputs["uploads"]}


def test_every_role_has_a_generated_password_in_a_secret_file():
    c = _postgres()
    files = _uploads(c)
    for role in ("airflow", "mlflow", "mlflow_reader"):
        value = files[f"/run/secrets/{password_file(role)}"]
        assert len(value) == 32 and value in program_for("dev").mocks.generated_secrets
    assert files["/run/secrets/postgres-password"] in program_for("dev").mocks.generated_secrets
    assert c.is_secret("uploads")


def test_no_password_is_in_the_env():
    c = _postgres()
    env = env_dict(c)
    assert env["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres-password"
    assert "POSTGRES_PASSWORD" not in env
    for secret in program_for("dev").mocks.generated_secrets:
        assert all(secret not in entry for entry in c.inputs["envs"])


def test_bootstrap_runs_on_every_start_through_the_entrypoint_wrapper():
    c = _postgres()
    assert c.inputs["entrypoints"] == ["/mlplatform/entrypoint.sh"]
    uploads = {u["file"]: u for u in c.inputs["uploads"]}
    assert "docker-entrypoint.sh" in uploads["/mlplatform/entrypoint.sh"]["content"]
    assert uploads["/mlplatform/entrypoint.sh"]["executable"] is True
    sql = uploads["/mlplatform/bootstrap.sql"]["content"]
    assert "CREATE DATABASE %I OWNER %I', 'mlflow', 'mlflow'" in sql
    assert "ALTER DEFAULT PRIVILEGES FOR ROLE \"mlflow\"" in sql


def test_bootstrap_sql_holds_no_password():
    c = _postgres()
    sql = next(u["content"] for u in c.inputs["uploads"] if u["file"] == "/mlplatform/bootstrap.sql")
    for secret in program_for("dev").mocks.generated_secrets:
        assert secret not in sql


def test_health_check_logs_in_as_every_service():
    c = _postgres()
    assert c.inputs["healthcheck"]["tests"] == ["CMD", "/mlplatform/healthcheck.sh"]
    logins = env_dict(c)["MLPLATFORM_DB_LOGINS"].split()
    assert logins == [
        "airflow:airflow:/run/secrets/db-airflow-password",
        "mlflow:mlflow:/run/secrets/db-mlflow-password",
        "mlflow_reader:mlflow:/run/secrets/db-mlflow-reader-password",
    ]
    script = next(u["content"] for u in c.inputs["uploads"] if u["file"] == "/mlplatform/healthcheck.sh")
    assert "hostname -i" in script and "pg_isready" not in script.split("\n", 5)[-1]


def test_mlflow_auth_adds_its_auth_database():
    logins = env_dict(_postgres("prod"))["MLPLATFORM_DB_LOGINS"].split()
    assert "mlflow:mlflow_auth:/run/secrets/db-mlflow-password" in logins


def test_port_published_in_dev_only_on_loopback():
    assert _postgres("dev").inputs["ports"] == [{"internal": 5432, "external": 5432, "ip": "127.0.0.1"}]
    assert "ports" not in _postgres("prod").inputs
