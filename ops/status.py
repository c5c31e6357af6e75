"""After `pulumi up`: are the services working together? `make up` ends with this.

It prints one line per service (its state and URL), then runs the smoke DAG
(Airflow's worker logs a run to MLflow through the platform's own wiring) and says
how it went. Exit status 0 only if every service is healthy and the DAG succeeded.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import requests

from ops.stack import StackHandle

SMOKE_DAG = "mlflow_smoke"
SMOKE_TIMEOUT_S = 300


@dataclass(frozen=True)
class ServiceLine:
    service: str
    state: str
    url: str

    @property
    def ok(self) -> bool:
        return self.state in ("healthy", "running")

    def __str__(self) -> str:
        return f"  {'ok ' if self.ok else 'BAD'}  {self.service:<24} {self.state:<12} {self.url}"


def _state(container: Any) -> str:
    if container.status != "running":
        return str(container.status)
    health = (container.attrs["State"].get("Health") or {}).get("Status")
    return str(health or "running")


def service_lines(handle: StackHandle) -> list[ServiceLine]:
    from docker.errors import NotFound

    lines = []
    for service in handle.long_running():
        endpoint = handle.endpoints.get(service) or handle.endpoints.get(service.removesuffix("-apiserver")) or {}
        url = endpoint.get("url") or endpoint.get("internal_url") or "(internal)"
        try:
            state = _state(handle.container(service))
        except NotFound:
            state = "missing"
        lines.append(ServiceLine(service, state, str(url)))
    return lines


def run_smoke_dag(handle: StackHandle, timeout_s: float = SMOKE_TIMEOUT_S) -> tuple[str, float]:
    """Trigger the smoke DAG and wait for it: (final state or the reason it could not run, seconds)."""
    started = time.monotonic()
    api = handle.airflow_api()
    if api is None:
        return "Airflow's API refused the admin login or is unreachable", 0.0
    response = api.post(f"/dags/{SMOKE_DAG}/dagRuns", {"logical_date": None})
    if response.status_code not in (200, 201):
        return f"could not trigger {SMOKE_DAG}: {response.status_code} {response.text[:200]}", 0.0
    run_id = response.json()["dag_run_id"]
    while time.monotonic() - started < timeout_s:
        state = api.get(f"/dags/{SMOKE_DAG}/dagRuns/{run_id}").get("state")
        if state in ("success", "failed"):
            return str(state), time.monotonic() - started
        time.sleep(2)
    return f"still running after {timeout_s:.0f} s", time.monotonic() - started


def status(handle: StackHandle, smoke: bool = True) -> tuple[bool, str]:
    lines = service_lines(handle)
    text = [f"{handle.stack}:"] + [str(line) for line in lines]
    ok = all(line.ok for line in lines)
    if smoke:
        try:
            state, seconds = run_smoke_dag(handle)
        except requests.RequestException as error:
            state, seconds = f"Airflow unreachable ({type(error).__name__})", 0.0
        ok = ok and state == "success"
        text.append(f"  {'ok ' if state == 'success' else 'BAD'}  {'smoke DAG ' + SMOKE_DAG:<24} {state} "
                    f"in {seconds:.0f} s (Airflow -> MLflow through the stack's own wiring)")
    if not ok:
        text.append(f"Something is wrong: `make doctor STACK={handle.stack}` names the fix; "
                    f"then {handle.deploy_command}.")
    return ok, "\n".join(text)
