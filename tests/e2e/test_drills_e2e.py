"""Drills on each shape, run last (they redeploy): data and logins survive, whatever happens to the containers.

- every container removed behind the platform's back, then a deploy with refresh;
- PostgreSQL replaced by a deploy: it is stopped with its fast-shutdown signal and starts clean;
- the stack's state lost (new generated secrets) with the volumes kept: every credential follows the new ones.
"""

from __future__ import annotations

import pytest
import requests

from e2e.realise import stack_state
from tests.e2e.conftest import FIGURES, Stack, wait_until

pytestmark = pytest.mark.drill
EXPERIMENT = "anomaly-detection"
TRAINING_DAG = "train_anomaly_model"


def _data(stack: Stack) -> tuple[int, int]:
    client = stack.mlflow()
    runs = len(client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id]))
    return runs, stack.airflow("GET", f"/dags/{TRAINING_DAG}/dagRuns").json()["total_entries"]


def test_data_and_passwords_survive_removing_every_container_and_deploying_with_refresh(stack: Stack):
    data_before, password_before = _data(stack), stack.credentials["airflow"]["password"]
    for container in stack.containers():
        container.remove(force=True)
    realisation = stack.redeploy(refresh=True)
    assert {a for k, a in realisation.actions.items() if k.startswith("Container/")} - {"left-out"} == {"create"}
    assert stack.credentials["airflow"]["password"] == password_before
    assert stack.airflow_token().status_code in (200, 201)
    assert _data(stack) == data_before
    stack.figures["data_survived_redeploy"] = True


def test_a_replaced_postgresql_shuts_down_cleanly_and_starts_without_recovery(stack: Stack):
    cpus = {"dev": 1.5, "prod": 1.75}[stack.shape]  # a new cpu quota replaces the container (schema: cpus)
    old = stack.container("postgres").id
    touched = stack.redeploy(database={"limits": {"cpus": cpus}}).touched()
    assert touched["Container/postgres"] == "replace" and stack.container("postgres").id != old
    log = stack.container("postgres").logs().decode(errors="replace")
    clean = "database system was shut down at" in log and "not properly shut down" not in log
    stack.figures["postgres_clean_shutdown"] = clean
    assert clean, log[-2000:]


def test_a_redeploy_with_lost_state_onto_kept_volumes_works_with_the_new_credentials(stack: Stack):
    """`pulumi stack rm` (or lost state) and a new `pulumi up`: every generated secret is new, the data is not."""
    data_before = _data(stack)
    old = {k: v.get("password") for k, v in stack.credentials.items()}
    teardown_stack_but_keep_volumes(stack)
    stack.redeploy()
    new = stack.credentials
    assert all(new[k]["password"] != old[k] for k in old if old[k]), "the drill must generate new secrets"
    assert stack.airflow_token().status_code in (200, 201)
    assert stack.airflow_token(password=old["airflow"]).status_code == 401
    assert _data(stack) == data_before
    if "mlflow" in new:  # MLflow auth on: the admin and the pipelines' user follow the new secrets
        url = stack.endpoints["mlflow"]["url"] + "/api/2.0/mlflow/experiments/search"
        for login in ("mlflow", "mlflow_pipelines"):
            user = new[login]["username"]
            response = requests.get(url, params={"max_results": 1}, auth=(user, new[login]["password"]), timeout=10)
            assert response.status_code == 200, (login, response.text)
            stale = requests.get(url, params={"max_results": 1}, auth=(user, old[login]), timeout=10)
            assert stale.status_code == 401, login
    with stack.reader_connection() as conn, conn.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM experiments")
        assert cursor.fetchone()[0] >= 1
    state, _, _ = stack.trigger_and_wait(TRAINING_DAG)
    assert state == "success"
    stack.figures["lost_state_redeploy_ok"] = True
    FIGURES["both"].setdefault("lost_state_redeploy_ok", {})[stack.shape] = True


def teardown_stack_but_keep_volumes(stack: Stack) -> None:
    """What a lost stack leaves: containers and network gone, volumes kept, no state (so no secrets)."""
    for container in stack.containers():
        container.remove(force=True)
    for network in stack.client.networks.list(names=[f"mlplatform-{stack.name}"]):
        network.remove()
    stack_state(stack.shape).forget()
    wait_until(lambda: not stack.containers(), 60, 1, "containers gone")
