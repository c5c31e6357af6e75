"""The PostgreSQL entrypoint wrapper and health check, executed under bash with stubbed server commands."""

from __future__ import annotations

import signal
import time

import pytest

from components.database import SCRIPTS
from testing.scripts import Sandbox, secrets_on_command_lines

ENTRYPOINT = (SCRIPTS / "postgres-entrypoint.sh").read_text()
HEALTHCHECK = (SCRIPTS / "postgres-healthcheck.sh").read_text()
PASSWORDS = {"postgres-password": "superuser-pw-123", "db-airflow-password": "airflow-pw-456",
             "db-mlflow-password": "mlflow-pw-789"}
MARKER = "/tmp/mlplatform-bootstrapped"

#: A stand-in PostgreSQL server: ready once it handles signals; runs until TERM/INT, then exits 0
#: (a clean shutdown), recording which signal stopped it. Like PostgreSQL it installs its own
#: handlers, so a SIGINT that the shell ignores for background jobs still reaches it.
SERVER = """exec python3 -c '
import pathlib, signal, time
def stop(number, frame):
    pathlib.Path("/tmp/server-stopped").write_text(f"stopped-by-{signal.Signals(number).name[3:]}")
    raise SystemExit(0)
signal.signal(signal.SIGTERM, stop)
signal.signal(signal.SIGINT, stop)
pathlib.Path("/tmp/server-ready").touch()
while True:
    time.sleep(0.05)
'
"""
#: pg_isready answers once the server is ready.
PG_ISREADY = "[ -e /tmp/server-ready ]"


@pytest.fixture
def box(tmp_path) -> Sandbox:
    sandbox = Sandbox(tmp_path)
    for name, password in PASSWORDS.items():
        sandbox.write(f"/run/secrets/{name}", password)
    sandbox.stub("docker-entrypoint.sh", SERVER)
    sandbox.stub("pg_isready", PG_ISREADY)
    sandbox.stub("psql", "exit 0")
    return sandbox


def _env() -> dict[str, str]:
    return {"POSTGRES_USER": "postgres", "POSTGRES_PASSWORD_FILE": "/run/secrets/postgres-password",
            "MLPLATFORM_DB_PASSWORD_FILES": " ".join(f"/run/secrets/{n}" for n in PASSWORDS)}


def _wait_for(path, timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not path.exists():
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def test_bootstrap_runs_with_the_superuser_password_from_its_file_not_the_command_line(box):
    process = box.start(ENTRYPOINT, _env(), args=("postgres",))
    _wait_for(box.path(MARKER))
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
    [bootstrap] = box.calls("psql")
    assert bootstrap.env["PGPASSWORD"] == PASSWORDS["postgres-password"]
    assert str(box.path("/mlplatform/bootstrap.sql")) in bootstrap.argv
    assert secrets_on_command_lines(box.calls(), list(PASSWORDS.values())) == []


def test_the_server_gets_the_containers_arguments(box):
    process = box.start(ENTRYPOINT, _env(), args=("postgres", "-c", "max_connections=50"))
    _wait_for(box.path(MARKER))
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
    assert box.calls("docker-entrypoint.sh")[0].argv == ["postgres", "-c", "max_connections=50"]


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM])
def test_the_stop_signal_reaches_the_server_as_sent_and_it_shuts_down_cleanly(box, stop):
    process = box.start(ENTRYPOINT, _env(), args=("postgres",))
    _wait_for(box.path(MARKER))
    process.send_signal(stop)
    assert process.wait(timeout=60) == 0
    assert box.path("/tmp/server-stopped").read_text().strip() == f"stopped-by-{stop.name.removeprefix('SIG')}"


def test_a_missing_password_file_stops_the_start_before_the_server_runs(box):
    box.path("/run/secrets/db-mlflow-password").unlink()
    result = box.run(ENTRYPOINT, _env(), args=("postgres",))
    assert result.returncode == 1
    assert "db-mlflow-password is missing or empty" in result.stderr
    assert box.calls("docker-entrypoint.sh") == []


def test_an_empty_password_file_stops_the_start(box):
    box.write("/run/secrets/db-airflow-password", "")
    result = box.run(ENTRYPOINT, _env(), args=("postgres",))
    assert result.returncode == 1 and "db-airflow-password is missing or empty" in result.stderr


def test_a_failed_bootstrap_stops_the_server_and_fails_the_container(box):
    box.stub("psql", "exit 3")
    result = box.run(ENTRYPOINT, _env(), args=("postgres",))
    assert result.returncode == 1
    assert "bootstrap SQL failed" in result.stderr
    assert box.path("/tmp/server-stopped").exists()
    assert not box.path(MARKER).exists()


def test_a_server_that_dies_before_it_is_ready_fails_the_container(box):
    box.stub("docker-entrypoint.sh", "exit 7")
    box.stub("pg_isready", "exit 2")
    result = box.run(ENTRYPOINT, _env(), args=("postgres",))
    assert result.returncode == 7
    assert "exited before it became ready" in result.stderr


# -- health check -----------------------------------------------------------------------------------
HEALTH_ENV = {"MLPLATFORM_DB_LOGINS": "airflow:airflow:/run/secrets/db-airflow-password "
                                      "mlflow:mlflow:/run/secrets/db-mlflow-password"}
#: psql stand-in: refuses a login when /tmp/deny-<role> exists.
PSQL = """
while [ $# -gt 0 ]; do case "$1" in -U) role="$2"; shift;; esac; shift; done
[ -e "/tmp/deny-$role" ] && { echo "password authentication failed for user $role" >&2; exit 2; }
exit 0
"""


@pytest.fixture
def health(box) -> Sandbox:
    box.stub("hostname", "echo 172.18.0.5 fd00::5")
    box.stub("psql", PSQL)
    box.write(MARKER, "")
    return box


def test_healthy_when_every_service_logs_in_with_its_own_password(health):
    assert health.run(HEALTHCHECK, HEALTH_ENV).returncode == 0
    logins = {c.argv[c.argv.index("-U") + 1]: c for c in health.calls("psql")}
    assert logins["airflow"].env["PGPASSWORD"] == PASSWORDS["db-airflow-password"]
    assert logins["mlflow"].env["PGPASSWORD"] == PASSWORDS["db-mlflow-password"]


def test_logins_go_over_the_network_address_not_the_trusted_socket(health):
    health.run(HEALTHCHECK, HEALTH_ENV)
    for call in health.calls("psql"):
        assert call.argv[call.argv.index("-h") + 1] == "172.18.0.5"


def test_unhealthy_when_one_service_cannot_log_in(health):
    health.write("/tmp/deny-mlflow", "")
    assert health.run(HEALTHCHECK, HEALTH_ENV).returncode != 0


def test_unhealthy_until_the_bootstrap_has_run(health):
    health.path(MARKER).unlink()
    assert health.run(HEALTHCHECK, HEALTH_ENV).returncode != 0
    assert health.calls("psql") == []


def test_the_health_check_puts_no_password_on_a_command_line(health):
    health.run(HEALTHCHECK, HEALTH_ENV)
    assert secrets_on_command_lines(health.calls(), list(PASSWORDS.values())) == []


VERIFIED = "/tmp/mlplatform-logins-verified"


def test_once_every_login_has_passed_each_check_logs_in_once(health):
    assert health.run(HEALTHCHECK, HEALTH_ENV).returncode == 0
    first = len(health.calls("psql"))
    assert health.run(HEALTHCHECK, HEALTH_ENV).returncode == 0
    later = health.calls("psql")[first:]
    assert first == 2 and [c.argv[c.argv.index("-U") + 1] for c in later] == ["airflow"]


def test_a_failed_full_check_is_repeated_in_full(health):
    health.write("/tmp/deny-mlflow", "")
    assert health.run(HEALTHCHECK, HEALTH_ENV).returncode != 0
    health.path("/tmp/deny-mlflow").unlink()
    assert health.run(HEALTHCHECK, HEALTH_ENV).returncode == 0
    assert {c.argv[c.argv.index("-U") + 1] for c in health.calls("psql")[2:]} == {"airflow", "mlflow"}


def test_a_new_start_forgets_the_last_starts_markers_before_the_server_runs(box):
    """A restarted container keeps /tmp: healthy must wait for this start's bootstrap and full login check."""
    box.write(MARKER, "")
    box.write(VERIFIED, "")
    record = f"ls {MARKER} {VERIFIED} > /tmp/markers-at-server-start 2>/dev/null || true"
    box.stub("docker-entrypoint.sh", f"{record}\n{SERVER}")
    process = box.start(ENTRYPOINT, _env(), args=("postgres",))
    _wait_for(box.path("/tmp/markers-at-server-start"))
    _wait_for(box.path(MARKER))
    process.send_signal(signal.SIGTERM)
    process.wait(timeout=60)
    assert box.path("/tmp/markers-at-server-start").read_text() == ""
    assert not box.path(VERIFIED).exists()
