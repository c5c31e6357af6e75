"""`make doctor STACK=...`: what is wrong with a stack, and the fix for each problem.

Each check looks at the running stack the way a user would, and returns findings
that name the subject, the problem and the command or setting that fixes it. A
stack with no finding gets a clean bill. Before the first deploy only the host
ports matter, and that is all the doctor checks then.
"""

from __future__ import annotations

import errno
import re
import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests

from components.airflow_cluster import secret_option_file
from components.mlflow_server import BACKEND_URI_FILE, INIT_SCRIPT_PATH
from components.service import secret_path
from config import parse_platform
from ops.stack import HTTP_TIMEOUT_S, StackHandle

#: The Airflow options every Airflow container must agree on (else tasks fail to decrypt, log in or report).
SHARED_AIRFLOW_OPTIONS = (
    "AIRFLOW__CORE__FERNET_KEY",
    "AIRFLOW__API__SECRET_KEY",
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
)
#: A volume this full is reported (PostgreSQL stops accepting writes when its volume fills up).
VOLUME_FULL_PERCENT = 90
#: A container that restarted is crash-looping while it has run for less than this since its last start;
#: one that restarted once (say when PostgreSQL did) and has run steadily since is well.
CRASH_LOOP_WINDOW_S = 120
#: The platform's own DAGs carry this tag; they are meant to run unpaused.
PLATFORM_DAG_TAG = "mlplatform"


@dataclass(frozen=True)
class Finding:
    check: str
    subject: str
    problem: str
    fix: str

    def __str__(self) -> str:
        return f"[{self.check}] {self.subject}: {self.problem}\n    fix: {self.fix}"


Check = Callable[[StackHandle], Iterator[Finding]]


def check_containers(handle: StackHandle) -> Iterator[Finding]:
    from docker.errors import NotFound

    for service in handle.long_running():
        name = handle.container_name(service)
        try:
            container = handle.container(service)
        except NotFound:
            yield Finding("containers", service, f"no container {name}", f"{handle.deploy_command} creates it")
            continue
        state = container.attrs["State"]
        if crash_looping(container.attrs):
            yield Finding("containers", service, f"restarting ({container.attrs.get('RestartCount', 0)} restarts)",
                          f"`docker logs --tail 50 {name}` says why it exits; fix that, then {handle.deploy_command}")
        elif container.status != "running":
            yield Finding("containers", service, f"{container.status} (exit code {state.get('ExitCode')})",
                          f"`docker logs --tail 50 {name}` says why it stopped; "
                          f"{handle.deploy_command} starts it again")
        elif (state.get("Health") or {}).get("Status") == "unhealthy":
            last = (state["Health"].get("Log") or [{}])[-1].get("Output", "").strip().splitlines()[-1:]
            yield Finding("containers", service, "unhealthy" + (f": {last[0][:200]}" if last else ""),
                          f"`docker inspect --format '{{{{json .State.Health}}}}' {name}` and "
                          f"`docker logs --tail 50 {name}`")


def crash_looping(attrs: dict[str, Any], now: datetime | None = None) -> bool:
    """Restarting now, or restarted less than CRASH_LOOP_WINDOW_S ago and not healthy since.

    A service that restarted once (Airflow's scheduler exits when PostgreSQL restarts) and passed its health
    check again has recovered; one without a health check is trusted only after the window.
    """
    state = attrs["State"]
    if state.get("Restarting"):
        return True
    if not attrs.get("RestartCount") or not state.get("Running"):
        return False
    if (state.get("Health") or {}).get("Status") == "healthy":
        return False
    # Docker writes nanoseconds; Python reads microseconds.
    started = datetime.fromisoformat(re.sub(r"(\.\d{6})\d*", r"\1", state["StartedAt"]).replace("Z", "+00:00"))
    return ((now or datetime.now(UTC)) - started).total_seconds() < CRASH_LOOP_WINDOW_S


def check_endpoints(handle: StackHandle) -> Iterator[Finding]:
    for service, endpoint in sorted(handle.endpoints.items()):
        url = (endpoint or {}).get("url")
        if not url or not str(url).startswith("http") or service in handle.left_out:
            continue
        if handle.running(_container_of(handle, service)) is None:
            continue  # the containers check names it
        try:
            response = requests.get(url, timeout=HTTP_TIMEOUT_S, allow_redirects=False)
        except requests.RequestException as error:
            yield Finding("endpoints", service, f"{url} unreachable ({type(error).__name__})",
                          f"is the container running and healthy (see above)? Its port is published on "
                          f"{parse_platform(handle.config, handle.stack).bind_address}; {handle.deploy_command}")
            continue
        if response.status_code >= 500:
            yield Finding("endpoints", service, f"{url} answers {response.status_code}",
                          f"`docker logs --tail 50 {handle.container_name(_container_of(handle, service))}`")


def _container_of(handle: StackHandle, endpoint: str) -> str:
    """The service behind an endpoint (Airflow's is its API server)."""
    return endpoint if handle.has(endpoint) else f"{endpoint}-apiserver"


def _digests(container: Any, paths: dict[str, str]) -> dict[str, str]:
    """sha256 of each secret file, read in the container as its own user (no value leaves it)."""
    result = container.exec_run(["sha256sum", *paths.values()])
    digests = {}
    for line in result.output.decode(errors="replace").splitlines():
        parts = line.split()
        if len(parts) == 2:
            digests[parts[1]] = parts[0]
    return {option: digests.get(path, "missing") for option, path in paths.items()}


def check_airflow_secrets(handle: StackHandle) -> Iterator[Finding]:
    paths = {option: secret_path(secret_option_file(option)) for option in SHARED_AIRFLOW_OPTIONS}
    seen: dict[str, dict[str, str]] = {}
    for service in handle.long_running():
        if service.startswith("airflow-") and service != "airflow-redis":
            container = handle.running(service)
            if container is not None:
                seen[service] = _digests(container, paths)
    for option in SHARED_AIRFLOW_OPTIONS:
        values: dict[str, list[str]] = {}
        for service, digests in seen.items():
            values.setdefault(digests[option], []).append(service)
        if len(values) > 1:
            majority = max(values.values(), key=len)
            odd = sorted(s for group in values.values() if group is not majority for s in group)
            yield Finding("airflow-secrets", ", ".join(odd),
                          f"{option} differs from the other Airflow containers' ({', '.join(sorted(majority))})",
                          f"{handle.deploy_command} gives every Airflow container the stack's value; "
                          "a container started or edited by hand must go")


def check_mlflow_hosts(handle: StackHandle) -> Iterator[Finding]:
    """Every host name the config allows must get past the running server's host check."""
    if not handle.has("mlflow") or handle.running("mlflow") is None:
        return
    url = handle.endpoints["mlflow"]["url"]
    allowed = handle.declared("mlflow").env().get("MLFLOW_SERVER_ALLOWED_HOSTS", "").split(",")
    port = url.rsplit(":", 1)[1]
    for host in [h for h in allowed if h.endswith(f":{port}")]:
        try:
            response = requests.get(url + "/", headers={"Host": host}, timeout=HTTP_TIMEOUT_S)
        except requests.RequestException:
            return  # unreachable: the endpoint check reports it
        if "Invalid Host header" in response.text:
            yield Finding("mlflow-hosts", host,
                          "MLflow answers 'Invalid Host header' for a host name the config allows",
                          f"the running server predates the setting: {handle.deploy_command} redeploys MLflow with it "
                          "(more names go in mlflow.extra_allowed_hosts)")


def check_mlflow_schema(handle: StackHandle) -> Iterator[Finding]:
    container = handle.running("mlflow") if handle.has("mlflow") else None
    if container is None:
        return
    result = container.exec_run(["python", INIT_SCRIPT_PATH, "check", "--uri-file", secret_path(BACKEND_URI_FILE)])
    if result.exit_code == 3:
        yield Finding("mlflow-schema", "mlflow", result.output.decode(errors="replace").strip().splitlines()[-1]
                      .removeprefix("mlflow-init: "),
                      f"`make backup STACK={handle.stack}`, then {handle.deploy_command}: the mlflow-init job runs "
                      "`mlflow db upgrade` before the server starts")
    elif result.exit_code != 0:
        yield Finding("mlflow-schema", "mlflow", "the schema check failed: "
                      + result.output.decode(errors="replace").strip()[-300:],
                      f"`docker logs --tail 50 {container.name}`")


def check_volumes(handle: StackHandle) -> Iterator[Finding]:
    checked: set[str] = set()
    for service in handle.long_running():
        container = handle.running(service)
        if container is None:
            continue
        for mount in handle.declared(service).inputs.get("volumes", []):
            volume = mount.get("volumeName")
            if not volume or volume in checked:
                continue
            checked.add(volume)
            result = container.exec_run(["df", "-P", mount["containerPath"]])
            lines = result.output.decode(errors="replace").strip().splitlines()
            if result.exit_code != 0 or len(lines) < 2:
                continue
            used = int(lines[-1].split()[4].rstrip("%"))
            if used >= VOLUME_FULL_PERCENT:
                yield Finding("volumes", volume, f"{used}% full ({service}: {mount['containerPath']})",
                              "free space on the Docker host's disk (`docker system df`), or move "
                              "Docker's data root to a bigger disk; PostgreSQL stops when its volume fills")


def _published(handle: StackHandle) -> Iterator[tuple[str, str, int]]:
    """(service, host address, host port) of every declared published port."""
    for service in handle.services():
        for port in handle.declared(service).inputs.get("ports", []) or []:
            yield service, str(port.get("ip") or "0.0.0.0"), int(port["external"])


def _port_free(address: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in address else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((address, port))
        except OSError as error:
            if error.errno == errno.EADDRINUSE:
                return False
            raise
    return True


def _holder(handle: StackHandle, port: int) -> str:
    for container in handle.client.containers.list():
        for bindings in (container.attrs["NetworkSettings"].get("Ports") or {}).values():
            if any(int(b.get("HostPort") or 0) == port for b in bindings or []):
                return f"container {container.name}"
    return "a process on this host (`ss -ltnp` names it)"


def check_ports(handle: StackHandle) -> Iterator[Finding]:
    """Host ports the stack publishes but something else holds (a deploy would fail on them)."""
    keys = {port: key for key, port in parse_platform(handle.config, handle.stack).published_ports().items()}
    for service, address, port in _published(handle):
        if service in handle.left_out or handle.running(service) is not None:
            continue  # the stack's own container holds it
        if not _port_free(address, port):
            yield Finding("ports", f"{address}:{port}", f"{service}'s port is taken by {_holder(handle, port)}",
                          f"stop it, or set {keys.get(port, service + ' port')} in Pulumi.{handle.stack}.yaml "
                          "to a free port")


def check_dags(handle: StackHandle) -> Iterator[Finding]:
    api = handle.airflow_api()
    if api is None:
        return  # the containers and endpoints checks say why
    errors = api.get("/importErrors", limit=100)
    for error in errors.get("import_errors", []):
        last = (error.get("stack_trace") or "").strip().splitlines()[-1:] or ["(no trace)"]
        yield Finding("dag-import", error["filename"], f"does not import: {last[0][:200]}",
                      "fix the file (the DAG processor re-parses it by itself); "
                      "`airflow dags list-import-errors` in the dag-processor shows the whole trace")
    paused = api.get("/dags", tags=PLATFORM_DAG_TAG, paused="true", limit=100)
    for dag in paused.get("dags", []):
        yield Finding("dag-paused", dag["dag_id"], "paused, so the platform's pipeline does not run",
                      f"unpause it: the toggle in Airflow's UI, or PATCH {api.base}/dags/{dag['dag_id']} "
                      '{"is_paused": false}')


CHECKS: dict[str, Check] = {
    "containers": check_containers,
    "endpoints": check_endpoints,
    "airflow-secrets": check_airflow_secrets,
    "mlflow-hosts": check_mlflow_hosts,
    "mlflow-schema": check_mlflow_schema,
    "volumes": check_volumes,
    "ports": check_ports,
    "dags": check_dags,
}


def deployed(handle: StackHandle) -> bool:
    names = {handle.container_name(s) for s in handle.services()}
    return any(c.name in names for c in handle.client.containers.list(all=True))


def diagnose(handle: StackHandle) -> list[Finding]:
    """Every finding on the stack; before a deploy, only the host ports are checked."""
    checks = CHECKS.values() if deployed(handle) else [check_ports]
    findings: list[Finding] = []
    for check in checks:
        findings.extend(check(handle))
    return findings


def report(handle: StackHandle, findings: list[Finding]) -> str:
    if not findings:
        what = "every check" if deployed(handle) else "not deployed; its host ports are free"
        return f"{handle.stack}: healthy ({what})"
    lines = [f"{handle.stack}: {len(findings)} problem{'s' if len(findings) > 1 else ''}"]
    lines += [str(f) for f in findings]
    return "\n".join(lines)
