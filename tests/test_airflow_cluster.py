"""AirflowCluster as declared: shared secrets, executor wiring, health, init job."""

from __future__ import annotations

import base64

import pytest
from cryptography.fernet import Fernet

from components.airflow_cluster import INIT_SCRIPT
from tests.helpers import program_for, program_with
from tests.pulumi_mocks import effective_settings, env_dict, uploaded_files

SHARED = ("AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__API__SECRET_KEY", "AIRFLOW__API_AUTH__JWT_SECRET",
          "AIRFLOW__API_AUTH__JWT_ISSUER", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CORE__EXECUTION_API_SERVER_URL")


def _airflow(stack="dev"):
    return {k: v for k, v in program_for(stack).mocks.containers().items() if k.startswith("airflow-")}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_airflow_container_shares_the_same_keys(stack):
    envs = [effective_settings(c) for c in _airflow(stack).values()]
    for key in SHARED:
        values = {env[key] for env in envs}
        assert len(values) == 1, f"{key} differs across containers"


def test_fernet_key_is_valid():
    key = effective_settings(_airflow()["airflow-scheduler"])["AIRFLOW__CORE__FERNET_KEY"]
    assert Fernet(key.encode()).decrypt(Fernet(key.encode()).encrypt(b"x")) == b"x"
    assert len(base64.urlsafe_b64decode(key)) == 32


def test_jwt_secret_is_at_least_64_bytes():
    secret = effective_settings(_airflow()["airflow-apiserver"])["AIRFLOW__API_AUTH__JWT_SECRET"]
    assert len(bytes.fromhex(secret)) >= 64


def test_execution_api_url_points_at_the_api_server_alias():
    env = env_dict(_airflow()["airflow-scheduler"])
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
    assert _airflow()["airflow-apiserver"].inputs["networksAdvanced"][0]["aliases"] == ["airflow-apiserver"]


def test_fab_auth_manager_keeps_users_in_postgres():
    env = effective_settings(_airflow()["airflow-apiserver"])
    assert env["AIRFLOW__CORE__AUTH_MANAGER"].endswith("FabAuthManager")
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://airflow:")


def test_dev_runs_local_executor_without_redis_or_workers():
    containers = program_for("dev").mocks.containers()
    assert "redis" not in containers
    assert not [name for name in containers if name.startswith("airflow-worker")]
    assert env_dict(containers["airflow-scheduler"])["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"


@pytest.mark.parametrize("workers", [1, 4])
def test_worker_count_follows_config(workers):
    run = program_with("prod", airflow={"workers": workers})
    names = [n for n in run.mocks.containers() if n.startswith("airflow-worker")]
    assert sorted(names) == sorted(f"airflow-worker-{i}" for i in range(1, workers + 1))


def test_celery_uses_a_password_protected_redis_broker():
    containers = program_for("prod").mocks.containers()
    redis_password = uploaded_files(containers["redis"])["/run/secrets/redis-password"]
    worker_env = effective_settings(containers["airflow-worker-1"])
    assert worker_env["AIRFLOW__CELERY__BROKER_URL"] == f"redis://:{redis_password}@redis:6379/0"
    assert worker_env["AIRFLOW__CELERY__RESULT_BACKEND"].startswith("db+postgresql://airflow:")
    assert containers["redis"].inputs["healthcheck"]["tests"] == [
        "CMD-SHELL", 'REDISCLI_AUTH="$(cat /run/secrets/redis-password)" redis-cli ping | grep -q PONG']
    assert "$(cat /run/secrets/redis-password)" in containers["redis"].inputs["command"][-1]


def test_health_checks_follow_upstream():
    containers = program_for("prod").mocks.containers()
    tests = {name: " ".join(c.inputs["healthcheck"]["tests"]) for name, c in containers.items() if "healthcheck" in c.inputs}
    assert "/api/v2/monitor/health" in tests["airflow-apiserver"]
    assert "localhost:8974/health" in tests["airflow-scheduler"]
    assert "--job-type DagProcessorJob --hostname \"$HOSTNAME\"" in tests["airflow-dag-processor"]
    assert "--job-type TriggererJob" in tests["airflow-triggerer"]
    assert 'inspect ping -d "celery@$HOSTNAME"' in tests["airflow-worker-1"]
    assert env_dict(containers["airflow-scheduler"])["AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK"] == "true"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_long_running_container_has_health_check_and_restart(stack):
    for name, c in program_for(stack).mocks.containers().items():
        if c.inputs.get("attach"):
            continue
        assert c.inputs.get("healthcheck", {}).get("tests"), name
        assert c.inputs["restart"] == "unless-stopped", name
        assert c.inputs["wait"] is True, name


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_no_container_installs_packages_at_start(stack):
    for name, c in program_for(stack).mocks.containers().items():
        command = " ".join(c.inputs.get("command", []))
        assert "pip install" not in command, name
        assert "_PIP_ADDITIONAL_REQUIREMENTS" not in env_dict(c), name


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_airflow_secrets_are_file_backed_not_in_env(stack):
    run = program_for(stack)
    for name, c in _airflow(stack).items():
        env = env_dict(c)
        for option in ("AIRFLOW__CORE__FERNET_KEY", "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__API_AUTH__JWT_SECRET"):
            assert option not in env and env[f"{option}_CMD"].startswith("cat /run/secrets/"), name
        leaked = {s for s in run.mocks.generated_secrets if any(s in e for e in c.inputs["envs"])}
        # Only the MLflow client's password (auth on) must stay in env: the MLflow client reads it from there.
        allowed = {run.exports["credentials"].value["mlflow"]["password"]} if "mlflow" in run.exports["credentials"].value else set()
        assert leaked <= allowed, name
        assert c.is_secret("uploads"), name


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_env_holding_a_generated_secret_is_secret(stack):
    run = program_for(stack)
    for name, c in run.mocks.containers().items():
        for index, entry in enumerate(c.inputs.get("envs", [])):
            if any(secret in entry for secret in run.mocks.generated_secrets):
                assert c.is_secret(f"envs[{index}]"), f"{name}: {entry.split('=')[0]} is not secret"


def test_init_job_fails_loudly_and_resets_the_admin_password():
    assert INIT_SCRIPT.startswith("set -euo pipefail")
    assert "|| true" not in INIT_SCRIPT
    assert "airflow db migrate" in INIT_SCRIPT
    assert "airflow users reset-password" in INIT_SCRIPT


def test_init_job_reruns_every_deploy_with_the_generated_password():
    run = program_for("dev")
    init = run.mocks.containers()["airflow-init"]
    assert init.inputs["command"][:2] == ["bash", "-c"]
    assert init.inputs["attach"] is True and init.replacement_trigger
    admin = run.exports["credentials"].value["airflow"]
    assert uploaded_files(init)["/run/secrets/airflow-admin-password"] == admin["password"]
    assert env_dict(init)["MLPLATFORM_ADMIN_USERNAME"] == admin["username"] == "admin"
    assert run.exports["checks"].value["airflow_init_succeeded"] is True


def test_init_runs_after_the_database_and_services_after_init():
    run = program_for("prod")
    containers = run.mocks.containers()
    init = containers["airflow-init"]
    assert containers["postgres"].urn in init.dependencies
    assert containers["redis"].urn in init.dependencies
    for name in ("airflow-apiserver", "airflow-scheduler", "airflow-worker-1"):
        assert init.urn in containers[name].dependencies


def test_dags_mounted_read_only_in_dev_and_baked_in_prod():
    dev = _airflow("dev")["airflow-scheduler"].inputs["volumes"]
    mount = next(v for v in dev if v["containerPath"] == "/opt/airflow/dags")
    assert mount["hostPath"].endswith("/dags") and mount["readOnly"] is True
    prod = _airflow("prod")["airflow-scheduler"].inputs["volumes"]
    assert not any(v["containerPath"] == "/opt/airflow/dags" for v in prod)
    targets = {s: next(r for r in program_for(s).mocks.of_type("RemoteImage") if r.name == "airflow-image")
               .inputs["build"]["target"] for s in ("dev", "prod")}
    assert targets == {"dev": "runtime", "prod": "baked"}


def test_task_containers_share_logs_and_data_volumes_and_resolvable_hostnames():
    for name, c in _airflow("prod").items():
        paths = {v["containerPath"] for v in c.inputs["volumes"]}
        assert {"/opt/airflow/logs", "/opt/airflow/data"} <= paths, name
        if name != "airflow-init":
            assert c.inputs["hostname"] == name


def test_dags_get_mlflow_and_platform_settings():
    env = env_dict(_airflow()["airflow-scheduler"])
    assert env["MLFLOW_TRACKING_URI"] == "http://mlflow:5000"
    assert env["MLPLATFORM_DATA_DIR"] == "/opt/airflow/data"
    assert env["MLPLATFORM_AIRBYTE_ENABLED"] == "false"
    assert '"host": "mlflow"' in env["AIRFLOW_CONN_MLFLOW_DEFAULT"]
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "false"
    assert env["MLFLOW_DISABLE_TELEMETRY"] == "true" and env["DO_NOT_TRACK"] == "true"


def test_mlflow_credentials_reach_airflow_when_mlflow_auth_is_on():
    run = program_for("prod")
    env = env_dict(run.mocks.containers()["airflow-worker-1"])
    mlflow = run.exports["credentials"].value["mlflow"]
    assert env["MLFLOW_TRACKING_USERNAME"] == mlflow["username"]
    assert env["MLFLOW_TRACKING_PASSWORD"] == mlflow["password"]
    assert mlflow["password"] in env["AIRFLOW_CONN_MLFLOW_DEFAULT"]
