"""A deployed stack as the day-2 commands see it: what it declares, where it runs, how to log in.

The declarations (container and volume names, images, databases) come from running
the program under the recording mocks, exactly as `pulumi up` evaluates it, so no
name is written twice. Credentials and endpoints come from the stack's outputs: the
Pulumi CLI's `pulumi stack output` for a real stack, or the e2e realiser's state.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import docker
import requests

from components.database import PORT as POSTGRES_PORT
from components.database import SUPERUSER
from testing.mocks import Recorded
from testing.program import ProgramRun, run_program, stack_config

HTTP_TIMEOUT_S = 10


@dataclass
class StackHandle:
    """One deployed stack."""

    stack: str
    run: ProgramRun
    """The program as declared for this stack (names, images, settings; not its secrets)."""
    credentials: dict[str, Any]
    endpoints: dict[str, Any]
    client: docker.DockerClient
    config: dict[str, Any]
    """The stack's ``mlplatform:platform`` config."""
    left_out: frozenset[str] = frozenset()
    """Declared services this engine does not run (the e2e's missing images); never reported."""
    extra_volume_labels: dict[str, str] = field(default_factory=dict)
    """Labels restore adds to the volumes it creates (the e2e's own label)."""

    @property
    def deploy_command(self) -> str:
        return f"`make up STACK={self.stack}`"

    # -- declarations ------------------------------------------------------------------------
    def declared(self, service: str) -> Recorded:
        return self.run.container(service)

    def services(self) -> list[str]:
        return sorted(self.run.containers())

    def container_name(self, service: str) -> str:
        return str(self.declared(service).inputs["name"])

    def container(self, service: str) -> Any:
        return self.client.containers.get(self.container_name(service))

    def volume_of(self, service: str, path: str) -> str | None:
        """The named volume mounted at ``path`` in ``service``'s container."""
        for mount in self.declared(service).inputs.get("volumes", []):
            if mount["containerPath"] == path and mount.get("volumeName"):
                return str(mount["volumeName"])
        return None

    def volumes(self) -> dict[str, Recorded]:
        return {str(v.inputs["name"]): v for v in self.run.of_type("Volume")}

    def image_of(self, service: str) -> str:
        """The image reference a service runs (the built tag or the pinned pull)."""
        return self.run.image_name(service)

    def databases(self) -> dict[str, str]:
        """Every service database with its owner role, as PostgreSQL's declared logins list them."""
        logins = self.declared("postgres").env()["MLPLATFORM_DB_LOGINS"].split()
        owners: dict[str, str] = {}
        for login in logins:
            role, database, _ = login.split(":")
            owners.setdefault(database, role)
        return owners

    def has(self, service: str) -> bool:
        return service in self.run.containers()

    def long_running(self) -> list[str]:
        """Declared services that run all the time (not the one-shot init jobs), minus those left out."""
        return [s for s in self.services() if not self.declared(s).inputs.get("attach") and s not in self.left_out]

    def running(self, service: str) -> Any | None:
        """The service's container if it is running, else None."""
        try:
            container = self.container(service)
        except docker.errors.NotFound:
            return None
        return container if container.status == "running" else None

    def airflow_api(self) -> AirflowApi | None:
        """Airflow's REST API as the stack's admin, or None if Airflow does not answer or refuses the login."""
        if "airflow" not in self.endpoints or "airflow" not in self.credentials:
            return None
        base, admin = self.endpoints["airflow"]["url"], self.credentials["airflow"]
        try:
            token = requests.post(f"{base}/auth/token", timeout=HTTP_TIMEOUT_S,
                                  json={"username": admin["username"], "password": admin["password"]})
        except requests.RequestException:
            return None
        if token.status_code not in (200, 201):
            return None
        return AirflowApi(f"{base}/api/v2", token.json()["access_token"])

    # -- access --------------------------------------------------------------------------------
    def psql(self, sql: str, database: str = "postgres") -> str:
        """Run SQL as the superuser over the container's local socket (trusted), the way the bootstrap does."""
        result = self.container("postgres").exec_run(
            ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-U", SUPERUSER, "-d", database, "-tAc", sql], user="postgres"
        )
        if result.exit_code != 0:
            raise RuntimeError(f"psql on {database} failed: {result.output.decode(errors='replace')}")
        return str(result.output.decode().strip())

    @property
    def postgres_port(self) -> int:
        return POSTGRES_PORT


class AirflowApi:
    """Calls to Airflow's ``/api/v2`` with a bearer token."""

    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def get(self, path: str, **params: Any) -> Any:
        response = self.session.get(self.base + path, params=params, timeout=HTTP_TIMEOUT_S)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, body: dict[str, Any]) -> requests.Response:
        return self.session.post(self.base + path, json=body, timeout=HTTP_TIMEOUT_S)


def pulumi_outputs(stack: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """``credentials`` and ``endpoints`` of a real stack, through the Pulumi CLI (with the Makefile's environment)."""
    def output(name: str, secret: bool) -> dict[str, Any]:
        command = ["pulumi", "stack", "output", name, "--json", "--stack", stack] + (
            ["--show-secrets"] if secret else []
        )
        result = subprocess.run(command, capture_output=True, text=True, env=os.environ.copy())
        if result.returncode != 0:
            raise SystemExit(
                f"`{' '.join(command)}` failed (is the stack deployed, and PULUMI_* set as by make?): "
                f"{result.stderr.strip()}"
            )
        value: dict[str, Any] = json.loads(result.stdout)
        return value

    return output("credentials", secret=True), output("endpoints", secret=False)


def from_pulumi(stack: str, client: docker.DockerClient | None = None) -> StackHandle:
    """A real stack deployed with `make up`: declarations from the program, outputs from Pulumi."""
    credentials, endpoints = pulumi_outputs(stack)
    return StackHandle(stack, run_program(stack, state={}), credentials, endpoints, client or docker.from_env(),
                       stack_config(stack))


def from_run(
    run: ProgramRun,
    stack: str,
    client: docker.DockerClient,
    config: Mapping[str, Any],
    left_out: frozenset[str] = frozenset(),
    extra_volume_labels: Mapping[str, str] | None = None,
) -> StackHandle:
    """A stack whose program run carries its real outputs (the e2e realiser's)."""
    return StackHandle(stack, run, dict(run.value("credentials")), dict(run.value("endpoints")), client,
                       dict(config), left_out, dict(extra_volume_labels or {}))
