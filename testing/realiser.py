"""Realise a recorded program run on a real Docker engine, the way pulumi-docker would.

`pulumi up` cannot run on the project's machines, so this does its job for the
Docker resources of a ``ProgramRun``: Networks, Volumes, RemoteImages and
Containers, with the provider's semantics as kreuzwerker/terraform-provider-docker
(pulumi-docker's upstream) implements them:

- each resource is diffed against the state of the previous realisation: no
  change, nothing happens; a change to a property the schema marks
  ``willReplaceOnChanges`` (or one named in ``replace_on_changes``, or a new
  ``replacement_trigger``) replaces it; any other change updates it in place
  (memory and restart policy through the Docker API, the rest in state only);
- a replacement deletes first when ``delete_before_replace`` is set, and always
  for containers (pulumi-docker marks docker_container DeleteBeforeReplace in
  provider/resources.go), otherwise creates first;
- resources the program no longer declares are deleted, except
  ``retain_on_delete`` ones (left on the engine); ``protect`` refuses both;
- a container's delete stops it with ``destroy_grace_seconds`` as the timeout
  (0 when unset: killed), then removes it;
- uploads are written one tar each before start (0644, 0744 when executable,
  ``permissions`` first; ``owner``/``group`` as numeric ids);
- ``wait`` waits for healthy (a container without a health check fails),
  ``attach`` waits for the exit and a non-zero exit fails the deploy, as the
  program's deploy-time check does on `pulumi up`.

Everything it creates carries the label ``org.mlplatform.e2e=true``, and it
refuses to touch or adopt anything that lacks it. ``APPLIED`` and ``IGNORED``
say which input properties it honours; a test fails on any other.
"""

from __future__ import annotations

import io
import json
import tarfile
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
from docker.errors import APIError, ImageNotFound, NotFound

from components.service import LABEL_STACK
from testing.labels import E2E_LABEL
from testing.mocks import Recorded
from testing.program import ProgramRun
from testing.schema import provider_schema
import contextlib

DOCKER_TYPES = ("Network", "Volume", "RemoteImage", "Container")

#: Input properties (dotted paths into nested objects) the realiser applies, per resource type.
APPLIED: dict[str, frozenset[str]] = {
    "Container": frozenset({
        "name", "image", "command", "entrypoints", "envs", "hostname", "user", "workingDir",
        "labels", "labels.label", "labels.value",
        "ports", "ports.internal", "ports.external", "ports.ip", "ports.protocol",
        "networksAdvanced", "networksAdvanced.name", "networksAdvanced.aliases",
        "volumes", "volumes.volumeName", "volumes.hostPath", "volumes.containerPath", "volumes.readOnly",
        "uploads", "uploads.file", "uploads.content", "uploads.contentBase64", "uploads.executable",
        "uploads.permissions", "uploads.owner", "uploads.group",
        "healthcheck", "healthcheck.tests", "healthcheck.interval", "healthcheck.timeout", "healthcheck.retries",
        "healthcheck.startPeriod", "healthcheck.startInterval",
        "restart", "memory", "memorySwap", "cpus", "stopSignal", "stopTimeout", "destroyGraceSeconds",
        "init", "readOnly", "tmpfs", "capabilities", "capabilities.adds", "capabilities.drops", "securityOpts",
        "groupAdds", "shmSize", "wait", "waitTimeout", "attach", "logs",
    }),
    "Network": frozenset({"name", "driver", "internal", "attachable", "options", "labels", "labels.label",
                          "labels.value"}),
    "Volume": frozenset({"name", "driver", "labels", "labels.label", "labels.value"}),
    "RemoteImage": frozenset({"name", "build", "build.context", "build.dockerfile", "build.buildArgs",
                              "build.target", "build.label", "keepLocally", "triggers"}),
}
#: Input properties the realiser deliberately does not apply, with the reason.
IGNORED: dict[str, dict[str, str]] = {
    "Container": {
        "mustRun": "only read on refresh by the provider (restart a stopped container); the e2e never refreshes one",
    },
    "RemoteImage": {},
    "Network": {},
    "Volume": {},
}


class RealiseError(RuntimeError):
    pass


def _seconds(value: str) -> float:
    return float(str(value).rstrip("s"))


def _ns(value: str) -> int:
    return int(_seconds(value) * 1_000_000_000)


def _label_map(inputs: Mapping[str, Any]) -> dict[str, str]:
    return {entry["label"]: entry["value"] for entry in inputs.get("labels", [])}


def property_paths(inputs: Mapping[str, Any]) -> set[str]:
    """Input property paths, one level into objects and lists of objects (``uploads.owner``)."""
    paths = set()
    for key, value in inputs.items():
        paths.add(key)
        items = value if isinstance(value, list) else [value]
        for item in items:
            if isinstance(item, dict) and key not in ("triggers", "tmpfs"):
                paths.update(f"{key}.{sub}" for sub in item)
                if key == "build" and isinstance(item.get("buildArgs"), dict):
                    paths.add("build.buildArgs")
    return paths


# -- state ------------------------------------------------------------------------------
@dataclass
class StackState:
    """What a realisation remembers, like a Pulumi stack's state: generated secrets and resources."""

    path: Path
    secrets: dict[str, Any] = field(default_factory=dict)
    resources: dict[str, dict[str, Any]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path) -> StackState:
        if not path.exists():
            return cls(path)
        data = json.loads(path.read_text())
        return cls(path, data.get("secrets", {}), data.get("resources", {}))

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.touch(mode=0o600)
        self.path.chmod(0o600)
        self.path.write_text(json.dumps({"secrets": self.secrets, "resources": self.resources}, indent=1))

    def forget(self) -> None:
        """What `pulumi destroy` leaves: nothing, not even the generated secrets."""
        self.secrets.clear()
        self.resources.clear()
        self.path.unlink(missing_ok=True)


@dataclass
class ContainerResult:
    name: str
    id: str
    started_at: float
    ready_at: float
    exit_code: int | None = None
    logs: str = ""

    @property
    def seconds_to_ready(self) -> float:
        return self.ready_at - self.started_at


@dataclass
class Realisation:
    """What one realisation did and how long it took."""

    actions: dict[str, str] = field(default_factory=dict)
    """Per resource (``Type/name``): create, update, replace, same, delete, retain or left-out."""
    containers: dict[str, ContainerResult] = field(default_factory=dict)
    images: dict[str, str] = field(default_factory=dict)
    build_seconds: dict[str, float] = field(default_factory=dict)
    left_out: list[str] = field(default_factory=list)
    containers_started_at: float = 0.0
    all_ready_at: float = 0.0

    def touched(self) -> dict[str, str]:
        return {name: action for name, action in self.actions.items() if action not in ("same", "left-out")}


def _key(r: Recorded) -> str:
    return f"{r.short_type}/{r.name}"


class Realiser:
    """Bring the engine in line with one ProgramRun, starting from ``state``."""

    def __init__(
        self,
        client: docker.DockerClient,
        run: ProgramRun,
        state: StackState,
        build_dir: Path,
        log: Callable[[str], None] = print,
        unavailable_images: tuple[str, ...] = (),
        refresh: bool = False,
    ):
        self.client, self.api, self.run, self.state, self.log = client, client.api, run, state, log
        self.build_dir = build_dir
        self.unavailable_images = unavailable_images
        self.refresh = refresh
        self.schema = provider_schema()
        self.result = Realisation()
        self._lock = threading.Lock()
        self._image_ids: dict[str, str] = {}  # mock image id -> real image id

    # -- the plan ----------------------------------------------------------------------
    def _real_inputs(self, r: Recorded) -> dict[str, Any]:
        inputs = json.loads(json.dumps(r.inputs))
        if r.short_type == "Container":
            inputs["image"] = self._image_ids.get(inputs["image"], inputs["image"])
        return inputs

    def _action(self, r: Recorded, inputs: Mapping[str, Any]) -> str:
        return plan_action(r, inputs, self.state.resources.get(r.urn), self.schema.replaces(r.typ))

    # -- guards ------------------------------------------------------------------------
    @staticmethod
    def _require_e2e_label(kind: str, name: str, labels: Mapping[str, str] | None) -> None:
        if (labels or {}).get(E2E_LABEL) != "true":
            raise RealiseError(f"{kind} {name} exists on the engine without the label {E2E_LABEL}=true: "
                               "the e2e never touches what it did not create")

    def _refuse_protected(self, key: str, entry: Mapping[str, Any], what: str) -> None:
        if entry.get("protect"):
            raise RealiseError(f"{key} is protected: refusing to {what} it (as `pulumi up` refuses); "
                               "unprotect it first")

    # -- resources ---------------------------------------------------------------------
    def _labels(self, inputs: Mapping[str, Any]) -> dict[str, str]:
        return {**_label_map(inputs), E2E_LABEL: "true"}

    def create_network(self, inputs: Mapping[str, Any]) -> str:
        name = inputs["name"]
        for existing in self.client.networks.list(names=[name]):
            if existing.name == name:
                self._require_e2e_label("network", name, existing.attrs.get("Labels"))
                raise RealiseError(f"network {name} already exists and this stack's state does not know it "
                                   "(run `make e2e-down`)")
        network = self.client.networks.create(
            name, driver=inputs.get("driver", "bridge"), internal=bool(inputs.get("internal", False)),
            attachable=bool(inputs.get("attachable", False)), options=inputs.get("options"),
            labels=self._labels(inputs), check_duplicate=True,
        )
        return str(network.id)

    def create_volume(self, inputs: Mapping[str, Any]) -> str:
        name = inputs["name"]
        try:
            existing = self.client.volumes.get(name)
        except NotFound:
            pass
        else:
            # Docker hands back an existing volume of that name (data kept): adopt it only if the e2e made it.
            self._require_e2e_label("volume", name, existing.attrs.get("Labels"))
            return name
        self.client.volumes.create(name, driver=inputs.get("driver", "local"), labels=self._labels(inputs))
        return name

    def create_image(self, r: Recorded) -> str:
        name = r.inputs["name"]
        build = r.inputs.get("build")
        try:
            real = self.client.images.get(name)
        except ImageNotFound:
            if not build:
                raise RealiseError(f"image {name} is not on the engine: run e2e/base_images.py first") from None
            real = self._build(name, build)
        with self._lock:
            self._image_ids[r.outputs["imageId"]] = str(real.id)
            self.result.images[name] = str(real.id)
        return str(real.id)

    def _build(self, name: str, build: Mapping[str, Any]) -> Any:
        self.log(f"building {name} ({build['dockerfile']}, target {build.get('target') or '-'})")
        start = time.perf_counter()
        self.build_dir.mkdir(parents=True, exist_ok=True)
        log_path = self.build_dir / f"build-{name.replace('/', '_').replace(':', '_')}.log"
        with log_path.open("w") as log_file:
            for chunk in self.api.build(
                path=build["context"], dockerfile=build["dockerfile"], tag=name,
                buildargs=build.get("buildArgs") or {}, target=build.get("target"),
                labels={**(build.get("label") or {}), E2E_LABEL: "true"}, rm=True, forcerm=True, decode=True,
            ):
                if "stream" in chunk:
                    log_file.write(chunk["stream"])
                if "error" in chunk:
                    raise RealiseError(f"building {name} failed: {chunk['error'].strip()} (log: {log_path})")
        took = time.perf_counter() - start
        with self._lock:
            self.result.build_seconds[name] = took
        self.log(f"built {name} in {took:.0f} s")
        return self.client.images.get(name)

    def create_container(self, r: Recorded, inputs: Mapping[str, Any]) -> str:
        name = inputs["name"]
        try:
            existing = self.api.inspect_container(name)
        except NotFound:
            pass
        else:
            self._require_e2e_label("container", name, existing["Config"].get("Labels"))
            raise RealiseError(f"Conflict: the container name {name} is already in use (as the provider reports "
                               "when a replacement is not deleted first)")
        ports = inputs.get("ports", [])
        binds = {}
        for v in inputs.get("volumes", []):
            source = v.get("volumeName") or v.get("hostPath")
            binds[source] = {"bind": v["containerPath"], "mode": "ro" if v.get("readOnly") else "rw"}
        restart = inputs.get("restart", "no")
        caps = inputs.get("capabilities") or {}
        host_config = self.api.create_host_config(
            port_bindings={
                f"{int(p['internal'])}/{p.get('protocol', 'tcp')}": (p.get("ip", "0.0.0.0"), int(p["external"]))
                for p in ports
            },
            binds=binds or None,
            restart_policy=None if restart == "no" else {"Name": restart},
            mem_limit=f"{int(inputs['memory'])}m" if inputs.get("memory") else None,
            memswap_limit=f"{int(inputs['memorySwap'])}m" if inputs.get("memorySwap") else None,
            nano_cpus=int(float(inputs["cpus"]) * 1e9) if inputs.get("cpus") else None,
            init=inputs.get("init"),
            read_only=inputs.get("readOnly"),
            tmpfs=inputs.get("tmpfs"),
            cap_add=caps.get("adds"),
            cap_drop=caps.get("drops"),
            security_opt=inputs.get("securityOpts"),
            group_add=inputs.get("groupAdds"),
            shm_size=f"{int(inputs['shmSize'])}m" if inputs.get("shmSize") else None,
        )
        networks = inputs["networksAdvanced"]
        first = networks[0]
        networking = self.api.create_networking_config(
            {first["name"]: self.api.create_endpoint_config(aliases=first.get("aliases"))}
        )
        hc = inputs.get("healthcheck")
        healthcheck = None
        if hc:
            healthcheck = docker.types.Healthcheck(
                test=hc["tests"],
                interval=_ns(hc["interval"]),
                timeout=_ns(hc["timeout"]),
                retries=int(hc["retries"]),
                start_period=_ns(hc["startPeriod"]),
            )
        created = self.api.create_container(
            image=inputs["image"],
            name=name,
            command=inputs.get("command"),
            entrypoint=inputs.get("entrypoints"),
            environment=inputs.get("envs"),
            hostname=inputs.get("hostname"),
            user=inputs.get("user"),
            working_dir=inputs.get("workingDir"),
            labels=self._labels(inputs),
            ports=[(int(p["internal"]), p.get("protocol", "tcp")) for p in ports] or None,
            host_config=host_config,
            networking_config=networking,
            healthcheck=healthcheck,
            stop_signal=inputs.get("stopSignal"),
            stop_timeout=int(inputs["stopTimeout"]) if inputs.get("stopTimeout") is not None else None,
        )
        cid = str(created["Id"])
        for extra in networks[1:]:
            self.api.connect_container_to_network(cid, extra["name"], aliases=extra.get("aliases"))
        for upload in inputs.get("uploads", []):
            self.api.put_archive(cid, "/", upload_tar(upload))
        started = time.perf_counter()
        with self._lock:
            if not self.result.containers_started_at:
                self.result.containers_started_at = started
        self.api.start(cid)
        result = ContainerResult(name, cid, started, started)
        if inputs.get("attach"):
            status = self.api.wait(cid, timeout=3600)
            result.exit_code = int(status["StatusCode"])
            result.logs = self.api.logs(cid).decode(errors="replace") if inputs.get("logs") else ""
            result.ready_at = time.perf_counter()
            if result.exit_code != 0:
                raise RealiseError(
                    f"{name} exited with code {result.exit_code}:\n"
                    f"{self.api.logs(cid).decode(errors='replace')[-3000:]}"
                )
        elif inputs.get("wait"):
            self._wait_healthy(cid, name, int(inputs.get("waitTimeout", 60)))
            result.ready_at = time.perf_counter()
        with self._lock:
            self.result.containers[r.service] = result
        self.log(
            f"{r.service}: {'exit 0' if inputs.get('attach') else 'healthy'} after {result.seconds_to_ready:.1f} s"
        )
        return cid

    def _wait_healthy(self, cid: str, name: str, timeout_s: int) -> None:
        deadline = time.perf_counter() + timeout_s
        while time.perf_counter() < deadline:
            state = self.api.inspect_container(cid)["State"]
            health = (state.get("Health") or {}).get("Status")
            if health == "healthy":
                return
            if health is None:
                raise RealiseError(f"{name}: 'wait' was given but the container has no health check")
            time.sleep(0.5)
        logs = self.api.logs(cid, tail=60).decode(errors="replace")
        raise RealiseError(f"{name} did not become healthy within {timeout_s} s:\n{logs}")

    def update_container(self, entry: Mapping[str, Any], inputs: Mapping[str, Any]) -> None:
        """In place, as the provider does: restart policy and memory reach the engine, the rest stays in state.

        Like the provider, the swap limit is sent only when declared: without it the engine refuses a
        memory limit above the swap limit it set itself (twice the old limit).
        """
        old = entry["inputs"]
        if any(old.get(k) != inputs.get(k) for k in ("restart", "memory", "memorySwap")):
            restart = inputs.get("restart", "no")
            self.api.update_container(
                entry["id"],
                restart_policy={"Name": "" if restart == "no" else restart},
                mem_limit=f"{int(inputs['memory'])}m" if inputs.get("memory") else 0,
                memswap_limit=f"{int(inputs['memorySwap'])}m" if inputs.get("memorySwap") else None,
            )

    def delete(self, key: str, entry: Mapping[str, Any]) -> str:
        """Delete one resource from the engine (or leave it, when retained); returns the action."""
        kind, inputs = entry["type"], entry["inputs"]
        self._refuse_protected(key, entry, "delete")
        if entry.get("retain_on_delete"):
            return "retain"
        if kind == "Container":
            try:
                info = self.api.inspect_container(entry["id"])
            except NotFound:
                return "delete"
            self._require_e2e_label("container", inputs["name"], info["Config"].get("Labels"))
            if not inputs.get("attach"):
                self.api.stop(entry["id"], timeout=int(inputs.get("destroyGraceSeconds") or 0))
            self.api.remove_container(entry["id"], force=True)
        elif kind in ("Network", "Volume"):
            collection = self.client.networks if kind == "Network" else self.client.volumes
            try:
                found = collection.get(entry["id"])
            except NotFound:
                return "delete"
            self._require_e2e_label(kind.lower(), inputs["name"], found.attrs.get("Labels"))
            found.remove()
        elif kind == "RemoteImage" and not inputs.get("keepLocally"):
            with contextlib.suppress(NotFound, APIError):
                self.client.images.remove(entry["id"], force=bool(inputs.get("forceRemove")))
        return "delete"

    def _exists(self, entry: Mapping[str, Any]) -> bool:
        kind, rid = entry["type"], entry["id"]
        getter = {
            "Container": self.client.containers.get,
            "Network": self.client.networks.get,
            "Volume": self.client.volumes.get,
            "RemoteImage": self.client.images.get,
        }[kind]
        try:
            getter(rid)
        except NotFound:
            return False
        return True

    # -- one resource, start to finish -------------------------------------------------------
    def _apply(self, r: Recorded) -> None:
        key = _key(r)
        if r.short_type == "RemoteImage":
            real_id = self.create_image(r)
            action = "same" if self.state.resources.get(r.urn, {}).get("id") == real_id else "create"
            self._remember(r, r.inputs, real_id)
            self.result.actions[key] = action
            return
        inputs = self._real_inputs(r)
        action = self._action(r, inputs)
        old = self.state.resources.get(r.urn)
        if action == "same":
            pass
        elif action == "update":
            if r.short_type == "Container":
                self.update_container(old, inputs)  # type: ignore[arg-type]
            self._remember(r, inputs, old["id"])  # type: ignore[index]
        else:
            if action == "replace":
                self._refuse_protected(key, old, "replace")  # type: ignore[arg-type]
                if delete_first(r):
                    self.delete(key, old)  # type: ignore[arg-type]
            rid = self._create(r, inputs)
            if action == "replace" and not delete_first(r):
                self.delete(key, old)  # type: ignore[arg-type]
            self._remember(r, inputs, rid)
        with self._lock:
            self.result.actions[key] = action

    def _create(self, r: Recorded, inputs: Mapping[str, Any]) -> str:
        if r.short_type == "Container":
            return self.create_container(r, inputs)
        if r.short_type == "Network":
            return self.create_network(inputs)
        return self.create_volume(inputs)

    def _remember(self, r: Recorded, inputs: Mapping[str, Any], rid: str) -> None:
        with self._lock:
            self.state.resources[r.urn] = {
                "type": r.short_type,
                "key": _key(r),
                "id": rid,
                "inputs": dict(inputs),
                "trigger": r.replacement_trigger,
                "protect": r.protect,
                "retain_on_delete": r.retain_on_delete,
                "dependencies": [d for d in r.dependencies],
            }

    # -- orchestration -----------------------------------------------------------------------
    def _left_out(self, todo: dict[str, Recorded]) -> None:
        """Drop resources whose image no registry or stand-in here can provide."""
        unavailable = {
            r.outputs["imageId"]
            for r in todo.values()
            if r.short_type == "RemoteImage" and r.inputs["name"].startswith(self.unavailable_images)
        }
        for urn, r in list(todo.items()):
            if r.outputs.get("imageId") in unavailable or r.inputs.get("image") in unavailable:
                del todo[urn]
                self.result.actions[_key(r)] = "left-out"
                if r.short_type == "Container":
                    self.result.left_out.append(r.inputs["name"])
        if self.result.left_out:
            self.log(f"left out (no image can be had here): {', '.join(sorted(self.result.left_out))}")

    def realise(self, max_workers: int = 8) -> Realisation:
        """Create, update, replace and delete until the engine matches the run; save the state."""
        try:
            return self._realise(max_workers)
        finally:
            self.state.save()

    def _realise(self, max_workers: int) -> Realisation:
        if self.refresh:
            for urn, entry in list(self.state.resources.items()):
                if not self._exists(entry):
                    self.log(f"refresh: {entry['key']} is gone from the engine; dropped from state")
                    del self.state.resources[urn]
        todo = {r.urn: r for r in self.run.resources if r.short_type in DOCKER_TYPES}
        self._left_out(todo)
        deps = {urn: {d for d in r.dependencies if d in todo} for urn, r in todo.items()}
        # Images first: containers start only when every image exists, so time-to-healthy measures
        # services, not image builds.
        order = sorted(todo, key=lambda u: todo[u].short_type != "RemoteImage")
        done: set[str] = set()
        running: dict[Future[None], str] = {}
        with ThreadPoolExecutor(max_workers=max_workers) as pool:
            while len(done) < len(todo):
                images_pending = any(todo[u].short_type == "RemoteImage" and u not in done for u in todo)
                for urn in order:
                    r = todo[urn]
                    if urn in done or urn in running.values() or not deps[urn] <= done:
                        continue
                    if r.short_type == "Container" and images_pending:
                        continue
                    running[pool.submit(self._apply, r)] = urn
                if not running:
                    raise RealiseError(f"dependency cycle among {sorted(set(todo) - done)}")
                finished, _ = wait(list(running), return_when=FIRST_EXCEPTION)
                for future in finished:
                    urn = running.pop(future)
                    future.result()  # re-raise the first failure
                    done.add(urn)
        self._delete_undeclared(set(todo) | {r.urn for r in self.run.resources})
        self.result.all_ready_at = time.perf_counter()
        return self.result

    def _delete_undeclared(self, declared: set[str]) -> None:
        """Delete what the state has and the program no longer declares, dependents first."""
        gone = [urn for urn in self.state.resources if urn not in declared]
        for urn in reverse_dependency_order(gone, self.state.resources):
            entry = self.state.resources[urn]
            self.result.actions[entry["key"]] = self.delete(entry["key"], entry)
            del self.state.resources[urn]

    def destroy(self) -> Realisation:
        """`pulumi destroy`: delete everything in state, dependents first; retained resources stay."""
        try:
            for urn in reverse_dependency_order(list(self.state.resources), self.state.resources):
                entry = self.state.resources[urn]
                self.result.actions[entry["key"]] = self.delete(entry["key"], entry)
                del self.state.resources[urn]
            self.state.forget()
        finally:
            if self.state.resources:
                self.state.save()
        return self.result


def delete_first(r: Recorded) -> bool:
    """Whether a replacement deletes the old resource before creating the new one."""
    return r.delete_before_replace or r.short_type == "Container"


def plan_action(
    r: Recorded, inputs: Mapping[str, Any], old: Mapping[str, Any] | None, schema_replaces: Iterable[str]
) -> str:
    """What `pulumi up` does to ``r`` given its state entry ``old``: create, same, update or replace.

    A changed property the provider marks ``willReplaceOnChanges`` (or one of the
    resource's ``replace_on_changes``) replaces it, and so does a new
    ``replacement_trigger``; any other change updates it in place.
    """
    if old is None:
        return "create"
    if r.replacement_trigger is not None and r.replacement_trigger != old.get("trigger"):
        return "replace"
    changed = {k for k in set(inputs) | set(old["inputs"]) if inputs.get(k) != old["inputs"].get(k)}
    if not changed:
        return "same"
    return "replace" if changed & (set(schema_replaces) | set(r.replace_on_changes)) else "update"


def reverse_dependency_order(urns: Iterable[str], resources: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """``urns`` ordered so that a resource comes before everything it depends on."""
    pending = list(urns)
    ordered: list[str] = []
    while pending:
        for urn in pending:
            dependents = [u for u in pending if u != urn and urn in resources[u].get("dependencies", [])]
            if not dependents:
                ordered.append(urn)
                pending.remove(urn)
                break
        else:
            ordered.extend(pending)
            break
    return ordered


def upload_tar(upload: Mapping[str, Any]) -> bytes:
    """One upload as the provider writes it: a single-file tar copied to ``/``."""
    if upload.get("contentBase64"):
        import base64

        data = base64.b64decode(upload["contentBase64"])
    else:
        data = str(upload.get("content", "")).encode()
    mode = int(str(upload["permissions"]), 8) if upload.get("permissions") else 484 if upload.get("executable") else 420
    info = tarfile.TarInfo(str(upload["file"]).lstrip("/"))
    info.size, info.mode, info.mtime = len(data), mode, int(time.time())
    for attr, key in (("uid", "owner"), ("gid", "group")):
        value = upload.get(key)
        if value is not None:
            if not str(value).isdigit():
                raise RealiseError(
                    f"upload {upload['file']}: {key} {value!r} would be resolved on the Pulumi host; use a numeric id"
                )
            setattr(info, attr, int(value))
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def engine() -> docker.DockerClient:
    client = docker.from_env(timeout=600)
    client.ping()
    return client


def labelled(client: docker.DockerClient, stack: str | None = None) -> dict[str, list[Any]]:
    """Everything on the engine with the e2e label (and, given ``stack``, that stack's label)."""
    selector = [f"{E2E_LABEL}=true"] + ([f"{LABEL_STACK}={stack}"] if stack else [])
    return {
        "containers": client.containers.list(all=True, filters={"label": selector}),
        "networks": client.networks.list(filters={"label": selector}),
        "volumes": client.volumes.list(filters={"label": selector}),
    }


def teardown(client: docker.DockerClient, stack: str | None = None, purge_images: bool = False) -> None:
    """Remove every labelled container, network and volume (of ``stack``, or of every e2e stack)."""
    found = labelled(client, stack)
    for container in found["containers"]:
        container.remove(force=True)
    for network in found["networks"]:
        network.remove()
    for volume in found["volumes"]:
        volume.remove(force=True)
    if purge_images:
        for image in client.images.list(filters={"label": f"{E2E_LABEL}=true"}):
            with contextlib.suppress(APIError):
                client.images.remove(image.id, force=True)
