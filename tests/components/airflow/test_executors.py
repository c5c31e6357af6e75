"""LocalExecutor in dev; CeleryExecutor with a password-protected Redis and N workers in prod."""

from __future__ import annotations

import pytest

from testing.program import shipped, shipped_with


def test_dev_runs_local_executor_without_redis_or_workers():
    containers = shipped("dev").containers()
    assert "airflow-redis" not in containers
    assert not [name for name in containers if name.startswith("airflow-worker")]
    assert containers["airflow-scheduler"].env()["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"


@pytest.mark.parametrize("workers", [1, 4])
def test_worker_count_follows_config(workers):
    names = [n for n in shipped_with("prod", airflow={"workers": workers}).containers() if "-worker-" in n]
    assert sorted(names) == sorted(f"airflow-worker-{i}" for i in range(1, workers + 1))


def test_celery_uses_a_password_protected_redis_broker():
    containers = shipped("prod").containers()
    redis_password = containers["airflow-redis"].upload_content("/run/secrets/redis-password")
    worker = containers["airflow-worker-1"].effective_settings()
    assert worker["AIRFLOW__CELERY__BROKER_URL"] == f"redis://:{redis_password}@airflow-redis:6379/0"
    assert worker["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql://airflow:")


def test_redis_is_named_from_the_cluster_and_keeps_its_first_release_identity():
    run = shipped("prod")
    redis = run.container("airflow-redis")
    assert redis.aliases == ["redis"]
    assert next(r for r in run.of_type("RandomPassword") if r.name == "airflow-redis").aliases == ["redis"]
    assert redis.inputs["volumes"] == [{"containerPath": "/data", "volumeName": "mlplatform-prod-airflow-redis",
                                        "readOnly": False}]


def test_health_checks_ask_what_upstreams_do_without_starting_airflow():
    containers = shipped("prod").containers()
    tests = {
        name: " ".join(c.inputs["healthcheck"]["tests"]) for name, c in containers.items() if "healthcheck" in c.inputs
    }
    assert "/api/v2/monitor/health" in tests["airflow-apiserver"]
    assert "localhost:8974/health" in tests["airflow-scheduler"]
    assert tests["airflow-dag-processor"] == "CMD python /opt/mlplatform/healthcheck.py job DagProcessorJob"
    assert tests["airflow-triggerer"] == "CMD python /opt/mlplatform/healthcheck.py job TriggererJob"
    assert tests["airflow-worker-1"] == "CMD python /opt/mlplatform/healthcheck.py celery"
    assert containers["airflow-scheduler"].env()["AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK"] == "true"


def test_task_containers_share_logs_and_data_volumes_and_resolvable_hostnames():
    for name, c in shipped("prod").containers().items():
        if not name.startswith("airflow-") or name == "airflow-redis":
            continue
        paths = {v["containerPath"] for v in c.inputs["volumes"]}
        assert {"/opt/airflow/logs", "/opt/airflow/data"} <= paths, name
        if name != "airflow-init":
            assert c.inputs["hostname"] == name
