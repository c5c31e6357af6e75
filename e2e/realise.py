"""The e2e stacks: a shipped stack's config realised on the local engine under a stack name of its own.

`make e2e` realises two shapes, one after the other: ``dev`` as stack ``e2e-dev``
(the dev stack file's config) and ``prod`` as ``e2e-prod`` (the prod stack file's:
Celery workers, MLflow auth, the pooler, limits, every service prod runs). Every
published port moves up by ``PORT_OFFSET`` (10000 for dev, 11000 for prod), so an
e2e stack can run beside a `make up` stack on the same engine without touching it.
``E2E_STACK_PREFIX`` and ``E2E_PORT_OFFSET`` change the stack names and the offset
(two checkouts realising at once on one engine). The
realiser (testing/realiser.py) does what `pulumi up` does with the Docker
resources; its state (generated secrets and realised resources) lives in
``build/e2e/<shape>/state.json`` (mode 600), as a stack's state would.

    python e2e/realise.py up [SHAPE]     # realise (or update) the e2e stack of that shape
    python e2e/realise.py down [SHAPE]   # destroy it; with no shape, every e2e stack
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any
from collections.abc import Callable

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

import docker  # noqa: E402

from config import parse_platform  # noqa: E402
from testing.program import ProgramRun, run_program, stack_config, with_overrides  # noqa: E402
from testing.realiser import Realisation, Realiser, StackState, engine, teardown  # noqa: E402

BUILD_DIR = REPO_ROOT / "build" / "e2e"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
#: The shapes the e2e realises, each from the shipped stack file of that name.
SHAPES = ("dev", "prod")
#: Added to every published host port, so an e2e stack never takes a `make up` stack's ports.
PORT_OFFSET = int(os.environ.get("E2E_PORT_OFFSET", "10000"))
#: Each shape's ports sit this far apart, so the two shapes never collide either.
SHAPE_PORT_STEP = 1000
STACK_PREFIX = os.environ.get("E2E_STACK_PREFIX", "e2e")
#: Images no registry here can provide and no stand-in replaces: their containers are left
#: out with a note. What Grafana consumes is checked against the real PostgreSQL and MLflow.
UNAVAILABLE_IMAGES = ("grafana/grafana:", "airbyte/", "tecnativa/docker-socket-proxy:")


def stack_name(shape: str) -> str:
    return f"{STACK_PREFIX}-{shape}"


def port_offset(shape: str) -> int:
    return PORT_OFFSET + SHAPE_PORT_STEP * (SHAPES.index(shape) if shape in SHAPES else 0)


def e2e_config(shape: str, **sections: Any) -> dict[str, Any]:
    """The shape's stack config: ports moved by ``PORT_OFFSET``, the machine's CA trusted in image builds."""
    config = with_overrides(stack_config(shape), environment=shape, **sections)
    for key, port in parse_platform(config, shape).published_ports().items():
        section, field = key.split(".")
        config.setdefault(section, {})[field] = port + port_offset(shape)
    if HOST_CA_BUNDLE.exists():
        config.setdefault("images", {})["extra_ca_bundle"] = str(HOST_CA_BUNDLE)
    return config


def stack_state(shape: str) -> StackState:
    return StackState.load(BUILD_DIR / stack_name(shape) / "state.json")


def declare(shape: str, state: StackState, **sections: Any) -> ProgramRun:
    """Run the program for the shape's e2e stack under the mocks, with the stack's generated secrets."""
    return run_program(stack_name(shape), e2e_config(shape, **sections), state=state.secrets)


def realise(
    client: docker.DockerClient,
    shape: str,
    refresh: bool = False,
    log: Callable[[str], None] = print,
    **sections: Any,
) -> tuple[ProgramRun, Realisation]:
    """`pulumi up` for the shape's e2e stack (``refresh``: `pulumi up --refresh`)."""
    state = stack_state(shape)
    run = declare(shape, state, **sections)
    realiser = Realiser(client, run, state, BUILD_DIR / stack_name(shape), log=log,
                        unavailable_images=UNAVAILABLE_IMAGES, refresh=refresh)
    return run, realiser.realise()


def destroy(client: docker.DockerClient, shape: str, run: ProgramRun | None = None) -> Realisation:
    """`pulumi destroy` for the shape's e2e stack: retained volumes stay, the state (and its secrets) goes."""
    state = stack_state(shape)
    run = run or declare(shape, state)
    return Realiser(client, run, state, BUILD_DIR / stack_name(shape)).destroy()


def down(client: docker.DockerClient, shape: str | None = None) -> None:
    """Remove everything an e2e stack created, retained volumes included, and forget its state."""
    for name in [shape] if shape else SHAPES:
        teardown(client, stack_name(name))
        stack_state(name).forget()


def main(argv: list[str]) -> int:
    client = engine()
    command, shape = (argv + ["up"])[0], (argv[1:] or [None])[0]
    if command == "down":
        if shape:
            down(client, shape)
        else:
            down(client)
            teardown(client, purge_images=os.environ.get("E2E_PURGE_IMAGES") == "1")
        print(f"removed the e2e stack{'' if shape else 's'}: containers, networks, volumes and state")
        return 0
    shape = shape or "dev"
    run, realised = realise(client, shape)
    took = realised.all_ready_at - realised.containers_started_at
    print(f"{stack_name(shape)} realised: {realised.touched()}; containers ready in {took:.1f} s")
    print(json.dumps(run.exports["endpoints"].value, indent=1))
    print(f"credentials: {stack_state(shape).path} (generated secrets) and the `credentials` output")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
