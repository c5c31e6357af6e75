"""images/airflow/scripts/healthcheck.py, run for real: a job's heartbeat in a real PostgreSQL, settings from files."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from testing.program import REPO_ROOT

SCRIPT = REPO_ROOT / "images/airflow/scripts/healthcheck.py"
#: The columns of Airflow's job table the check reads.
JOB_TABLE = ("CREATE TABLE job (id serial, job_type varchar(30), hostname varchar(500), state varchar(20), "
             "latest_heartbeat timestamptz)")


@pytest.fixture
def airflow_db(postgres_server, tmp_path):
    postgres_server.psql("-c", JOB_TABLE)
    url = (f"postgresql+psycopg2://{postgres_server.superuser}:{postgres_server.password}"
           f"@{postgres_server.host}:{postgres_server.port}/postgres")
    (tmp_path / "conn").write_text(url)
    # Only the *_CMD form, as in the containers (an in-process Airflow import may have set the plain one).
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW__DATABASE__")}
    return postgres_server, {**inherited, "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD": f"cat {tmp_path / 'conn'}",
                             "HOSTNAME": "airflow-triggerer"}


def _check(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=60)


def _heartbeat(server, hostname: str, age_s: int, job_type: str = "TriggererJob", state: str = "running") -> None:
    server.psql("-c", f"INSERT INTO job (job_type, hostname, state, latest_heartbeat) VALUES "
                      f"('{job_type}', '{hostname}', '{state}', now() - interval '{age_s} seconds')")


def test_a_recent_heartbeat_of_this_hosts_job_is_healthy(airflow_db):
    server, env = airflow_db
    _heartbeat(server, "airflow-triggerer", 5)
    result = _check(env, "job", "TriggererJob")
    assert result.returncode == 0, result.stderr


def test_a_stale_heartbeat_is_unhealthy(airflow_db):
    server, env = airflow_db
    _heartbeat(server, "airflow-triggerer", 600)
    assert _check(env, "job", "TriggererJob").returncode == 1


def test_another_hosts_heartbeat_does_not_count(airflow_db):
    server, env = airflow_db
    _heartbeat(server, "airflow-triggerer-2", 5)
    assert _check(env, "job", "TriggererJob").returncode == 1


def test_another_job_types_heartbeat_does_not_count(airflow_db):
    server, env = airflow_db
    _heartbeat(server, "airflow-triggerer", 5, job_type="DagProcessorJob")
    assert _check(env, "job", "TriggererJob").returncode == 1


def test_a_finished_job_does_not_count(airflow_db):
    server, env = airflow_db
    _heartbeat(server, "airflow-triggerer", 5, state="success")
    assert _check(env, "job", "TriggererJob").returncode == 1


def test_an_unreachable_database_is_unhealthy(airflow_db, tmp_path):
    _, env = airflow_db
    (tmp_path / "conn").write_text("postgresql+psycopg2://nobody:x@127.0.0.1:1/none")
    assert _check(env, "job", "TriggererJob").returncode != 0


def test_a_worker_that_does_not_answer_is_unhealthy(tmp_path):
    (tmp_path / "broker").write_text("memory://")
    env = {
        **os.environ,
        "AIRFLOW__CELERY__BROKER_URL_CMD": f"cat {tmp_path / 'broker'}",
        "HOSTNAME": "airflow-worker-1",
    }
    assert _check(env, "celery").returncode == 1


def test_the_check_imports_no_airflow():
    assert "import airflow" not in SCRIPT.read_text() and "from airflow" not in SCRIPT.read_text()
