"""The doctor on a stack that is not running: what it checks before a deploy, and how it words a finding.

Its checks of a running stack (faults injected into real containers) are in the e2e
(tests/e2e/test_day2_e2e.py).
"""

from __future__ import annotations

import socket
from datetime import UTC, datetime

import docker.errors
import pytest

from config import parse_platform
from ops import doctor
from ops.stack import from_run
from testing.net import free_port
from testing.program import run_program, stack_config, with_overrides


class NoContainers:
    """An engine on which the stack has not been deployed."""

    class containers:  # noqa: N801 - the docker client's attribute name
        @staticmethod
        def get(name: str):
            raise docker.errors.NotFound(name)

        @staticmethod
        def list(all: bool = False):  # noqa: A002 - the docker client's keyword
            return []


def _handle(mlflow_port: int):
    """The dev stack, every published port free on this machine but MLflow's (the caller's)."""
    config = stack_config("dev")
    for key in parse_platform(config, "dev").published_ports():
        section, field = key.split(".")
        config = with_overrides(config, **{section: {field: free_port()}})
    config = with_overrides(config, mlflow={"port": mlflow_port})
    return from_run(run_program("dev", config), "dev", NoContainers(), config)


def test_before_a_deploy_free_ports_get_a_clean_bill():
    assert doctor.diagnose(_handle(free_port())) == []


def test_a_taken_port_is_reported_with_the_config_key_that_moves_it():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        port = holder.getsockname()[1]
        findings = [f for f in doctor.diagnose(_handle(port)) if f.subject == f"127.0.0.1:{port}"]
    assert len(findings) == 1
    assert "mlflow's port is taken by a process on this host" in findings[0].problem
    assert "mlflow.port in Pulumi.dev.yaml" in findings[0].fix


def test_missing_containers_are_named_with_the_deploy_that_creates_them():
    handle = _handle(free_port())
    findings = list(doctor.check_containers(handle))
    assert {f.subject for f in findings} == set(handle.long_running())
    assert "airflow-init" not in {f.subject for f in findings}  # one-shot jobs are not meant to keep running
    assert all("`make up STACK=dev`" in f.fix for f in findings)


def test_left_out_services_are_never_reported():
    config = stack_config("dev")
    handle = from_run(run_program("dev", config), "dev", NoContainers(), config, left_out=frozenset({"grafana"}))
    assert "grafana" not in {f.subject for f in doctor.check_containers(handle)}


def test_a_report_names_each_problem_and_its_fix():
    handle = _handle(free_port())
    finding = doctor.Finding("dag-paused", "train_anomaly_model", "paused", "unpause it")
    assert doctor.report(handle, [finding]) == ("dev: 1 problem\n[dag-paused] train_anomaly_model: paused\n"
                                                "    fix: unpause it")
    assert doctor.report(handle, []) == "dev: healthy (not deployed; its host ports are free)"


@pytest.mark.parametrize("check", sorted(doctor.CHECKS))
def test_with_nothing_running_only_the_containers_check_speaks(check):
    """One finding per cause: an endpoint or a DAG of a container that is not running is not reported again."""
    findings = list(doctor.CHECKS[check](_handle(free_port())))
    assert bool(findings) == (check == "containers")


def _inspected(restarts: int, started: str, restarting: bool = False, running: bool = True,
               health: str | None = None) -> dict:
    state = {"Restarting": restarting, "Running": running, "StartedAt": started}
    return {"RestartCount": restarts, "State": state | ({"Health": {"Status": health}} if health else {})}


NOW = datetime(2026, 12, 3, 10, 0, 0, tzinfo=UTC)


@pytest.mark.parametrize("attrs, looping", [
    (_inspected(0, "2026-12-03T09:59:59.123456789Z"), False),
    (_inspected(3, "2026-12-03T09:59:30.123456789Z"), True),
    (_inspected(1, "2026-12-03T09:50:00.5Z"), False),
    (_inspected(1, "2026-12-03T09:59:59Z", restarting=True, running=False), True),
    (_inspected(1, "2026-12-03T09:59:30Z", health="healthy"), False),
    (_inspected(2, "2026-12-03T09:59:30Z", health="starting"), True),
    (_inspected(2, "2026-12-03T09:59:30Z", health="unhealthy"), True),
])
def test_a_container_is_crash_looping_only_while_it_keeps_restarting(attrs, looping):
    """A restart long ago, or one its health check has passed since (PostgreSQL restarted, say), is history;
    a recent one not yet healthy again, or `Restarting`, is a fault."""
    assert doctor.crash_looping(attrs, NOW) is looping
