"""Pulumi mocks that behave like the real providers, and record everything.

Outputs have the real providers' formats, lengths and secret-ness:
RandomPassword honours length/specials and its result is secret; RandomBytes
gives padded standard base64 and hex of the requested length, both secret;
RemoteImage gives a ``sha256:`` image id; containers and networks get 64-hex
ids; attached one-shot containers report exit code 0. A format bug (such as an
unpadded Fernet key) therefore fails here as it would on ``pulumi up``.

Every registered resource is recorded with its resolved inputs, which input
paths were secret, and the engine-level options (parent, dependencies,
protect, retain_on_delete, replace_on_changes). ``run_program`` runs
``__main__.py`` for a stack and returns the records plus the stack exports;
the e2e realiser uses the same records.
"""

from __future__ import annotations

import base64
import json
import os
import runpy
import secrets
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional
from unittest import mock

import pulumi
import yaml
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime.sync_await import _sync_await

REPO_ROOT = Path(__file__).resolve().parent.parent
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
SPECIAL_SIG = "4dabf18193072939515e22adb298388d"


def _unwrap(value: Any, path: str, secret_paths: set[str]) -> Any:
    """Strip Pulumi's secret wrappers, remembering where they were."""
    if isinstance(value, dict):
        if value.get(SPECIAL_SIG) == SECRET_SIG:
            secret_paths.add(path)
            return _unwrap(value.get("value"), path, secret_paths)
        return {k: _unwrap(v, f"{path}.{k}" if path else k, secret_paths) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap(v, f"{path}[{i}]", secret_paths) for i, v in enumerate(value)]
    return value


def _hex(n_bytes: int) -> str:
    return secrets.token_hex(n_bytes)


def _random_password(inputs: dict) -> str:
    """Like pulumi-random: honours length, specials and minimum counts."""
    length = int(inputs.get("length", 16))
    specials = inputs.get("overrideSpecial") if inputs.get("overrideSpecial") is not None else "!@#$%&*()-_=+[]{}<>:?"
    pools = []
    if inputs.get("lower", True):
        pools.append((string.ascii_lowercase, int(inputs.get("minLower", 0))))
    if inputs.get("upper", True):
        pools.append((string.ascii_uppercase, int(inputs.get("minUpper", 0))))
    if inputs.get("numeric", True):
        pools.append((string.digits, int(inputs.get("minNumeric", 0))))
    if inputs.get("special", True):
        pools.append((specials, int(inputs.get("minSpecial", 0))))
    chars = [secrets.choice(pool) for pool, minimum in pools for _ in range(minimum)]
    alphabet = "".join(pool for pool, _ in pools)
    chars += [secrets.choice(alphabet) for _ in range(length - len(chars))]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


@dataclass
class Recorded:
    """One registered resource."""

    typ: str
    name: str
    urn: str
    id: str
    inputs: dict
    outputs: dict
    secret_paths: set[str]
    custom: bool
    parent: str = ""
    dependencies: list[str] = field(default_factory=list)
    protect: bool = False
    retain_on_delete: bool = False
    replace_on_changes: list[str] = field(default_factory=list)
    delete_before_replace: bool = False
    replacement_trigger: bool = False

    def is_secret(self, path: str) -> bool:
        """True when ``path`` or an enclosing path was sent as a secret."""
        return any(path == p or path.startswith(p + ".") or path.startswith(p + "[") for p in self.secret_paths)

    @property
    def short_type(self) -> str:
        return self.typ.split(":")[-1]


class RecordingMocks(pulumi.runtime.Mocks):
    """Realistic provider outputs; records every resource."""

    def __init__(self, state: Optional[dict] = None) -> None:
        self.resources: list[Recorded] = []
        self.generated_secrets: list[str] = []
        self._pending_meta: dict[tuple[str, str], dict] = {}
        self.state: dict = {} if state is None else state
        """Generated random values by resource name, kept across runs as Pulumi state keeps them."""

    def _secret(self, value: str) -> pulumi.Output:
        self.generated_secrets.append(value)
        return pulumi.Output.secret(value)

    def outputs_for(self, typ: str, name: str, inputs: dict) -> tuple[str, dict]:
        out = dict(inputs)
        if typ == "random:index/randomPassword:RandomPassword":
            value = self.state.setdefault(f"password/{name}", _random_password(inputs))
            out.update(result=self._secret(value), bcryptHash=pulumi.Output.secret("$2a$10$" + _hex(26)[:53]))
            return _hex(8), out
        if typ == "random:index/randomBytes:RandomBytes":
            raw = bytes.fromhex(self.state.setdefault(f"bytes/{name}", os.urandom(int(inputs["length"])).hex()))
            out.update(base64=self._secret(base64.b64encode(raw).decode()), hex=self._secret(raw.hex()))
            return _hex(8), out
        if typ == "docker:index/remoteImage:RemoteImage":
            digest = _hex(32)
            out.update(imageId=f"sha256:{digest}", repoDigest="" if "build" in inputs else f"{inputs['name'].split(':')[0]}@sha256:{_hex(32)}")
            return f"sha256:{digest}{inputs['name']}", out
        if typ == "docker:index/container:Container":
            cid = _hex(32)
            if inputs.get("attach"):
                out.update(exitCode=0, containerLogs="")
            out.setdefault("hostname", cid[:12])
            return cid, out
        if typ == "docker:index/network:Network":
            out.setdefault("driver", "bridge")
            out["ipamConfigs"] = [{"subnet": "172.30.0.0/16", "gateway": "172.30.0.1"}]
            return _hex(32), out
        if typ == "docker:index/volume:Volume":
            out.update(driver="local", mountpoint=f"/var/lib/docker/volumes/{inputs.get('name', name)}/_data")
            return inputs.get("name", name), out
        return (_hex(8) if typ.startswith(("docker:", "random:")) else ""), out

    def new_resource(self, args: pulumi.runtime.MockResourceArgs):
        secret_paths: set[str] = set()
        inputs = _unwrap(args.inputs, "", secret_paths)
        rid, outputs = self.outputs_for(args.typ, args.name, inputs)
        meta = self._pending_meta.pop((args.typ, args.name), {})
        self.resources.append(
            Recorded(args.typ, args.name, meta.get("urn", ""), rid, inputs, outputs, secret_paths, args.custom, **{
                k: v for k, v in meta.items() if k != "urn"
            })
        )
        return [rid, outputs]

    def call(self, args: pulumi.runtime.MockCallArgs):
        return {}

    # -- queries used by tests -------------------------------------------------
    def of_type(self, short_type: str) -> list[Recorded]:
        return [r for r in self.resources if r.short_type == short_type]

    def containers(self) -> dict[str, Recorded]:
        """Containers keyed by their service label."""
        out = {}
        for r in self.of_type("Container"):
            labels = {entry["label"]: entry["value"] for entry in r.inputs.get("labels", [])}
            out[labels.get("org.mlplatform.service", r.name)] = r
        return out


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """Also records engine-level resource options the plain mock monitor drops."""

    def RegisterResource(self, request):
        if request.type != "pulumi:pulumi:Stack":
            self.mocks._pending_meta[(request.type, request.name)] = dict(
                urn=self.make_urn(request.parent, request.type, request.name),
                parent=request.parent,
                dependencies=list(request.dependencies),
                protect=bool(request.protect),
                retain_on_delete=bool(getattr(request, "retainOnDelete", False)),
                replace_on_changes=list(request.replaceOnChanges),
                delete_before_replace=bool(request.deleteBeforeReplace),
                replacement_trigger=request.HasField("replacement_trigger"),
            )
        return super().RegisterResource(request)


def env_dict(container: Recorded) -> dict[str, str]:
    """A container's env as a dict."""
    return dict(entry.split("=", 1) for entry in container.inputs.get("envs", []))


def uploaded_files(container: Recorded) -> dict[str, str]:
    """Files written into a container before start, by path."""
    return {u["file"]: u["content"] for u in container.inputs.get("uploads", [])}


def effective_settings(container: Recorded) -> dict[str, str]:
    """The env as the software sees it: ``<OPTION>_CMD=cat <file>`` resolved to the uploaded file's content."""
    env = env_dict(container)
    files = uploaded_files(container)
    for key, value in list(env.items()):
        if key.endswith("_CMD") and value.startswith("cat "):
            env[key.removesuffix("_CMD")] = files[value.removeprefix("cat ")]
    return env


def secret_env_keys(container: Recorded) -> set[str]:
    """Keys of env entries that were sent as secrets."""
    envs = container.inputs.get("envs", [])
    return {e.split("=", 1)[0] for i, e in enumerate(envs) if container.is_secret(f"envs[{i}]")}


def stack_config(stack: str) -> dict:
    """The ``mlplatform:platform`` object from ``Pulumi.<stack>.yaml``."""
    data = yaml.safe_load((REPO_ROOT / f"Pulumi.{stack}.yaml").read_text()) or {}
    return (data.get("config") or {}).get("mlplatform:platform", {})


@dataclass
class Export:
    value: Any
    secret: bool


@dataclass
class ProgramRun:
    mocks: RecordingMocks
    exports: dict[str, Export]

    @property
    def resources(self) -> list[Recorded]:
        return self.mocks.resources


def setup_mocks(
    stack: str, platform: Optional[dict] = None, preview: bool = False, state: Optional[dict] = None
) -> RecordingMocks:
    """Reset the runtime and install recording mocks with the given stack config.

    ``state`` (optional, mutated) keeps generated secrets across runs, as Pulumi state does.
    """
    pulumi.runtime.reset_options(project="mlplatform", stack=stack, preview=preview)
    config = {} if platform is None else {"mlplatform:platform": json.dumps(platform)}
    pulumi.runtime.set_all_config(config)
    mocks = RecordingMocks(state)
    pulumi.runtime.set_mocks(mocks, project="mlplatform", stack=stack, preview=preview, monitor=RecordingMonitor(mocks))
    return mocks


def run_program(
    stack: str, platform: Optional[dict] = None, preview: bool = False, state: Optional[dict] = None
) -> ProgramRun:
    """Run ``__main__.py`` for ``stack`` under mocks; ``platform`` overrides the stack file's config."""
    config = stack_config(stack) if platform is None else platform
    mocks = setup_mocks(stack, config, preview, state)
    exports: dict[str, Any] = {}
    resolved: dict[str, Export] = {}

    def record_export(name: str, value: Any) -> None:
        exports[name] = value

    outputs: dict[str, pulumi.Output] = {}

    @pulumi.runtime.test
    def program():
        with mock.patch.object(pulumi, "export", record_export):
            runpy.run_path(str(REPO_ROOT / "__main__.py"), run_name="__main__")
        outputs.update({k: pulumi.Output.from_input(v) for k, v in exports.items()})
        return pulumi.Output.all(*outputs.values())

    program()
    for key, out in outputs.items():
        resolved[key] = Export(_sync_await(out.future()), bool(_sync_await(out.is_secret())))
    return ProgramRun(mocks, resolved)
