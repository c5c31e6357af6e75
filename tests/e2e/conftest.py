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
import subprocess
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from collections.abc import Iterator

import psycopg2
import pytest
import requests
from mlflow.tracking import MlflowClient

from e2e.realise import BUILD_DIR, SHAPES, down, e2e_config, realise, stack_name, stack_state
from ops.stack import StackHandle, from_run
from testing.labels import E2E_LABEL
from testing.program import ProgramRun
from testing.realiser import Realisation, engine, labelled

REPORT = BUILD_DIR.parent / "e2e-report.json"


@dataclass
class Stack:
    """The realised e2e stack and what the tests learn about it."""

    client: Any
    shape: str
    run: ProgramRun
    realisation: Realisation
    figures: dict = field(default_factory=dict)
    deploy_command_lines: Any = None
    """The CommandLineSampler that watched the deploy."""
    overrides: dict = field(default_factory=dict)
    """Config sections the drills changed; they stay, as an edited stack file does."""

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

    # -- shared checks ------------------------------------------------------------------------------
    def containers(self) -> list[Any]:
        """Every container of this stack (by its labels)."""
        return list(labelled(self.client, self.name)["containers"])

    def generated_secrets(self) -> set[str]:
        return {s for s in self.run.mocks.generated_secrets if s}

    def active_runs(self) -> int:
        """DAG runs queued or running on the whole instance (the deploy starts the asset chain by itself)."""
        return sum(self.airflow("GET", "/dags/~/dagRuns", params={"state": state, "limit": 1}).json()["total_entries"]
                   for state in ("queued", "running"))

    def wait_for_idle_airflow(self, timeout_s: float = 600) -> None:
        wait_until(lambda: self.active_runs() == 0, timeout_s, 2, "no queued or running DAG runs")

    def trigger_and_wait(self, dag_id: str, timeout_s: float = 300) -> tuple[str, float, str]:
        """Trigger ``dag_id`` once Airflow is idle; (final state, seconds from trigger, run id)."""
        wait_until(lambda: self.airflow("GET", f"/dags/{dag_id}").status_code == 200, 180, 2, f"DAG {dag_id} parsed")
        # Time our run alone, not queued behind the chain the deploy started.
        self.wait_for_idle_airflow()
        self.airflow("PATCH", f"/dags/{dag_id}", json={"is_paused": False}).raise_for_status()
        started = time.monotonic()
        response = self.airflow("POST", f"/dags/{dag_id}/dagRuns", json={"logical_date": None})
        assert response.status_code in (200, 201), response.text
        run_id = response.json()["dag_run_id"]

        def finished() -> str | None:
            state = self.airflow("GET", f"/dags/{dag_id}/dagRuns/{run_id}").json()["state"]
            return state if state in ("success", "failed") else None

        state = wait_until(finished, timeout_s, 1, f"{dag_id} run {run_id}")
        return state, time.monotonic() - started, run_id

    def reader_connection(self, database: str = "mlflow") -> Any:
        """The read-only role's connection, to the PostgreSQL container on the stack network."""
        reader = self.credentials["dashboards_reader"]
        return psycopg2.connect(host=self.container_address("postgres"), port=5432, dbname=database,
                                user=reader["username"], password=reader["password"], connect_timeout=10)

    def redeploy(self, refresh: bool = False, **sections: Any) -> Realisation:
        """`pulumi up` again over the same state (``refresh``: `pulumi up --refresh`), config sections changed
        for this deploy and the next ones."""
        self.overrides.update(sections)
        self.run, self.realisation = realise(self.client, self.shape, refresh=refresh, **self.overrides)
        return self.realisation

    @property
    def left_out(self) -> frozenset[str]:
        """Services whose image this engine cannot have (see e2e/realise.py)."""
        return frozenset(key.split("/", 1)[1] for key, action in self.realisation.actions.items()
                         if key.startswith("Container/") and action == "left-out")

    def handle(self, run: ProgramRun | None = None) -> StackHandle:
        """The stack as the day-2 commands (ops/) see it; ``run``: the program as declared with other config."""
        return from_run(run or self.run, self.name, self.client, e2e_config(self.shape, **self.overrides),
                        self.left_out, {E2E_LABEL: "true"})


#: Figures by shape, plus ``both`` for what concerns every shape; written to REPORT at the end.
FIGURES: dict[str, dict[str, Any]] = {shape: {} for shape in (*SHAPES, "both")}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "shapes(*names): run only on these e2e shapes (default: every shape)")
    config.addinivalue_line("markers", "drill: destructive (redeploys, lost state); runs after a shape's other tests")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Within each shape, drills run last (they replace containers and secrets the other checks rely on)."""
    def key(item: pytest.Item) -> tuple[int, int]:
        params = getattr(getattr(item, "callspec", None), "params", {})
        shape = params.get("stack")
        return (SHAPES.index(shape) + 1 if shape in SHAPES else 0, 1 if item.get_closest_marker("drill") else 0)

    items.sort(key=key)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "stack" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("shapes")
        shapes = marker.args if marker else SHAPES
        metafunc.parametrize("stack", shapes, indirect=True, scope="session")


#: Written by `make e2e` when it starts (before the engine, the base images and any build).
E2E_STARTED_FILE = BUILD_DIR.parent / ".e2e-started"


def write_report() -> dict[str, Any]:
    if E2E_STARTED_FILE.exists():  # under `make e2e`: its wall time so far (complete once the last shape is done)
        FIGURES["both"]["make_e2e_wall_s"] = round(time.time() - int(E2E_STARTED_FILE.read_text()), 1)
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
    with CommandLineSampler() as sampler:  # every command line while the deploy runs
        run, realisation = realise(client, shape)
    stack = Stack(client, shape, run, realisation, FIGURES[shape])
    stack.deploy_command_lines = sampler
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



class CommandLineSampler:
    """Every distinct command line on this host (all containers' processes included), sampled in the background."""

    def __init__(self, interval_s: float = 0.3):
        self.lines: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval_s,), daemon=True)

    def _run(self, interval_s: float) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(interval_s)

    def sample(self) -> None:
        out = subprocess.run(["ps", "-e", "-ww", "-o", "args="], capture_output=True, text=True).stdout
        self.lines.update(line.strip() for line in out.splitlines() if line.strip())

    def __enter__(self) -> CommandLineSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def secrets_seen(self, secrets: set[str]) -> set[str]:
        return {secret for secret in secrets for line in self.lines if secret in line}
