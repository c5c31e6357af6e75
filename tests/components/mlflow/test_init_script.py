"""images/mlflow/mlflow_init.py, run for real against MLflow (SQLite stores here).

The init job runs it before the server on every deploy: it migrates the tracking
schema and makes the basic-auth users match the stack.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from testing.program import REPO_ROOT

SCRIPT = REPO_ROOT / "images/mlflow/mlflow_init.py"


@pytest.fixture
def stores(tmp_path) -> dict:
    tracking = f"sqlite:///{tmp_path / 'tracking.db'}"
    (tmp_path / "uri").write_text(tracking)
    (tmp_path / "auth.ini").write_text(
        "[mlflow]\ndefault_permission = READ\n"
        f"database_uri = sqlite:///{tmp_path / 'auth.db'}\n"
        "admin_username = admin\nadmin_password = unused-by-the-script\n"
        "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n")
    env = {**os.environ, "MLFLOW_AUTH_CONFIG_PATH": str(tmp_path / "auth.ini"), "MLFLOW_DISABLE_TELEMETRY": "true"}
    return {"dir": tmp_path, "tracking": tracking, "env": env}


def _run(stores: dict, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], env=stores["env"], capture_output=True, text=True)


def _password(stores: dict, name: str, value: str) -> str:
    path: Path = stores["dir"] / f"{name}.pw"
    path.write_text(value)
    return str(path)


def _auth_store(stores: dict):
    from mlflow.server.auth.sqlalchemy_store import SqlAlchemyStore

    store = SqlAlchemyStore()
    store.init_db(f"sqlite:///{stores['dir'] / 'auth.db'}")
    return store


def test_upgrade_creates_the_tracking_schema_from_the_uri_file(stores):
    result = _run(stores, "upgrade", "--uri-file", str(stores["dir"] / "uri"))
    assert result.returncode == 0, result.stderr
    from mlflow.tracking import MlflowClient

    assert MlflowClient(tracking_uri=stores["tracking"]).search_experiments()


def test_check_passes_on_an_upgraded_schema_and_names_both_revisions_on_an_older_one(stores):
    uri = str(stores["dir"] / "uri")
    assert _run(stores, "upgrade", "--uri-file", uri).returncode == 0
    current = _run(stores, "check", "--uri-file", uri)
    assert current.returncode == 0, current.stderr
    import sqlite3

    with sqlite3.connect(stores["dir"] / "tracking.db") as db:  # as if an older MLflow had left it
        db.execute("UPDATE alembic_version SET version_num = '0584bdc529eb'")
    behind = _run(stores, "check", "--uri-file", uri)
    assert behind.returncode == 3 and "tracking schema 0584bdc529eb" in behind.stdout and "expects" in behind.stdout


def test_a_failed_upgrade_fails_the_job(stores):
    (stores["dir"] / "uri").write_text("postgresql+psycopg2://nobody@127.0.0.1:1/none")
    assert _run(stores, "upgrade", "--uri-file", str(stores["dir"] / "uri")).returncode != 0


def test_users_are_created_with_the_passwords_in_their_files(stores):
    admin = _password(stores, "admin", "admin-password-1234")
    airflow = _password(stores, "airflow", "airflow-password-1234")
    result = _run(stores, "users", "--user", f"admin:{admin}:admin", "--user", f"airflow:{airflow}:user")
    assert result.returncode == 0, result.stderr
    store = _auth_store(stores)
    assert store.authenticate_user("admin", "admin-password-1234") and store.get_user("admin").is_admin
    assert store.authenticate_user("airflow", "airflow-password-1234") and not store.get_user("airflow").is_admin


def test_a_new_generated_password_replaces_the_old_one(stores):
    admin = _password(stores, "admin", "admin-password-1234")
    _run(stores, "users", "--user", f"admin:{admin}:admin")
    admin = _password(stores, "admin", "admin-password-5678")
    assert "password re-asserted" in _run(stores, "users", "--user", f"admin:{admin}:admin").stdout
    store = _auth_store(stores)
    assert store.authenticate_user("admin", "admin-password-5678")
    assert not store.authenticate_user("admin", "admin-password-1234")


def test_a_user_made_admin_by_hand_is_made_a_plain_user_again(stores):
    airflow = _password(stores, "airflow", "airflow-password-1234")
    _run(stores, "users", "--user", f"airflow:{airflow}:user")
    _auth_store(stores).update_user("airflow", is_admin=True)
    assert "admin=False" in _run(stores, "users", "--user", f"airflow:{airflow}:user").stdout
    assert not _auth_store(stores).get_user("airflow").is_admin


def test_a_short_password_fails_the_job(stores):
    short = _password(stores, "admin", "short")
    result = _run(stores, "users", "--user", f"admin:{short}:admin")
    assert result.returncode != 0 and "shorter than MLflow's 12 characters" in result.stderr


def test_an_experiment_an_admin_created_is_granted_to_the_pipelines_user(stores):
    _run(stores, "upgrade", "--uri-file", str(stores["dir"] / "uri"))
    from mlflow.tracking import MlflowClient

    experiment_id = MlflowClient(tracking_uri=stores["tracking"]).create_experiment("anomaly-detection")
    airflow = _password(stores, "airflow", "airflow-password-1234")
    result = _run(
        stores,
        "users",
        "--user",
        f"airflow:{airflow}:user",
        "--grant",
        "airflow:experiment:anomaly-detection",
        "--grant",
        "airflow:registered_model:not-yet",
        "--tracking-uri-file",
        str(stores["dir"] / "uri"),
    )
    assert result.returncode == 0, result.stderr
    assert "EDIT granted" in result.stdout and "does not exist yet" in result.stdout
    assert _auth_store(stores).get_experiment_permission(experiment_id, "airflow").permission == "EDIT"
