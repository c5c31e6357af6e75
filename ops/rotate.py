"""`make rotate STACK=... [WHAT=...]`: new generated secrets through the Pulumi program.

The stack config's ``rotation`` section holds a generation per kind of secret;
each generated secret takes its generation as pulumi-random ``keepers``, so raising
it replaces the secret on the next deploy, and every service re-asserts the new
value at start (the roles' passwords, the admins', MLflow's users). A rotation is
one or two deploys:

1. the chosen generations go up; for the Fernet key the old generation is kept as
   ``fernet_previous``: Airflow decrypts with both keys and the init job runs
   `airflow rotate-fernet-key`, re-encrypting connections and variables with the new one;
2. (Fernet only) ``fernet_previous`` is removed: the old key is gone.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Sequence
from typing import Any

from config import parse_platform
from config.models import Rotation

#: What `make rotate` can rotate (``WHAT``), each a field of the ``rotation`` section.
KINDS = ("database", "logins", "airflow_keys", "redis", "fernet")
CONFIG_KEY = "mlplatform:platform"

Step = dict[str, int | None]
"""The rotation fields one deploy changes (None removes the field)."""


class RotationError(ValueError):
    pass


def kinds(what: str) -> list[str]:
    """``WHAT`` (comma-separated, or ``all``) as a list of kinds; an unknown one is refused by name."""
    chosen = list(KINDS) if what.strip() in ("", "all") else [w.strip() for w in what.split(",") if w.strip()]
    unknown = [w for w in chosen if w not in KINDS]
    if unknown:
        raise RotationError(f"WHAT: unknown {', '.join(unknown)}; allowed: all or a comma-separated list of "
                            f"{', '.join(KINDS)}")
    return chosen


def plan(current: Rotation, chosen: Sequence[str]) -> list[Step]:
    """The deploys a rotation takes, as the config changes each one makes."""
    steps: list[Step] = []
    if "fernet" in chosen and current.fernet_previous is not None:
        # An earlier Fernet rotation stopped half-way: finish it before starting another,
        # so no value is left encrypted with a key about to be dropped.
        steps += [{}, {"fernet_previous": None}]
    first: Step = {kind: getattr(current, kind) + 1 for kind in chosen}
    if "fernet" in chosen:
        first["fernet_previous"] = current.fernet
    steps.append(first)
    if "fernet" in chosen:
        steps.append({"fernet_previous": None})
    return steps


def apply(rotation: dict[str, Any], step: Step) -> dict[str, Any]:
    """The ``rotation`` section after ``step``."""
    merged = dict(rotation)
    for key, value in step.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def rotate(config: dict[str, Any], stack: str, chosen: Sequence[str],
           deploy: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    """Run the rotation's deploys, each with the config it needs; returns the final ``rotation`` section."""
    current = parse_platform(config, stack).rotation
    rotation = dict(config.get("rotation") or {})
    for step in plan(current, chosen):
        rotation = apply(rotation, step)
        deploy(rotation)
    return rotation


def pulumi_deploy(stack: str, config: dict[str, Any]) -> Callable[[dict[str, Any]], None]:
    """A deploy for a real stack: the rotation written to Pulumi.<stack>.yaml with `pulumi config`, then `pulumi up`."""
    written: dict[str, Any] = dict(config.get("rotation") or {})

    def deploy(rotation: dict[str, Any]) -> None:
        for key in sorted(set(written) | set(rotation)):
            path = f"{CONFIG_KEY}.rotation.{key}"
            if key not in rotation:
                _pulumi(["config", "rm", "--path", path, "--stack", stack])
            elif written.get(key) != rotation[key]:
                _pulumi(["config", "set", "--path", path, str(rotation[key]), "--type", "int", "--stack", stack])
        written.clear()
        written.update(rotation)
        _pulumi(["up", "--yes", "--stack", stack])

    return deploy


def _pulumi(arguments: list[str]) -> None:
    print("+ pulumi " + " ".join(arguments), flush=True)
    subprocess.run(["pulumi", *arguments], check=True)
