"""Create on a real Docker engine what the Pulumi program declares.

`pulumi up` cannot run on these machines, so this does its job for the Docker
resources: it runs the program under the recording mocks (tests/pulumi_mocks.py)
and realises every declared Network, Volume, RemoteImage and Container with the
Docker SDK, doing what pulumi-docker does for every input the program uses:
networks and aliases, published ports and bind address, volumes and bind
mounts, env, command and entrypoint, uploads (before start), health checks,
restart policy, memory and CPU limits, labels, ``wait``/``wait_timeout`` (wait
for healthy), ``attach``/``must_run`` (run a job to completion; a non-zero exit
fails, as the program's deploy-time check does), and dependency order, with
independent resources created in parallel as the Pulumi engine does.

Images with ``build`` are built for real from the repo's Dockerfiles; pulled
images must already be on the engine (e2e/base_images.py pulls or makes them).
Generated secrets persist in ``build/e2e/state.json`` (mode 600), so a second
realisation uses the same passwords, as a second `pulumi up` would.
Everything created carries the label ``org.mlplatform.e2e=true``.
"""

from __future__ import annotations

import io
import json
import os
import sys
import tarfile
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import docker
from docker.errors import APIError, NotFound

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from tests.pulumi_mocks import ProgramRun, Recorded, run_program, stack_config  # noqa: E402

E2E_LABEL = "org.mlplatform.e2e"
BUILD_DIR = REPO_ROOT / "build" / "e2e"
STATE_FILE = BUILD_DIR / "state.json"
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
#: Images no registry here can provide and no stand-in replaces: their containers are left
#: out with a note. What Grafana consumes is checked against the real PostgreSQL and MLflow.
UNAVAILABLE_IMAGES = ("grafana/grafana:", "airbyte/", "tecnativa/docker-socket-proxy:")


def _seconds(value: str) -> float:
    return float(value.rstrip("s"))


def _ns(value: str) -> int:
    return int(_seconds(value) * 1_000_000_000)


def load_state() -> dict:
    return json.loads(STATE_FILE.read_text()) if STATE_FILE.exists() else {}


def save_state(state: dict) -> None:
    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    STATE_FILE.touch(mode=0o600)
    STATE_FILE.write_text(json.dumps(state, indent=1))


def e2e_config(stack: str = "dev") -> dict:
    """The stack's config, trusting this machine's CA bundle in image builds (TLS-intercepting proxy)."""
    config = json.loads(json.dumps(stack_config(stack)))
    if HOST_CA_BUNDLE.exists():
        config.setdefault("images", {})["extra_ca_bundle"] = str(HOST_CA_BUNDLE)
    return config


def declare(stack: str = "dev") -> ProgramRun:
    """Run the program under mocks with the persisted state."""
    state = load_state()
    run = run_program(stack, e2e_config(stack), state=state)
    save_state(state)
    return run


@dataclass
class ContainerResult:
    name: str
    id: str
    started_at: float
    ready_at: float
    exit_code: Optional[int] = None
    logs: str = ""

    @property
    def seconds_to_ready(self) -> float:
        return self.ready_at - self.started_at


@dataclass
class Realisation:
    """What one realisation created and how long it took."""

    containers: dict[str, ContainerResult] = field(default_factory=dict)
    images: dict[str, str] = field(default_factory=dict)
    build_seconds: dict[str, float] = field(default_factory=dict)
    containers_started_at: float = 0.0
    all_ready_at: float = 0.0


class RealiseError(RuntimeError):
    pass


class Realiser:
    """Realise one ProgramRun's Docker resources on ``client``'s engine."""

    def __init__(self, client: docker.DockerClient, run: ProgramRun, log: Callable[[str], None] = print):
        self.client, self.api, self.run, self.log = client, client.api, run, log
        self.result = Realisation()
        self._lock = threading.Lock()
        self._image_ids: dict[str, str] = {}  # mock image id -> real image id
        self.left_out: list[str] = []

    # -- resources -----------------------------------------------------------------
    def network(self, r: Recorded) -> None:
        name = r.inputs["name"]
        if not self.client.networks.list(names=[name]):
            labels = {e["label"]: e["value"] for e in r.inputs.get("labels", [])}
            self.client.networks.create(name, driver=r.inputs.get("driver", "bridge"), labels={**labels, E2E_LABEL: "true"})

    def volume(self, r: Recorded) -> None:
        name = r.inputs["name"]
        try:
            self.client.volumes.get(name)
        except NotFound:
            labels = {e["label"]: e["value"] for e in r.inputs.get("labels", [])}
            self.client.volumes.create(name, labels={**labels, E2E_LABEL: "true"})

    def image(self, r: Recorded) -> None:
        name = r.inputs["name"]
        build = r.inputs.get("build")
        try:
            real = self.client.images.get(name)
        except docker.errors.ImageNotFound:
            if not build:
                raise RealiseError(f"image {name} is not on the engine: run e2e/base_images.py first") from None
            real = self._build(name, build)
        with self._lock:
            self._image_ids[r.outputs["imageId"]] = real.id
            self.result.images[name] = real.id

    def _build(self, name: str, build: dict):
        self.log(f"building {name} ({build['dockerfile']}, target {build.get('target') or '-'})")
        start = time.perf_counter()
        log_path = BUILD_DIR / f"build-{name.replace('/', '_').replace(':', '_')}.log"
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
        with self._lock:
            self.result.build_seconds[name] = time.perf_counter() - start
        self.log(f"built {name} in {time.perf_counter() - start:.0f} s")
        return self.client.images.get(name)

    def container(self, r: Recorded) -> None:
        i = r.inputs
        name = i["name"]
        try:
            self.api.remove_container(name, force=True)
        except NotFound:
            pass
        ports = i.get("ports", [])
        binds = {}
        for v in i.get("volumes", []):
            source = v.get("volumeName") or v.get("hostPath")
            binds[source] = {"bind": v["containerPath"], "mode": "ro" if v.get("readOnly") else "rw"}
        restart = i.get("restart", "no")
        host_config = self.api.create_host_config(
            port_bindings={int(p["internal"]): (p.get("ip", "0.0.0.0"), int(p["external"])) for p in ports},
            binds=binds or None,
            restart_policy=None if restart == "no" else {"Name": restart},
            mem_limit=f"{int(i['memory'])}m" if i.get("memory") else None,
            nano_cpus=int(float(i["cpus"]) * 1e9) if i.get("cpus") else None,
        )
        network = i["networksAdvanced"][0]
        networking = self.api.create_networking_config(
            {network["name"]: self.api.create_endpoint_config(aliases=network.get("aliases"))}
        )
        hc = i.get("healthcheck")
        healthcheck = None
        if hc:
            healthcheck = docker.types.Healthcheck(
                test=hc["tests"], interval=_ns(hc["interval"]), timeout=_ns(hc["timeout"]),
                retries=int(hc["retries"]), start_period=_ns(hc["startPeriod"]),
            )
        labels = {e["label"]: e["value"] for e in i.get("labels", [])}
        created = self.api.create_container(
            image=self._image_ids.get(i["image"], i["image"]),
            name=name,
            command=i.get("command"),
            entrypoint=i.get("entrypoints"),
            environment=i.get("envs"),
            hostname=i.get("hostname"),
            user=i.get("user"),
            labels={**labels, E2E_LABEL: "true"},
            ports=[int(p["internal"]) for p in ports] or None,
            host_config=host_config,
            networking_config=networking,
            healthcheck=healthcheck,
        )
        cid = created["Id"]
        if i.get("uploads"):
            self.api.put_archive(cid, "/", self._upload_tar(i["uploads"]))
        started = time.perf_counter()
        self.api.start(cid)
        result = ContainerResult(name, cid, started, started)
        if i.get("attach"):
            status = self.api.wait(cid, timeout=3600)
            result.exit_code = status["StatusCode"]
            result.logs = self.api.logs(cid).decode(errors="replace")
            result.ready_at = time.perf_counter()
            if result.exit_code != 0:
                raise RealiseError(f"{name} exited with code {result.exit_code}:\n{result.logs[-3000:]}")
        elif i.get("wait"):
            self._wait_healthy(cid, name, int(i.get("waitTimeout", 60)))
            result.ready_at = time.perf_counter()
        service = labels.get("org.mlplatform.service", name)
        with self._lock:
            self.result.containers[service] = result
        self.log(f"{service}: {'exit 0' if i.get('attach') else 'healthy'} after {result.seconds_to_ready:.1f} s")

    @staticmethod
    def _upload_tar(uploads: list[dict]) -> bytes:
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            dirs = set()
            for upload in uploads:
                path = upload["file"].lstrip("/")
                parts = Path(path).parts[:-1]
                for depth in range(1, len(parts) + 1):
                    directory = "/".join(parts[:depth])
                    if directory not in dirs:
                        dirs.add(directory)
                        info = tarfile.TarInfo(directory)
                        info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, int(time.time())
                        tar.addfile(info)
                data = upload["content"].encode()
                info = tarfile.TarInfo(path)
                # As pulumi-docker writes uploads: 0744 when executable, 0644 otherwise.
                info.size, info.mode, info.mtime = len(data), 0o744 if upload.get("executable") else 0o644, int(time.time())
                tar.addfile(info, io.BytesIO(data))
        return buffer.getvalue()

    def _wait_healthy(self, cid: str, name: str, timeout_s: int) -> None:
        deadline = time.perf_counter() + timeout_s
        while time.perf_counter() < deadline:
            state = self.api.inspect_container(cid)["State"]
            health = state.get("Health", {}).get("Status")
            if health == "healthy":
                return
            if health is None:
                raise RealiseError(f"{name} has no health check; wait=true needs one")
            time.sleep(0.5)
        logs = self.api.logs(cid, tail=60).decode(errors="replace")
        raise RealiseError(f"{name} did not become healthy within {timeout_s} s:\n{logs}")

    # -- orchestration ---------------------------------------------------------------
    def realise(self, max_workers: int = 8) -> Realisation:
        """Create everything, each resource after the Docker resources it depends on."""
        BUILD_DIR.mkdir(parents=True, exist_ok=True)
        handlers = {"Network": self.network, "Volume": self.volume, "RemoteImage": self.image, "Container": self.container}
        todo = {r.urn: r for r in self.run.resources if r.short_type in handlers}
        unavailable = {r.outputs["imageId"]: r for r in todo.values()
                       if r.short_type == "RemoteImage" and r.inputs["name"].startswith(UNAVAILABLE_IMAGES)}
        for urn, r in list(todo.items()):
            if r.outputs.get("imageId") in unavailable or r.inputs.get("image") in unavailable:
                del todo[urn]
                if r.short_type == "Container":
                    self.left_out.append(r.inputs["name"])
        if self.left_out:
            self.log(f"left out (no image can be had here): {', '.join(sorted(self.left_out))}")
        deps = {urn: {d for d in r.dependencies if d in todo} for urn, r in todo.items()}
        done: set[str] = set()
        running: dict[Future, str] = {}
        # Builds first: containers start only when every image exists, so
        # time-to-healthy measures services, not image builds.
        order = sorted(todo, key=lambda u: todo[u].short_type == "Container")
        with ThreadPoolExecutor(max_workers=max_workers) as pool:
            while len(done) < len(todo):
                images_pending = any(todo[u].short_type == "RemoteImage" and u not in done for u in todo)
                for urn in order:
                    r = todo[urn]
                    if urn in done or urn in running.values() or not deps[urn] <= done:
                        continue
                    if r.short_type == "Container" and images_pending:
                        continue
                    if r.short_type == "Container" and not self.result.containers_started_at:
                        self.result.containers_started_at = time.perf_counter()
                    running[pool.submit(handlers[r.short_type], r)] = urn
                if not running:
                    raise RealiseError(f"dependency cycle among {sorted(set(todo) - done)}")
                finished, _ = wait(list(running), return_when=FIRST_EXCEPTION)
                for future in finished:
                    urn = running.pop(future)
                    future.result()  # re-raise the first failure
                    done.add(urn)
        self.result.all_ready_at = time.perf_counter()
        return self.result


def engine() -> docker.DockerClient:
    client = docker.from_env(timeout=600)
    client.ping()
    return client


def created_by_e2e(client: docker.DockerClient) -> dict[str, list]:
    """Everything on the engine that carries the e2e label."""
    selector = {"label": f"{E2E_LABEL}=true"}
    return {
        "containers": client.containers.list(all=True, filters=selector),
        "networks": client.networks.list(filters=selector),
        "volumes": client.volumes.list(filters=selector),
    }


def remove_containers(client: docker.DockerClient) -> None:
    for container in created_by_e2e(client)["containers"]:
        container.remove(force=True)


def teardown(client: docker.DockerClient, keep_images: bool = True) -> None:
    """Remove every container, network and volume the e2e created (labelled); built images stay as cache."""
    remove_containers(client)
    found = created_by_e2e(client)
    for network in found["networks"]:
        network.remove()
    for volume in found["volumes"]:
        volume.remove(force=True)
    if not keep_images:
        for image in client.images.list(filters={"label": f"{E2E_LABEL}=true"}):
            try:
                client.images.remove(image.id, force=True)
            except APIError:
                pass
    STATE_FILE.unlink(missing_ok=True)


def main(argv: list[str]) -> int:
    client = engine()
    if argv[:1] == ["down"]:
        teardown(client, keep_images=os.environ.get("E2E_PURGE_IMAGES") != "1")
        print("removed the e2e containers, networks, volumes and state")
        return 0
    run = declare("dev")
    realised = Realiser(client, run).realise()
    took = realised.all_ready_at - realised.containers_started_at
    print(f"dev stack realised: {len(realised.containers)} containers ready in {took:.1f} s")
    print(json.dumps(run.exports["endpoints"].value, indent=1))
    print(f"credentials: {STATE_FILE} (generated secrets) and the `credentials` output")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
