"""Each shape's stack, realised on a real Docker engine, working together: the same functional checks.

Tests run in file order on one realised stack (see conftest.py); each writes
its figure into build/e2e-report.json. Only 127.0.0.1 and the stack's own
container network are contacted.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta, UTC

import psycopg2
import pytest
import requests

from testing.grafana_sql import TimeRange, grafana_sql, panels
from tests.e2e.conftest import Stack, wait_until

TRAINING_DAG = "train_anomaly_model"
EXPERIMENT = "anomaly-detection"
MODEL = "anomaly-detector"


def test_every_realised_container_is_ready(stack: Stack):
    for service, result in stack.realisation.containers.items():
        if result.exit_code is not None:
            assert result.exit_code == 0, service
        else:
            state = stack.client.api.inspect_container(result.id)["State"]
            assert state["Health"]["Status"] == "healthy", service
    slowest = max(r.seconds_to_ready for r in stack.realisation.containers.values())
    stack.figures["slowest_in_stack_s"] = round(slowest, 1)


def test_no_port_is_published_beyond_loopback(stack: Stack):
    published = 0
    for container in stack.containers():
        for bindings in (container.attrs["HostConfig"].get("PortBindings") or {}).values():
            for binding in bindings or []:
                published += 1
                assert binding["HostIp"] == "127.0.0.1", container.name
    assert published >= 2


def test_published_ports_are_the_e2e_stacks_own(stack: Stack):
    """The e2e stack never takes the ports of a `make up` stack on the same engine."""
    for container in stack.containers():
        for bindings in (container.attrs["HostConfig"].get("PortBindings") or {}).values():
            for binding in bindings or []:
                assert int(binding["HostPort"]) > 10000, container.name


def test_browser_endpoints_answer_on_loopback(stack: Stack):
    assert requests.get(f"{stack.endpoints['mlflow']['url']}/health", timeout=10).text.strip() == "OK"
    health = requests.get(f"{stack.endpoints['airflow']['url']}/api/v2/monitor/health", timeout=10).json()
    assert health["metadatabase"]["status"] == "healthy"
    # MLflow's host validation lets the browser's Host header through (not only /health); with auth on
    # (prod) an anonymous browser is asked to log in, and the login lets it in.
    search = f"{stack.endpoints['mlflow']['url']}/api/2.0/mlflow/experiments/search"
    anonymous = requests.get(search, params={"max_results": 1}, timeout=10)
    login = stack.credentials.get("mlflow")
    if login:
        assert anonymous.status_code == 401 and "basic" in anonymous.headers.get("WWW-Authenticate", "").lower()
        assert requests.get(search, params={"max_results": 1}, timeout=10,
                            auth=(login["username"], login["password"])).status_code == 200
    else:
        assert anonymous.status_code == 200


def test_airflow_admin_login_returns_a_token(stack: Stack):
    response = stack.airflow_token()
    assert response.status_code in (200, 201), response.text
    assert response.json()["access_token"]
    stack.figures["admin_login_ok"] = True


def test_airflow_wrong_password_is_refused(stack: Stack):
    response = stack.airflow_token(password=stack.credentials["airflow"]["password"] + "-wrong")
    assert response.status_code == 401
    stack.figures["wrong_password_refused"] = True


def test_training_dag_succeeds_when_triggered_over_the_api(stack: Stack):
    state, seconds, _ = stack.trigger_and_wait(TRAINING_DAG)
    stack.figures["dag_state"] = state
    stack.figures["dag_run_s"] = round(seconds, 1)
    assert state == "success"


def test_mlflow_recorded_the_run_metrics_artifacts_and_champion(stack: Stack):
    client = stack.mlflow()
    experiment = client.get_experiment_by_name(EXPERIMENT)
    assert experiment is not None
    runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time DESC"])
    assert runs and runs[0].info.status == "FINISHED"
    assert runs[0].data.metrics
    artifacts = [a.path for a in client.list_artifacts(runs[0].info.run_id)]
    assert artifacts
    versions = client.search_model_versions(f"name='{MODEL}'")
    assert versions
    champion = client.get_model_version_by_alias(MODEL, "champion")
    assert champion.version
    stack.figures["mlflow_runs"] = len(runs)
    stack.figures["registered_model_versions"] = len(versions)


def test_every_dashboard_query_returns_rows_as_the_read_only_role(stack: Stack):
    client = stack.mlflow()
    experiment = client.get_experiment_by_name(EXPERIMENT)
    run = client.search_runs([experiment.experiment_id], max_results=1)[0]
    now = datetime.now(UTC)
    values = {"experiment": [experiment.experiment_id], "metric": list(run.data.metrics)}
    multi = {"experiment": True, "metric": True}
    failures = []
    with stack.reader_connection() as conn, conn.cursor() as cursor:
        for name, panel in panels():
            for target in panel["targets"]:
                window = TimeRange(now - timedelta(days=1), now + timedelta(hours=1))
                sql = grafana_sql(target["rawSql"], values, multi, window)
                cursor.execute(sql)
                rows = cursor.fetchall()
                if not rows and panel["title"] != "Failed runs":
                    failures.append(f"{name}: {panel['title']}")
    stack.figures["grafana_queries_ok"] = not failures
    assert not failures, f"panels without rows: {failures}"


def test_read_only_role_cannot_write(stack: Stack):
    with stack.reader_connection() as conn, conn.cursor() as cursor, pytest.raises(psycopg2.Error):
        cursor.execute("INSERT INTO experiments (name, lifecycle_stage) VALUES ('x', 'active')")
    stack.figures["readonly_write_refused"] = True


def _working_set_bytes(stats: dict) -> int:
    """Memory in use as `docker stats` shows it: usage minus reclaimable page cache."""
    memory = stats["memory_stats"]
    detail = memory.get("stats", {})
    cache = detail.get("total_inactive_file", detail.get("inactive_file", detail.get("cache", 0)))
    return max(memory.get("usage", 0) - cache, 0)


def test_idle_memory_of_the_stack(stack: Stack):
    """A figure (target < 2.5 GB), not an assertion: memory targets are reported, not asserted."""
    stack.wait_for_idle_airflow()
    time.sleep(15)
    per_container = {
        c.name: round(_working_set_bytes(c.stats(stream=False)) / 2**20)
        for c in stack.containers()
        if c.status == "running"
    }
    stack.figures["idle_memory_by_container_mb"] = per_container
    stack.figures["idle_memory_mb"] = sum(per_container.values())
    assert all(mb > 0 for mb in per_container.values()), per_container


IDLE_CPU_WINDOW_S = 60


def test_idle_cpu_of_the_stack(stack: Stack):
    """A figure, not an assertion: percent of one core the idle stack uses (health checks included), averaged
    over IDLE_CPU_WINDOW_S by the kernel's CPU accounting of each container (what `docker stats` reads)."""
    stack.wait_for_idle_airflow()
    running = [c for c in stack.containers() if c.status == "running"]

    def sample() -> dict[str, tuple[float, int]]:
        """Per container: (when, CPU nanoseconds used so far); each read takes a moment, so each has its time."""
        return {c.name: (time.monotonic(), int(c.stats(stream=False)["cpu_stats"]["cpu_usage"]["total_usage"]))
                for c in running}

    before = sample()
    time.sleep(IDLE_CPU_WINDOW_S)
    after = sample()
    per_container = {name: round((after[name][1] - before[name][1]) / 1e9 / (after[name][0] - before[name][0]) * 100,
                                 1) for name in before}
    stack.figures["idle_cpu_by_container_percent"] = per_container
    stack.figures["idle_cpu_percent"] = round(sum(per_container.values()), 1)
    assert all(value >= 0 for value in per_container.values()), per_container


def test_slowest_single_service_started_alone(stack: Stack):
    """Each long-running service restarted on its own, the others up; time until healthy again."""
    timings = {}
    for container in stack.containers():
        if container.attrs["Config"].get("Healthcheck") is None or container.status != "running":
            continue
        started = time.monotonic()
        container.restart()
        wait_until(
            lambda c=container: stack.client.api.inspect_container(c.id)["State"]["Health"]["Status"] == "healthy",
            300,
            0.5,
            f"{container.name} healthy after restart",
        )
        timings[container.name] = round(time.monotonic() - started, 1)
    stack.figures["single_service_restart_s"] = timings
    stack.figures["slowest_single_service_s"] = max(timings.values())
    # Target: the whole stack healthy within 1.5x its slowest single service.
    stack.figures["time_to_healthy_vs_slowest"] = round(stack.figures["time_to_healthy_s"] / max(timings.values()), 2)


def test_services_recover_after_a_database_restart(stack: Stack):
    postgres = stack.container("postgres")
    started = time.monotonic()
    postgres.restart()

    def all_healthy():
        states = [
            stack.client.api.inspect_container(c.id)["State"] for c in stack.containers() if c.status == "running"
        ]
        return all(s.get("Health", {}).get("Status", "healthy") == "healthy" for s in states) and len(states) >= 6

    wait_until(all_healthy, 300, 1, "every service healthy after the database restart")
    state, _, _ = stack.trigger_and_wait(TRAINING_DAG)
    stack.figures["recovered_after_db_restart_s"] = round(time.monotonic() - started, 1)
    assert state == "success"
