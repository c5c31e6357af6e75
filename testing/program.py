"""Run the Pulumi program, or one component, under the recording mocks.

``run_program`` runs ``__main__.py`` for a stack (its ``Pulumi.<stack>.yaml``
or a given config) and returns every recorded resource plus the stack's
exports; ``declare_component`` runs a few lines of program (one component on
a stack network) and resolves what they return. Both accept ``preview=True``
(the engine's answers for a new stack: computed values unknown) and
``job_exit_codes`` (make a one-shot job fail).
"""

from __future__ import annotations

import functools
import json
import runpy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from unittest import mock

import pulumi
import pulumi_docker as docker
import yaml
from pulumi.runtime.sync_await import _sync_await

from testing.mocks import Recorded, RecordingMocks, RecordingMonitor

REPO_ROOT = Path(__file__).resolve().parent.parent
PROJECT = "mlplatform"
#: Every stack file shipped in the repo.
STACKS = tuple(sorted(p.name.split(".")[1] for p in REPO_ROOT.glob("Pulumi.*.yaml")))


def stack_config(stack: str) -> dict[str, Any]:
    """The ``mlplatform:platform`` object from ``Pulumi.<stack>.yaml``."""
    data = yaml.safe_load((REPO_ROOT / f"Pulumi.{stack}.yaml").read_text()) or {}
    return dict((data.get("config") or {}).get("mlplatform:platform", {}))


def with_overrides(config: Mapping[str, Any], **sections: Any) -> dict[str, Any]:
    """``config`` with top-level sections merged (dicts) or replaced (other values)."""
    merged = json.loads(json.dumps(config))
    for key, value in sections.items():
        merged[key] = {**merged.get(key, {}), **value} if isinstance(value, dict) else value
    return merged


def all_services_config() -> dict[str, Any]:
    """Prod's config with every optional service on: what the schema and preview checks cover."""
    return with_overrides(
        stack_config("prod"), airbyte={"enabled": True}, grafana={"enabled": True},
        object_store={"enabled": True, "port": 3900}, mlflow={"artifacts": "object_store"},
        model_server={"enabled": True}, model_app={"enabled": True},
    )


@dataclass
class Export:
    """A resolved stack output (or component output)."""

    value: Any
    secret: bool
    known: bool


@dataclass
class ProgramRun:
    """Everything one run of the program registered, and what it exported."""

    mocks: RecordingMocks
    exports: dict[str, Export]

    @property
    def resources(self) -> list[Recorded]:
        return self.mocks.resources

    def containers(self) -> dict[str, Recorded]:
        return self.mocks.containers()

    def container(self, service: str) -> Recorded:
        return self.mocks.containers()[service]

    def of_type(self, short_type: str) -> list[Recorded]:
        return self.mocks.of_type(short_type)

    def image_name(self, service: str) -> str:
        """The image reference behind a container's image id."""
        image_id = self.container(service).inputs["image"]
        return next(r.inputs["name"] for r in self.of_type("RemoteImage") if r.outputs["imageId"] == image_id)

    def value(self, name: str) -> Any:
        return self.exports[name].value

    def is_secret(self, name: str) -> bool:
        return self.exports[name].secret


def install_mocks(
    stack: str,
    platform: Mapping[str, Any] | None = None,
    preview: bool = False,
    state: dict[str, Any] | None = None,
    job_exit_codes: Mapping[str, int] | None = None,
    secret_config: Mapping[str, str] | None = None,
) -> RecordingMocks:
    """Reset the runtime and install recording mocks with the given stack config (and ``mlplatform:<key>`` secrets,
    as `pulumi config set --secret` leaves them)."""
    pulumi.runtime.reset_options(project=PROJECT, stack=stack, preview=preview)
    config = {} if platform is None else {f"{PROJECT}:platform": json.dumps(platform)}
    secrets = {f"{PROJECT}:{key}": value for key, value in (secret_config or {}).items()}
    pulumi.runtime.set_all_config({**config, **secrets}, list(secrets))
    mocks = RecordingMocks(state, preview=preview, job_exit_codes=job_exit_codes)
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack=stack, preview=preview, monitor=RecordingMonitor(mocks))
    return mocks


def _execute(mocks: RecordingMocks, body: Callable[[], Mapping[str, Any]]) -> ProgramRun:
    """Run ``body`` as a Pulumi program and resolve the values it returns."""
    outputs: dict[str, pulumi.Output[Any]] = {}

    @pulumi.runtime.test
    def program() -> pulumi.Output[Any]:
        outputs.update({k: pulumi.Output.from_input(v) for k, v in body().items()})
        return pulumi.Output.all(*outputs.values())

    program()
    resolved = {}
    for key, out in outputs.items():
        known = bool(_sync_await(out.is_known()))
        value = _sync_await(out.future(with_unknowns=True))
        resolved[key] = Export(value if known else None, bool(_sync_await(out.is_secret())), known)
    return ProgramRun(mocks, resolved)


def run_program(
    stack: str,
    platform: Mapping[str, Any] | None = None,
    *,
    preview: bool = False,
    state: dict[str, Any] | None = None,
    job_exit_codes: Mapping[str, int] | None = None,
    secret_config: Mapping[str, str] | None = None,
) -> ProgramRun:
    """Run ``__main__.py`` for ``stack``; ``platform`` replaces the stack file's config.

    ``state`` (mutated) keeps generated secrets across runs, as Pulumi state does.
    """
    config = stack_config(stack) if platform is None else platform
    mocks = install_mocks(stack, config, preview, state, job_exit_codes, secret_config)
    exports: dict[str, Any] = {}

    def body() -> Mapping[str, Any]:
        with mock.patch.object(pulumi, "export", lambda name, value: exports.__setitem__(name, value)):
            runpy.run_path(str(REPO_ROOT / "__main__.py"), run_name="__main__")
        return exports

    return _execute(mocks, body)


def declare_component(
    build: Callable[[Any], Mapping[str, Any]],
    *,
    stack: str = "dev",
    bind_address: str = "127.0.0.1",
    preview: bool = False,
    job_exit_codes: Mapping[str, int] | None = None,
) -> ProgramRun:
    """Declare one component (``build(context)``) on a stack network; resolve what ``build`` returns."""
    from components.service import StackContext

    mocks = install_mocks(stack, {}, preview, None, job_exit_codes)

    def body() -> Mapping[str, Any]:
        network = docker.Network("network", name=f"{PROJECT}-{stack}")
        context = StackContext(project=PROJECT, stack=stack, network=network, network_name=network.name,
                               bind_address=bind_address, public_host=bind_address, wait_timeout_s=300,
                               deploy_id="test-deploy")
        return build(context)

    return _execute(mocks, body)


def shipped(stack: str) -> ProgramRun:
    """The program for a shipped stack file, run once per test session (runs are read-only)."""
    return deployed(stack)


#: What whole-stack checks run against: every shipped stack file, and every optional service on.
ALL_SERVICES = "all-services"
CHECKED_CONFIGS = (*STACKS, ALL_SERVICES)


@functools.cache
def deployed(name: str) -> ProgramRun:
    """A ``CHECKED_CONFIGS`` entry as `pulumi up` runs it, once per test session (runs are read-only)."""
    return run_program("prod", all_services_config()) if name == ALL_SERVICES else run_program(name)


@functools.cache
def previewed(name: str) -> ProgramRun:
    """A ``CHECKED_CONFIGS`` entry as `pulumi preview` of a new stack runs it."""
    if name == ALL_SERVICES:
        return run_program("prod", all_services_config(), preview=True)
    return run_program(name, preview=True)


def shipped_with(stack: str, **sections: Any) -> ProgramRun:
    """The program for ``stack`` with config sections merged or replaced (see ``with_overrides``)."""
    return run_program(stack, with_overrides(stack_config(stack), **sections))
