"""The e2e session: realise the dev-shaped stack on a real Docker engine once, share it, report figures.

Run through `make e2e` (it installs and starts the engine and makes the base
images first). If the engine is unreachable the tests fail; they never skip.
The stack is ``e2e-dev`` (e2e/realise.py): the dev config on ports of its own.
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

from e2e.realise import BUILD_DIR, down, realise, stack_name, stack_state
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

    def redeploy(self, refresh: bool = False, **sections: Any) -> Realisation:
        """`pulumi up` again over the same state (``refresh``: `pulumi up --refresh`), config sections overridden."""
        self.run, self.realisation = realise(self.client, self.shape, refresh=refresh, **sections)
        return self.realisation


@pytest.fixture(scope="session")
def stack() -> Iterator[Stack]:
    client = engine()
    down(client, "dev")  # start cold: no containers, volumes or state from an earlier run
    run, realisation = realise(client, "dev")
    stack = Stack(client, "dev", run, realisation)
    stack.figures["time_to_healthy_s"] = round(realisation.all_ready_at - realisation.containers_started_at, 1)
    stack.figures["image_build_s"] = {k: round(v, 1) for k, v in realisation.build_seconds.items()}
    try:
        yield stack
    finally:
        REPORT.parent.mkdir(parents=True, exist_ok=True)
        REPORT.write_text(json.dumps(stack.figures, indent=2, sort_keys=True))
        print("\n== e2e figures (build/e2e-report.json)\n" + json.dumps(stack.figures, indent=2, sort_keys=True))
        if os.environ.get("E2E_KEEP") == "1":
            print("\nE2E_KEEP=1: the dev stack is still running.")
            print(json.dumps(stack.endpoints, indent=1))
            print(f"Generated credentials: {stack_state('dev').path} (and the `credentials` output). "
                  "Remove everything with `make e2e-down`.")
        else:
            down(client, "dev")


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

