"""The init job, the Redis command and the health checks Airflow's containers run, executed under bash."""

from __future__ import annotations

import pytest

from testing.mocks import Recorded
from testing.program import shipped
from testing.scripts import Sandbox


def _sandbox(tmp_path, container: Recorded) -> Sandbox:
    box = Sandbox(tmp_path)
    for path, upload in container.uploads().items():
        if path.startswith("/run/secrets/"):
            box.write(path, upload["content"])
    return box


def _run_command(box: Sandbox, container: Recorded, env_extra: dict | None = None):
    shell, _, script = container.inputs["command"][:3]
    return box.run(script, {**container.env(), **(env_extra or {})}, shell=shell)


def _health(box: Sandbox, container: Recorded, hostname: str):
    kind, script = container.inputs["healthcheck"]["tests"]
    assert kind == "CMD-SHELL"
    return box.run(script, {**container.env(), "HOSTNAME": hostname}, shell="sh")


# -- init job ------------------------------------------------------------------------------------------
@pytest.fixture
def init(tmp_path):
    container = shipped("dev").container("airflow-init")
    box = _sandbox(tmp_path, container)
    box.stub("airflow", "exit 0")
    return container, box


def _airflow_steps(box: Sandbox) -> list[list[str]]:
    return [call.argv[:2] for call in box.calls("airflow")]


def test_init_migrates_then_creates_the_admin_then_makes_its_password_authoritative(init):
    container, box = init
    assert _run_command(box, container).returncode == 0
    assert _airflow_steps(box) == [["db", "migrate"], ["users", "create"], ["users", "reset-password"]]


def test_the_admin_gets_the_generated_password_from_its_secret_file(init):
    container, box = init
    _run_command(box, container)
    password = container.upload_content("/run/secrets/airflow-admin-password")
    reset = box.calls("airflow")[-1].argv
    assert reset[reset.index("--username") + 1] == "admin"
    assert reset[reset.index("--password") + 1] == password


@pytest.mark.parametrize("failing_step", ["db migrate", "users create", "users reset-password"])
def test_a_failing_step_fails_the_job_and_stops_it(init, failing_step):
    container, box = init
    box.stub("airflow", f'[ "$1 $2" = "{failing_step}" ] && exit 4; exit 0')
    result = _run_command(box, container)
    assert result.returncode == 4
    steps = [" ".join(step) for step in _airflow_steps(box)]
    assert steps[-1] == failing_step


def test_a_missing_admin_password_file_fails_the_job_before_any_step(init):
    container, box = init
    box.path("/run/secrets/airflow-admin-password").unlink()
    assert _run_command(box, container).returncode != 0
    assert box.calls("airflow") == []


# -- Redis -----------------------------------------------------------------------------------------------
@pytest.fixture
def redis(tmp_path):
    container = shipped("prod").container("airflow-redis")
    return container, _sandbox(tmp_path, container)


def test_redis_gets_its_password_from_the_secret_file(redis):
    container, box = redis
    box.stub("redis-server", "exit 0")
    assert _run_command(box, container).returncode == 0
    argv = box.calls("redis-server")[0].argv
    assert argv[argv.index("--requirepass") + 1] == container.upload_content("/run/secrets/redis-password")
    assert "--appendonly" in argv


def test_redis_health_passes_only_when_the_password_is_accepted(redis):
    container, box = redis
    password = container.upload_content("/run/secrets/redis-password")
    box.stub("redis-cli", f'[ "$REDISCLI_AUTH" = "{password}" ] && echo PONG || echo "NOAUTH Authentication required."')
    assert _health(box, container, "airflow-redis").returncode == 0
    box.write("/run/secrets/redis-password", "wrong")
    assert _health(box, container, "airflow-redis").returncode != 0


# -- Airflow health checks --------------------------------------------------------------------------------
def test_worker_health_pings_its_own_celery_node(tmp_path):
    container = shipped("prod").container("airflow-worker-2")
    box = _sandbox(tmp_path, container)
    box.stub("celery", "exit 0")
    assert _health(box, container, "airflow-worker-2").returncode == 0
    argv = box.calls("celery")[0].argv
    assert argv[argv.index("-d") + 1] == "celery@airflow-worker-2"


def test_worker_health_fails_when_the_node_does_not_answer(tmp_path):
    container = shipped("prod").container("airflow-worker-1")
    box = _sandbox(tmp_path, container)
    box.stub("celery", 'echo "Error: No nodes replied within time constraint" >&2; exit 69')
    assert _health(box, container, "airflow-worker-1").returncode != 0


@pytest.mark.parametrize("service,job", [("airflow-dag-processor", "DagProcessorJob"),
                                         ("airflow-triggerer", "TriggererJob")])
def test_job_health_checks_ask_about_their_own_host(tmp_path, service, job):
    container = shipped("dev").container(service)
    box = _sandbox(tmp_path, container)
    box.stub("airflow", "exit 0")
    assert _health(box, container, service).returncode == 0
    argv = box.calls("airflow")[0].argv
    assert argv[argv.index("--job-type") + 1] == job and argv[argv.index("--hostname") + 1] == service
