"""The e2e session: realise each shape on a real Docker engine once, share it, report figures.

Run through `make e2e` (it installs and starts the engine and makes the base
images first). If the engine is unreachable the tests fail; they never skip.
The shapes (e2e/realise.py) are ``dev`` (stack ``e2e-dev``) and ``prod``
(``e2e-prod``), realised one after the other: a test runs on every shape unless
it is marked ``@pytest.mark.shapes("prod")``. Figures go to build/e2e-report.json:
the dev shape's at the top level, the prod shape's under ``prod_shape``, and
what concerns both shapes under its own key.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Iterator

import pytest
import requests
from mlflow.tracking import MlflowClient

from e2e.realise import BUILD_DIR, SHAPES, down, realise, stack_name, stack_state
from testing.program import ProgramRun
from testing.realiser import Realisation, engine

REPORT = BUILD_DIR.parent / "e2e-report.json"


@dataclass
class Stack:
    """The realised e2e stack and what the tests learn about it."""

    client: Any
    shape: str
    run: ProgramRun
    realisation: Realisation
    figures: dict = field(default_factory=dict)

    @property
    def name(self) -> str:
        return stack_name(self.shape)

    def container(self, service: str) -> Any:
        return self.client.containers.get(f"mlplatform-{self.name}-{service}")

    def container_address(self, service: str) -> str:
        """The container's address on the stack network (the host can reach it; nothing else is contacted)."""
        networks = self.container(service).attrs["NetworkSettings"]["Networks"]
        return str(networks[f"mlplatform-{self.name}"]["IPAddress"])

    @property
    def credentials(self) -> dict:
        return self.run.exports["credentials"].value

    @property
    def endpoints(self) -> dict:
        return self.run.exports["endpoints"].value

    def airflow_token(self, password: str | None = None) -> requests.Response:
        admin = self.credentials["airflow"]
        return requests.post(
            f"{self.endpoints['airflow']['url']}/auth/token",
            json={"username": admin["username"], "password": password or admin["password"]},
            timeout=30,
        )

    def airflow(self, method: str, path: str, **kwargs) -> requests.Response:
        token = self.airflow_token().json()["access_token"]
        return requests.request(method, f"{self.endpoints['airflow']['url']}/api/v2{path}",
                                headers={"Authorization": f"Bearer {token}"}, timeout=60, **kwargs)

    def mlflow(self, as_user: str = "mlflow") -> MlflowClient:
        """An MLflow client on the browser endpoint, logged in as ``as_user``'s credentials when auth is on."""
        login = self.credentials.get(as_user)
        for key in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"):
            os.environ.pop(key, None)
        if login:
            os.environ["MLFLOW_TRACKING_USERNAME"] = login["username"]
            os.environ["MLFLOW_TRACKING_PASSWORD"] = login["password"]
        return MlflowClient(tracking_uri=self.endpoints["mlflow"]["url"])

    def redeploy(self, refresh: bool = False, **sections: Any) -> Realisation:
        """`pulumi up` again over the same state (``refresh``: `pulumi up --refresh`), config sections overridden."""
        self.run, self.realisation = realise(self.client, self.shape, refresh=refresh, **sections)
        return self.realisation


#: Figures by shape, plus ``both`` for what concerns every shape; written to REPORT at the end.
FIGURES: dict[str, dict[str, Any]] = {shape: {} for shape in (*SHAPES, "both")}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "shapes(*names): run only on these e2e shapes (default: every shape)")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "stack" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("shapes")
        shapes = marker.args if marker else SHAPES
        metafunc.parametrize("stack", shapes, indirect=True, scope="session")


def write_report() -> dict[str, Any]:
    report = {**FIGURES["dev"], "prod_shape": FIGURES["prod"], **FIGURES["both"]}
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text(json.dumps(report, indent=2, sort_keys=True))
    return report


@pytest.fixture(scope="session")
def stack(request: pytest.FixtureRequest) -> Iterator[Stack]:
    """The realised stack of one shape; the next shape is realised only after this one is gone."""
    shape = request.param
    client = engine()
    down(client, shape)  # start cold: no containers, volumes or state from an earlier run
    run, realisation = realise(client, shape)
    stack = Stack(client, shape, run, realisation, FIGURES[shape])
    stack.figures["time_to_healthy_s"] = round(realisation.all_ready_at - realisation.containers_started_at, 1)
    stack.figures["image_build_s"] = {k: round(v, 1) for k, v in realisation.build_seconds.items()}
    try:
        yield stack
    finally:
        report = write_report()
        print(f"\n== e2e figures so far ({REPORT.relative_to(BUILD_DIR.parent.parent)})\n"
              + json.dumps(report, indent=2, sort_keys=True))
        if os.environ.get("E2E_KEEP") == "1" and shape == SHAPES[-1]:
            print(f"\nE2E_KEEP=1: the {shape} stack is still running.")
            print(json.dumps(stack.endpoints, indent=1))
            print(f"Generated credentials: {stack_state(shape).path} (and the `credentials` output). "
                  "Remove everything with `make e2e-down`.")
        else:
            down(client, shape)


def wait_until(predicate, timeout_s: float, interval_s: float = 1.0, what: str = "condition"):
    """Poll ``predicate`` until it returns a truthy value; fail after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    last = None
    while time.monotonic() < deadline:
        try:
            last = predicate()
            if last:
                return last
        except (requests.RequestException, KeyError) as exc:
            last = exc
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what} (last: {last!r})")

