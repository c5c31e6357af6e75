"""What only the prod shape has: Celery workers run the tasks, MLflow wants a login, Airflow goes through PgBouncer."""

from __future__ import annotations

import psycopg2
import pytest
import requests

from tests.e2e.conftest import Stack

pytestmark = pytest.mark.shapes("prod")
TRAINING_DAG = "train_anomaly_model"


def test_the_prod_shape_runs_celery_with_workers(stack: Stack):
    env = dict(e.split("=", 1) for e in stack.container("airflow-scheduler").attrs["Config"]["Env"])
    workers = [c for c in stack.containers() if "-airflow-worker-" in c.name and c.status == "running"]
    stack.figures["executor"] = env["AIRFLOW__CORE__EXECUTOR"]
    stack.figures["workers"] = len(workers)
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor" and len(workers) >= 2


def test_the_training_dags_tasks_run_on_the_celery_workers(stack: Stack):
    state, seconds, run_id = stack.trigger_and_wait(TRAINING_DAG)
    stack.figures["dag_state"], stack.figures["dag_run_s"] = state, round(seconds, 1)
    instances = stack.airflow("GET", f"/dags/{TRAINING_DAG}/dagRuns/{run_id}/taskInstances").json()["task_instances"]
    hosts = {ti["hostname"] for ti in instances}
    on_workers = bool(hosts) and all(h.startswith("airflow-worker-") for h in hosts)
    stack.figures["dag_ran_on_workers"] = on_workers
    assert state == "success" and on_workers, hosts


def test_mlflow_refuses_anonymous_requests(stack: Stack):
    response = requests.get(f"{stack.endpoints['mlflow']['url']}/api/2.0/mlflow/experiments/search",
                            params={"max_results": 1}, timeout=10)
    stack.figures["mlflow_anonymous_refused"] = response.status_code == 401
    assert response.status_code == 401


def test_airflows_database_sessions_come_through_the_pooler(stack: Stack):
    """PostgreSQL sees the airflow role's sessions from PgBouncer's address, none straight from an Airflow service."""
    pooler = stack.container_address("pgbouncer")
    services = {stack.container_address(c.name.removeprefix(f"mlplatform-{stack.name}-"))
                for c in stack.containers() if "-airflow-" in c.name and c.status == "running"
                and "-airflow-redis" not in c.name}
    superuser = stack.credentials["postgres"]
    with psycopg2.connect(host=stack.container_address("postgres"), dbname="postgres", user=superuser["username"],
                          password=superuser["password"], connect_timeout=10) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT host(client_addr) FROM pg_stat_activity WHERE usename = 'airflow'")
        sources = [row[0] for row in cursor.fetchall()]
    in_path = bool(sources) and set(sources) == {pooler} and not set(sources) & services
    stack.figures["pooler_in_path"] = in_path
    assert in_path, (sources, pooler)
