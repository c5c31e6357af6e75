"""The Docker API proxy's HAProxy config, run for real (Debian's haproxy) in front of a fake Docker API.

The fake listens on a unix socket as dockerd does and records every request it
gets: an allowed call must reach it unchanged, a refused one must get 403 from
HAProxy and never reach it.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from socketserver import UnixStreamServer

import pytest
import requests

from components.docker_api_proxy import AIRBYTE_WORKER_RULES, MAX_CREATE_BODY, haproxy_config
from testing.net import free_port


class _UnixHTTPServer(ThreadingHTTPServer, UnixStreamServer):
    address_family = socket.AF_UNIX

    def get_request(self):  # unix sockets have no client address; http.server wants one
        request, _ = super().get_request()
        return request, ("fake-dockerd", 0)


@dataclass
class FakeDocker:
    seen: list[tuple[str, str]] = field(default_factory=list)


def _handler(fake: FakeDocker) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            fake.seen.append((self.command, self.path))
            body = b'{"ok": true}'
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_POST = do_DELETE = do_PUT = do_HEAD = _answer

        def log_message(self, *args: object) -> None:
            pass

    return Handler


@dataclass
class Proxy:
    url: str
    fake: FakeDocker

    def call(self, method: str, path: str, body: object = None) -> int:
        before = len(self.fake.seen)
        data = None if body is None else (body if isinstance(body, str) else json.dumps(body))
        status = requests.request(method, self.url + path, data=data, timeout=10,
                                  headers={"Content-Type": "application/json"}).status_code
        reached = len(self.fake.seen) > before
        assert reached == (status == 200), (method, path, status, reached)
        return status


@pytest.fixture(scope="module")
def proxy() -> Iterator[Proxy]:
    haproxy = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not Path(haproxy).exists():
        raise RuntimeError("haproxy not found: apt-get install haproxy (see .ci/run)")
    root = Path(tempfile.mkdtemp(prefix="mlplatform-dockerapi-"))
    fake = FakeDocker()
    server = _UnixHTTPServer(str(root / "docker.sock"), _handler(fake))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = free_port()
    config = haproxy_config(AIRBYTE_WORKER_RULES, upstream=str(root / "docker.sock"), port=port)
    config = config.replace(f"bind :{port}", f"bind 127.0.0.1:{port}")
    (root / "haproxy.cfg").write_text(config)
    check = subprocess.run([haproxy, "-c", "-f", str(root / "haproxy.cfg")], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    process = subprocess.Popen([haproxy, "-db", "-f", str(root / "haproxy.cfg")], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 10
        while True:
            try:
                requests.get(url + "/_ping", timeout=1)
                break
            except requests.ConnectionError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield Proxy(url, fake)
    finally:
        process.terminate()
        process.wait(10)
        server.shutdown()
        shutil.rmtree(root, ignore_errors=True)


#: What `docker run --rm -i` of a connector sends (named volumes only, as Airbyte's worker does).
CONNECTOR_CREATE = {
    "Image": "airbyte/source-file:0.5.39",
    "Cmd": ["read", "--config", "source_config.json"],
    "WorkingDir": "/data/job",
    "AttachStdin": True, "OpenStdin": True, "StdinOnce": True,
    "Labels": {"io.airbyte.job": "42"},
    "HostConfig": {
        "Binds": ["airbyte_workspace:/data", "airbyte_local:/local"],
        "AutoRemove": True, "Init": True, "LogConfig": {"Type": "none"},
        "NetworkMode": "default", "Privileged": False, "CapAdd": None, "Devices": [],
    },
}


@pytest.mark.parametrize("method, path", [
    ("HEAD", "/_ping"), ("GET", "/_ping"), ("GET", "/v1.41/version"),
    ("POST", "/v1.41/images/create?fromImage=airbyte%2Fsource-file&tag=0.5.39"),
    ("GET", "/v1.41/images/airbyte/source-file:0.5.39/json"),
    ("POST", "/v1.41/containers/3f2a/start"), ("POST", "/v1.41/containers/3f2a/attach?stream=1&stdin=1"),
    ("POST", "/v1.41/containers/3f2a/wait?condition=removed"), ("POST", "/containers/3f2a/kill"),
    ("DELETE", "/v1.41/containers/3f2a?force=1"),
])
def test_the_calls_a_connector_run_needs_pass(proxy, method, path):
    assert proxy.call(method, path) == 200


def test_a_plain_connector_container_is_created(proxy):
    assert proxy.call("POST", "/v1.41/containers/create?name=source-file-read-42", CONNECTOR_CREATE) == 200


@pytest.mark.parametrize("method, path", [
    ("GET", "/v1.41/containers/json"), ("GET", "/v1.41/containers/3f2a/json"),  # another container's env
    ("POST", "/v1.41/containers/3f2a/exec"), ("POST", "/v1.41/exec/abc/start"),
    ("GET", "/v1.41/containers/3f2a/archive?path=/etc"), ("PUT", "/v1.41/containers/3f2a/archive?path=/"),
    ("POST", "/v1.41/build"), ("POST", "/v1.41/volumes/create"), ("POST", "/v1.41/networks/create"),
    ("POST", "/v1.41/networks/n/connect"), ("GET", "/v1.41/secrets"), ("POST", "/v1.41/swarm/init"),
    ("POST", "/v1.41/plugins/pull"), ("GET", "/v1.41/info"), ("POST", "/v1.41/auth"),
    ("POST", "/v1.41/images/x/push"), ("DELETE", "/v1.41/images/postgres:16"), ("POST", "/v1.41/session"),
    ("GET", "/v1.41/containers/3f2a/start"), ("POST", "/v1.41/containers/../../build"),
])
def test_every_other_call_is_refused(proxy, method, path):
    assert proxy.call(method, path) == 403


def _with_host_config(**host_config: object) -> dict:
    return {**CONNECTOR_CREATE, "HostConfig": {**CONNECTOR_CREATE["HostConfig"], **host_config}}


@pytest.mark.parametrize("body", [
    _with_host_config(Privileged=True),
    json.dumps(_with_host_config(Privileged=True)).replace('"Privileged"', '"privileged"'),  # Go matches any case
    json.dumps(CONNECTOR_CREATE).replace('"Image"', '"Im\\u0061ge"').replace('"Privileged": false',
                                                                            '"Privil\\u0065ged": true'),
    _with_host_config(Binds=["/:/host"]),
    _with_host_config(Binds=["airbyte_workspace:/data", "/var/run/docker.sock:/var/run/docker.sock"]),
    _with_host_config(Mounts=[{"Type": "bind", "Source": "/etc", "Target": "/host-etc"}]),
    _with_host_config(NetworkMode="host"), _with_host_config(PidMode="host"), _with_host_config(IpcMode="host"),
    _with_host_config(UsernsMode="host"), _with_host_config(PidMode="container:postgres"),
    _with_host_config(CapAdd=["SYS_ADMIN"]),
    _with_host_config(Devices=[{"PathOnHost": "/dev/sda", "PathInContainer": "/dev/sda"}]),
    _with_host_config(SecurityOpt=["apparmor=unconfined"]),
    _with_host_config(VolumesFrom=["mlplatform-prod-postgres"]),
    {**CONNECTOR_CREATE, "Env": ["PAD=" + "x" * MAX_CREATE_BODY]},  # too big to check whole: refused
])
def test_a_container_that_would_reach_the_host_is_refused(proxy, body):
    assert proxy.call("POST", "/v1.41/containers/create", body) == 403
