"""The PostgreSQL container as declared: pinned image, retained volume, secret files, bootstrap, health."""

from __future__ import annotations

from components.database import password_file
from testing.mocks import Recorded
from testing.program import shipped


def _postgres(stack: str = "dev") -> Recorded:
    return shipped(stack).container("postgres")


def test_image_is_the_pinned_postgres_by_image_id():
    assert shipped("dev").image_name("postgres") == "postgres:16.11-bookworm"


def test_data_volume_is_retained_and_protected_only_in_prod():
    dev = next(r for r in shipped("dev").of_type("Volume") if r.name == "postgres-data")
    prod = next(r for r in shipped("prod").of_type("Volume") if r.name == "postgres-data")
    assert dev.retain_on_delete and prod.retain_on_delete
    assert not dev.protect and prod.protect
    assert _postgres().inputs["volumes"] == [
        {"containerPath": "/var/lib/postgresql/data", "volumeName": "mlplatform-dev-pgdata", "readOnly": False}]


def test_every_role_has_a_generated_password_in_a_secret_file():
    c = _postgres()
    generated = shipped("dev").mocks.generated_secrets
    for role in ("airflow", "mlflow", "mlflow_reader"):
        path = f"/run/secrets/{password_file(role)}"
        assert len(c.upload_content(path)) == 32 and c.upload_content(path) in generated
        assert c.upload_is_secret(path)
    assert c.upload_content("/run/secrets/postgres-password") in generated


def test_no_password_is_in_the_env():
    c = _postgres()
    assert c.env()["POSTGRES_PASSWORD_FILE"] == "/run/secrets/postgres-password"
    assert "POSTGRES_PASSWORD" not in c.env()
    for secret in shipped("dev").mocks.generated_secrets:
        assert all(secret not in entry for entry in c.inputs["envs"])


def test_bootstrap_runs_on_every_start_through_the_entrypoint_wrapper():
    c = _postgres()
    assert c.inputs["entrypoints"] == ["/mlplatform/entrypoint.sh"]
    assert c.uploads()["/mlplatform/entrypoint.sh"]["executable"] is True
    sql = c.upload_content("/mlplatform/bootstrap.sql")
    assert "CREATE DATABASE %I OWNER %I', 'mlflow', 'mlflow'" in sql
    assert "ALTER DEFAULT PRIVILEGES FOR ROLE \"mlflow\"" in sql


def test_bootstrap_sql_holds_no_password():
    sql = _postgres().upload_content("/mlplatform/bootstrap.sql")
    for secret in shipped("dev").mocks.generated_secrets:
        assert secret not in sql


def test_health_check_logs_in_as_every_service():
    c = _postgres()
    assert c.inputs["healthcheck"]["tests"] == ["CMD", "/mlplatform/healthcheck.sh"]
    assert c.env()["MLPLATFORM_DB_LOGINS"].split() == [
        "airflow:airflow:/run/secrets/db-airflow-password",
        "mlflow:mlflow:/run/secrets/db-mlflow-password",
        "warehouse:warehouse:/run/secrets/db-warehouse-password",
        "mlflow_reader:mlflow:/run/secrets/db-mlflow-reader-password",
    ]


def test_mlflow_auth_adds_its_auth_database():
    assert (
        "mlflow:mlflow_auth:/run/secrets/db-mlflow-password" in _postgres("prod").env()["MLPLATFORM_DB_LOGINS"].split()
    )


def test_port_is_published_in_dev_only_on_loopback():
    assert _postgres("dev").inputs["ports"] == [{"internal": 5432, "external": 5432, "ip": "127.0.0.1"}]
    assert "ports" not in _postgres("prod").inputs
