"""Smoke tests for the e2e base images (stand-ins or real) on a local Docker engine.

Run by `make e2e` after e2e/engine.sh and e2e/base_images.py (`make test` leaves
tests/e2e out). A missing engine or image fails the test: it never skips.
The checks themselves live in e2e/check_standins.py (also runnable on its own).
"""

import importlib.util
from pathlib import Path

import docker
import pytest

_path = Path(__file__).resolve().parents[2] / "e2e" / "check_standins.py"
_spec = importlib.util.spec_from_file_location("e2e_check_standins", _path)
checks = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(checks)

IMAGES = {
    "postgres": checks.POSTGRES,
    "redis": checks.REDIS,
    "airflow": checks.AIRFLOW,
    "python": checks.PYTHON,
}


@pytest.fixture(scope="module")
def client():
    try:
        c = docker.from_env(timeout=300)
        c.ping()
    except docker.errors.DockerException as e:
        pytest.fail(f"no Docker engine (run e2e/engine.sh): {e}")
    return c


@pytest.fixture(scope="module")
def run(client):
    with checks.Run(client) as r:  # removes everything it labelled on exit
        yield r


@pytest.mark.parametrize("name", list(checks.CHECKS))
def test_standin(name, client, run):
    try:
        client.images.get(IMAGES[name])
    except docker.errors.ImageNotFound:
        pytest.fail(f"{IMAGES[name]} missing: run e2e/base_images.py")
    checks.CHECKS[name](run)
