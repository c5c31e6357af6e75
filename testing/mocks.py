"""Pulumi mocks that answer like the real providers, and record every registration.

Outputs have the real providers' formats, lengths and secret-ness:
RandomPassword honours length/specials and its result is secret; RandomBytes
gives padded standard base64 and hex of the requested length, both secret;
RemoteImage gives a ``sha256:`` image id; containers and networks get 64-hex
ids; attached one-shot containers report an exit code (0 unless a test asks
for a failure). In a preview of a new stack, whatever the provider computes
(ids, image ids, generated values, exit codes) is unknown, as the engine
reports it. A format bug (an unpadded Fernet key) or a value used before it
is known therefore fails here as it would on ``pulumi up``/``pulumi preview``.

Every registered resource is recorded with its resolved inputs, which input
paths were secret, and the engine-level options the plain mock monitor drops
(parent, dependencies, protect, retain_on_delete, replace_on_changes,
delete_before_replace, replacement_trigger, aliases).
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import string
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from google.protobuf import json_format  # type: ignore[import-untyped]
from pulumi.output import Unknown
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime.rpc import UNKNOWN

from components.service import LABEL_SERVICE

#: Pulumi's wire markers for a secret value: {SPECIAL_SIG: SECRET_SIG, "value": ...}.
SECRET_SIG = "1b47061264138c4ac30d75fd1eb44270"
SPECIAL_SIG = "4dabf18193072939515e22adb298388d"

RANDOM_PASSWORD = "random:index/randomPassword:RandomPassword"
RANDOM_BYTES = "random:index/randomBytes:RandomBytes"
REMOTE_IMAGE = "docker:index/remoteImage:RemoteImage"
CONTAINER = "docker:index/container:Container"
NETWORK = "docker:index/network:Network"
VOLUME = "docker:index/volume:Volume"

#: Outputs each provider computes; unknown in a preview of a new resource.
COMPUTED: dict[str, tuple[str, ...]] = {
    RANDOM_PASSWORD: ("result", "bcryptHash"),
    RANDOM_BYTES: ("base64", "hex"),
    REMOTE_IMAGE: ("imageId", "repoDigest"),
    CONTAINER: ("exitCode", "containerLogs", "networkDatas", "bridge"),
    NETWORK: ("ipamConfigs", "scope"),
    VOLUME: ("mountpoint",),
}
#: Computed outputs that are secret whenever they are known.
SECRET_OUTPUTS = {RANDOM_PASSWORD: ("result", "bcryptHash"), RANDOM_BYTES: ("base64", "hex")}


def is_unknown(value: Any) -> bool:
    """True for a value the engine does not know yet (a preview's computed value)."""
    return isinstance(value, Unknown) or (isinstance(value, str) and value == UNKNOWN)


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


def _random_password(inputs: Mapping[str, Any]) -> str:
    """Like pulumi-random: honours length, specials and minimum counts."""
    length = int(inputs.get("length", 16))
    specials = inputs.get("overrideSpecial") if inputs.get("overrideSpecial") is not None else "!@#$%&*()-_=+[]{}<>:?"
    pools: list[tuple[str, int]] = []
    if inputs.get("lower", True):
        pools.append((string.ascii_lowercase, int(inputs.get("minLower", 0))))
    if inputs.get("upper", True):
        pools.append((string.ascii_uppercase, int(inputs.get("minUpper", 0))))
    if inputs.get("numeric", True):
        pools.append((string.digits, int(inputs.get("minNumeric", 0))))
    if inputs.get("special", True):
        pools.append((str(specials), int(inputs.get("minSpecial", 0))))
    chars = [secrets.choice(pool) for pool, minimum in pools for _ in range(minimum)]
    alphabet = "".join(pool for pool, _ in pools)
    chars += [secrets.choice(alphabet) for _ in range(length - len(chars))]
    secrets.SystemRandom().shuffle(chars)
    return "".join(chars)


def _keepers(inputs: Mapping[str, Any]) -> str:
    keepers = inputs.get("keepers")
    return "" if not keepers else json.dumps(keepers, sort_keys=True)


def _content_digest(inputs: Mapping[str, Any]) -> str:
    """An image id that depends on what the image is, as a real build or pull does."""
    return hashlib.sha256(json.dumps(inputs, sort_keys=True, default=str).encode()).hexdigest()


@dataclass
class Recorded:
    """One registered resource: resolved inputs, provider outputs and engine options."""

    typ: str
    name: str
    urn: str
    id: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]
    secret_paths: set[str]
    custom: bool
    parent: str = ""
    dependencies: list[str] = field(default_factory=list)
    protect: bool = False
    retain_on_delete: bool = False
    replace_on_changes: list[str] = field(default_factory=list)
    delete_before_replace: bool = False
    replacement_trigger: Any = None
    """The trigger's value (None when unset); a changed value replaces the resource."""
    aliases: list[str] = field(default_factory=list)
    """Earlier names this resource answers to (``Alias(name=...)``)."""

    def is_secret(self, path: str) -> bool:
        """True when ``path`` or an enclosing path was sent as a secret."""
        return any(path == p or path.startswith(p + ".") or path.startswith(p + "[") for p in self.secret_paths)

    @property
    def short_type(self) -> str:
        return self.typ.split(":")[-1]

    # -- containers ----------------------------------------------------------------
    def labels(self) -> dict[str, str]:
        return {entry["label"]: entry["value"] for entry in self.inputs.get("labels", [])}

    @property
    def service(self) -> str:
        """The container's service label (its network alias)."""
        return self.labels().get(LABEL_SERVICE, self.name)

    def env(self) -> dict[str, str]:
        """The container's env as a dict."""
        return dict(entry.split("=", 1) for entry in self.inputs.get("envs", []))

    def secret_env_keys(self) -> set[str]:
        """Keys of env entries that were sent as secrets."""
        envs = self.inputs.get("envs", [])
        return {e.split("=", 1)[0] for i, e in enumerate(envs) if self.is_secret(f"envs[{i}]")}

    def uploads(self) -> dict[str, dict[str, Any]]:
        """Files written into the container before it starts, by path."""
        return {u["file"]: u for u in self.inputs.get("uploads", [])}

    def upload_content(self, path: str) -> str:
        return str(self.uploads()[path]["content"])

    def upload_is_secret(self, path: str) -> bool:
        index = [u["file"] for u in self.inputs.get("uploads", [])].index(path)
        return self.is_secret(f"uploads[{index}].content")

    def effective_settings(self) -> dict[str, str]:
        """The env as the software sees it: ``<OPTION>_CMD=cat <file>`` resolved to the uploaded file."""
        env = self.env()
        for key, value in list(env.items()):
            if key.endswith("_CMD") and value.startswith("cat "):
                env[key.removesuffix("_CMD")] = self.upload_content(value.removeprefix("cat "))
        return env


class RecordingMocks(pulumi.runtime.Mocks):
    """Realistic provider outputs; records every resource.

    ``state`` keeps generated random values by resource name across runs, as
    Pulumi state keeps them. ``preview`` answers as a preview of a new stack.
    ``job_exit_codes`` makes attached containers (jobs) of those names exit
    with that code, to exercise the failed-deploy path.
    """

    def __init__(
        self,
        state: dict[str, Any] | None = None,
        preview: bool = False,
        job_exit_codes: Mapping[str, int] | None = None,
    ) -> None:
        self.resources: list[Recorded] = []
        self.generated_secrets: list[str] = []
        self.pending_meta: dict[tuple[str, str], dict[str, Any]] = {}
        self.state: dict[str, Any] = {} if state is None else state
        self.preview = preview
        self.job_exit_codes = dict(job_exit_codes or {})

    def _kept(self, key: str, inputs: Mapping[str, Any], generate: Callable[[], str]) -> str:
        """The value kept in state under ``key``; new keepers replace it with a new one, as pulumi-random does."""
        keepers = _keepers(inputs)
        if key not in self.state or self.state.get(f"keepers/{key}", "") != keepers:
            self.state[key] = generate()
            if keepers:
                self.state[f"keepers/{key}"] = keepers
            else:
                self.state.pop(f"keepers/{key}", None)
        return str(self.state[key])

    def _secret(self, value: str) -> dict[str, Any]:
        self.generated_secrets.append(value)
        return {SPECIAL_SIG: SECRET_SIG, "value": value}

    def _preview_outputs(self, typ: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        out = dict(inputs)
        secret = SECRET_OUTPUTS.get(typ, ())
        for key in COMPUTED.get(typ, ()):
            out[key] = {SPECIAL_SIG: SECRET_SIG, "value": UNKNOWN} if key in secret else UNKNOWN
        return "", out  # an empty id is an unknown id

    def outputs_for(self, typ: str, name: str, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        if self.preview and typ in COMPUTED:
            return self._preview_outputs(typ, inputs)
        out = dict(inputs)
        if typ == RANDOM_PASSWORD:
            value = self._kept(f"password/{name}", inputs, lambda: _random_password(inputs))
            bcrypt_hash = {SPECIAL_SIG: SECRET_SIG, "value": "$2a$10$" + _hex(27)[:53]}
            out.update(result=self._secret(value), bcryptHash=bcrypt_hash)
            return _hex(8), out
        if typ == RANDOM_BYTES:
            raw = bytes.fromhex(self._kept(f"bytes/{name}", inputs, lambda: os.urandom(int(inputs["length"])).hex()))
            out.update(base64=self._secret(base64.b64encode(raw).decode()), hex=self._secret(raw.hex()))
            return _hex(8), out
        if typ == REMOTE_IMAGE:
            digest = _content_digest(inputs)
            repo_digest = "" if "build" in inputs else f"{inputs['name'].split(':')[0]}@sha256:{digest}"
            out.update(imageId=f"sha256:{digest}", repoDigest=repo_digest)
            return f"sha256:{digest}{inputs['name']}", out
        if typ == CONTAINER:
            cid = _hex(32)
            if inputs.get("attach"):
                out.update(exitCode=self.job_exit_codes.get(name, 0), containerLogs="")
            out.setdefault("hostname", cid[:12])
            return cid, out
        if typ == NETWORK:
            out.setdefault("driver", "bridge")
            out.update(ipamConfigs=[{"subnet": "172.30.0.0/16", "gateway": "172.30.0.1"}], scope="local")
            return _hex(32), out
        if typ == VOLUME:
            out.update(driver="local", mountpoint=f"/var/lib/docker/volumes/{inputs.get('name', name)}/_data")
            return str(inputs.get("name", name)), out
        return (_hex(8) if typ.startswith(("docker:", "random:")) else ""), out

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str | None, dict[Any, Any]]:
        secret_paths: set[str] = set()
        inputs = _unwrap(args.inputs, "", secret_paths)
        rid, outputs = self.outputs_for(args.typ, args.name, inputs)
        meta = self.pending_meta.pop((args.typ, args.name), {})
        recorded_outputs = _unwrap(outputs, "", set())
        self.resources.append(
            Recorded(
                args.typ,
                args.name,
                meta.pop("urn", ""),
                rid,
                inputs,
                recorded_outputs,
                secret_paths,
                bool(args.custom),
                **meta,
            )
        )
        return rid, outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> tuple[dict[Any, Any], list[tuple[str, str]] | None]:
        return {}, None

    # -- queries used by tests -------------------------------------------------
    def of_type(self, short_type: str) -> list[Recorded]:
        return [r for r in self.resources if r.short_type == short_type]

    def containers(self) -> dict[str, Recorded]:
        """Containers keyed by their service label."""
        return {r.service: r for r in self.of_type("Container")}


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """Also records engine-level resource options the plain mock monitor drops."""

    mocks: RecordingMocks

    def RegisterResource(self, request: Any) -> Any:
        if request.type != "pulumi:pulumi:Stack":
            trigger = None
            if request.HasField("replacement_trigger"):
                trigger = json_format.MessageToDict(request.replacement_trigger)
            self.mocks.pending_meta[(request.type, request.name)] = dict(
                urn=self.make_urn(request.parent, request.type, request.name),
                parent=request.parent,
                dependencies=list(request.dependencies),
                protect=bool(request.protect),
                retain_on_delete=bool(getattr(request, "retainOnDelete", False)),
                replace_on_changes=list(request.replaceOnChanges),
                delete_before_replace=bool(request.deleteBeforeReplace),
                replacement_trigger=trigger,
                aliases=[a.spec.name if a.HasField("spec") else a.urn.split("::")[-1] for a in request.aliases],
            )
        return super().RegisterResource(request)
