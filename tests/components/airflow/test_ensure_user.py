"""images/airflow/scripts/ensure_user.py, run for real against a migrated Airflow database (SQLite here).

The init job runs it on every deploy: it creates the admin, re-asserts a changed password
(a redeploy with new secrets onto a kept database), and leaves a matching one alone.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from testing.program import REPO_ROOT

SCRIPT = REPO_ROOT / "images/airflow/scripts/ensure_user.py"


@pytest.fixture(scope="module")
def airflow_home(tmp_path_factory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("airflow-home")
    env = {**os.environ, "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__LOAD_EXAMPLES": "false",
           "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
           "AIRFLOW__CORE__AUTH_MANAGER": "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager",
           "AIRFLOW__CORE__DAGS_FOLDER": str(home / "dags")}
    subprocess.run([sys.executable, "-m", "airflow", "db", "migrate"], env=env, check=True, capture_output=True)
    return env


def _ensure(env: dict[str, str], password_file: Path, username: str = "admin") -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), "--username", username, "--role", "Admin",
                           "--email", f"{username}@test.invalid", "--password-file", str(password_file)],
                          env=env, capture_output=True, text=True)


def _password_ok(env: dict[str, str], username: str, password: str) -> bool:
    code = ("import sys\nfrom airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder\n"
            "with get_application_builder() as ab:\n"
            "    sys.exit(0 if ab.sm.check_password(sys.argv[1], sys.stdin.read()) else 1)\n")
    return subprocess.run([sys.executable, "-c", code, username], input=password, env=env,
                          capture_output=True, text=True).returncode == 0


def test_creates_the_admin_with_the_password_in_the_file(airflow_home, tmp_path):
    (tmp_path / "pw").write_text("first-generated-password")
    result = _ensure(airflow_home, tmp_path / "pw")
    assert result.returncode == 0, result.stderr
    assert "created admin" in result.stdout
    assert _password_ok(airflow_home, "admin", "first-generated-password")


def test_a_new_password_in_the_file_replaces_the_old_one(airflow_home, tmp_path):
    (tmp_path / "pw").write_text("first-generated-password")
    _ensure(airflow_home, tmp_path / "pw")
    (tmp_path / "pw").write_text("second-generated-password")
    result = _ensure(airflow_home, tmp_path / "pw")
    assert "re-asserted" in result.stdout
    assert _password_ok(airflow_home, "admin", "second-generated-password")
    assert not _password_ok(airflow_home, "admin", "first-generated-password")


def test_a_matching_password_is_left_alone(airflow_home, tmp_path):
    (tmp_path / "pw").write_text("steady-password-123")
    _ensure(airflow_home, tmp_path / "pw")
    assert "is the generated one" in _ensure(airflow_home, tmp_path / "pw").stdout


def test_an_empty_password_file_fails_the_job(airflow_home, tmp_path):
    (tmp_path / "pw").write_text("")
    result = _ensure(airflow_home, tmp_path / "pw")
    assert result.returncode != 0 and "is empty" in result.stderr
