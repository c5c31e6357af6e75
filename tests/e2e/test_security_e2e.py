"""Secrets stay secret inside every shape's running stack: file modes, process lists, container config."""

from __future__ import annotations

import pytest
import requests

from tests.e2e.conftest import FIGURES, CommandLineSampler, Stack

#: Where the stack puts secret files (uploads): every one of them is checked in every running container.
SECRET_DIRS = ("/run/secrets", "/etc/mlflow", "/etc/grafana/mlplatform", "/home/airflow/.mlflow",
               "/usr/local/etc/redis")


def _record(stack: Stack, key: str, value: object) -> None:
    stack.figures[key] = value
    FIGURES["both"].setdefault(key, {})[stack.shape] = value


def test_no_secret_file_is_world_readable(stack: Stack):
    world_readable: list[str] = []
    checked = 0
    for container in stack.containers():
        if container.status != "running":
            continue
        # find runs as root in the container: it sees every file whatever its mode.
        dirs = " ".join(SECRET_DIRS)
        result = container.exec_run(["sh", "-c", f"for d in {dirs}; do [ -d $d ] && find $d -type f; done; true"],
                                    user="0")
        files = [f for f in result.output.decode().split() if f]
        checked += len(files)
        if files:
            modes = container.exec_run(["stat", "-c", "%a %U %n", *files], user="0").output.decode().splitlines()
            world_readable += [f"{container.name}: {line}" for line in modes if int(line.split()[0][-1]) & 4]
    _record(stack, "secret_files_world_readable", len(world_readable))
    assert checked >= 5
    assert not world_readable, world_readable


def test_no_generated_secret_is_on_a_command_line_during_or_after_the_deploy(stack: Stack):
    sampler = stack.deploy_command_lines
    sampler.sample()
    now = CommandLineSampler()
    now.sample()
    seen = sampler.secrets_seen(stack.generated_secrets()) | now.secrets_seen(stack.generated_secrets())
    _record(stack, "secrets_on_command_lines", len(seen))
    assert len(sampler.lines) > 20, "the sampler saw the deploy's processes"
    assert not seen


def test_no_generated_secret_is_in_a_containers_environment(stack: Stack):
    visible = set()
    for container in stack.containers():
        for entry in container.attrs["Config"]["Env"] or []:
            visible |= {s for s in stack.generated_secrets() if s in entry.split("=", 1)[1]}
    stack.figures["secrets_in_env"] = len(visible)
    stack.figures["secrets_generated"] = len(stack.generated_secrets())
    assert not visible


@pytest.mark.shapes("prod")
def test_airflows_mlflow_user_is_not_mlflows_admin(stack: Stack):
    admin = stack.credentials["mlflow"]
    response = requests.get(f"{stack.endpoints['mlflow']['url']}/api/2.0/mlflow/users/get",
                            params={"username": "airflow"}, auth=(admin["username"], admin["password"]), timeout=10)
    assert response.status_code == 200, response.text
    is_admin = response.json()["user"]["is_admin"]
    FIGURES["both"]["airflow_mlflow_user_is_admin"] = is_admin
    stack.figures["airflow_mlflow_user_is_admin"] = is_admin
    assert is_admin is False
