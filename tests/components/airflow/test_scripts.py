"""The init job, the Redis command and the health checks Airflow's containers run, executed under bash."""

from __future__ import annotations

import pytest

from testing.mocks import Recorded
from testing.program import shipped
from testing.scripts import Sandbox, secrets_on_command_lines


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
    container = shipped("prod").container("airflow-init")
    box = _sandbox(tmp_path, container)
    box.stub("airflow", "exit 0")
    box.stub("python", "exit 0")
    return container, box


def _steps(box: Sandbox) -> list[str]:
    return [f"{c.cmd} {c.argv[0]}" for c in box.calls() if c.cmd in ("airflow", "python")]


def test_init_migrates_then_makes_the_admin_match_the_stack(init):
    container, box = init
    assert _run_command(box, container).returncode == 0
    assert _steps(box) == ["airflow db", "python /opt/mlplatform/ensure_user.py"]
    assert box.calls("airflow")[0].argv == ["db", "migrate"]


def test_the_admin_password_is_read_from_its_secret_file_never_passed(init):
    container, box = init
    _run_command(box, container)
    argv = box.calls("python")[0].argv
    assert argv[argv.index("--password-file") + 1] == str(box.path("/run/secrets/airflow-admin-password"))
    assert argv[argv.index("--username") + 1] == "admin" and argv[argv.index("--role") + 1] == "Admin"
    generated = shipped("prod").mocks.generated_secrets
    assert secrets_on_command_lines(box.calls(), generated) == []


def test_init_migrates_directly_not_through_the_pooler(init):
    container, _ = init
    assert "@postgres:5432/airflow" in container.effective_settings()["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]


@pytest.mark.parametrize("failing", ["airflow", "python"])
def test_a_failing_step_fails_the_job_and_stops_it(init, failing):
    container, box = init
    box.stub(failing, "exit 4")
    assert _run_command(box, container).returncode == 4
    assert _steps(box)[-1].startswith(failing)


# -- Redis -----------------------------------------------------------------------------------------------
@pytest.fixture
def redis(tmp_path):
    container = shipped("prod").container("airflow-redis")
    box = Sandbox(tmp_path, container_paths=("/run/secrets", "/usr/local/etc/redis"))
    for path, upload in container.uploads().items():
        box.write(path, upload["content"])
    return container, box


def test_redis_reads_its_password_from_a_config_file_on_no_command_line(redis):
    container, box = redis
    assert container.inputs["command"] == ["redis-server", "/usr/local/etc/redis/redis.conf"]
    password = container.upload_content("/run/secrets/redis-password")
    assert container.upload_content("/usr/local/etc/redis/redis.conf") == f'requirepass "{password}"\nappendonly yes\n'
    assert container.upload_is_secret("/usr/local/etc/redis/redis.conf")


def test_redis_runs_as_the_redis_user_who_alone_reads_its_secrets(redis):
    container, _ = redis
    assert container.inputs["user"] == "999:999"
    for path in ("/usr/local/etc/redis/redis.conf", "/run/secrets/redis-password"):
        upload = container.uploads()[path]
        assert (upload["owner"], upload["group"], upload["permissions"]) == ("999", "999", "0400")


def test_redis_health_passes_only_when_the_password_is_accepted(redis):
    container, box = redis
    password = container.upload_content("/run/secrets/redis-password")
    box.stub("redis-cli", f'[ "$REDISCLI_AUTH" = "{password}" ] && echo PONG || echo "NOAUTH Authentication required."')
    assert _health(box, container, "airflow-redis").returncode == 0
    box.write("/run/secrets/redis-password", "wrong")
    assert _health(box, container, "airflow-redis").returncode != 0


# -- Airflow health checks --------------------------------------------------------------------------------
# The job and worker checks (images/airflow/scripts/healthcheck.py) run for real in test_healthcheck.py.
