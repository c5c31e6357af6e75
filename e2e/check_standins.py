#!/usr/bin/env python3
"""Smoke checks for the base images (stand-ins or real) on a local Docker engine.

Everything runs in containers on a user-defined network created for the run;
nothing is published on the host. Every container, volume and network it
creates carries ``org.mlplatform.e2e=true`` and ``org.mlplatform.e2e.check=<run>``
and is removed at the end (also leftovers of earlier, interrupted runs).
Passwords are generated per run with ``secrets`` and never printed.

Usage:
    e2e/engine.sh && .venv/bin/python e2e/base_images.py
    .venv/bin/python e2e/check_standins.py [postgres redis airflow python]
Exit status 0 only when every selected check passed.
"""

from __future__ import annotations

import io
import os
import secrets
import sys
import tarfile
import time
from pathlib import Path
from collections.abc import Callable

import contextlib

import docker
import docker.errors

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from testing.labels import E2E_LABEL  # noqa: E402

LABEL_E2E = E2E_LABEL
LABEL_CHECK = f"{E2E_LABEL}.check"

POSTGRES = "postgres:16.11-bookworm"
REDIS = "redis:7.4.6-bookworm"
AIRFLOW = "apache/airflow:3.3.2-python3.11"
PYTHON = "python:3.11.14-slim-bookworm"


class CheckFailed(AssertionError):
    pass


def log(msg: str) -> None:
    print(f"[check] {msg}", flush=True)


def expect(cond: bool, what: str, detail: str = "") -> None:
    if not cond:
        raise CheckFailed(f"{what}" + (f"\n--- detail ---\n{detail[-3000:]}" if detail else ""))
    log(f"  ok: {what}")


class Run:
    """One check run: its network and the resources it creates."""

    def __init__(self, client: docker.DockerClient | None = None):
        self.client = client or docker.from_env(timeout=300)
        self.id = secrets.token_hex(4)
        self.labels = {LABEL_E2E: "true", LABEL_CHECK: self.id}
        self.network_name = f"mlp-e2e-check-{self.id}"
        self.network = None

    # -- lifecycle ---------------------------------------------------------

    def __enter__(self) -> Run:
        cleanup(self.client)  # leftovers of interrupted runs
        self.network = self.client.networks.create(
            self.network_name, driver="bridge", labels=self.labels
        )
        return self

    def __exit__(self, *exc) -> None:
        cleanup(self.client, self.id)

    # -- helpers -----------------------------------------------------------

    def name(self, what: str) -> str:
        return f"mlp-e2e-{what}-{self.id}"

    def volume(self, what: str):
        return self.client.volumes.create(self.name(what), labels=self.labels)

    def start(self, image: str, what: str, alias: str | None = None,
              files: dict[str, dict[str, str]] | None = None, **kw):
        """Create + start a long-running container on the run's network.

        files: {directory_in_container: {filename: content}} uploaded before start.
        """
        c = self.client.containers.create(
            image, name=self.name(what), labels=self.labels, detach=True,
            network=self.network_name, **kw,
        )
        if alias:
            # re-attach with a DNS alias (create() cannot set aliases)
            self.network.disconnect(c)
            self.network.connect(c, aliases=[alias])
        for directory, entries in (files or {}).items():
            c.put_archive(directory, _tar(entries))
        c.start()
        return c

    def oneshot(self, image: str, command, environment=None, entrypoint=None,
                timeout: int = 180, files: dict[str, dict[str, str]] | None = None,
                user: str | None = None) -> tuple[int, str]:
        """Run a command to completion in a fresh container; (exit code, output)."""
        c = self.client.containers.create(
            image, command=command, environment=environment or {},
            entrypoint=entrypoint, labels=self.labels, network=self.network_name,
            detach=True, **({"user": user} if user else {}),
        )
        try:
            for directory, entries in (files or {}).items():
                c.put_archive(directory, _tar(entries))
            c.start()
            rc = c.wait(timeout=timeout)["StatusCode"]
            out = c.logs(stdout=True, stderr=True).decode(errors="replace")
            return rc, out
        finally:
            c.remove(force=True, v=True)


def _tar(entries: dict[str, str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, content in entries.items():
            data = content.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def cleanup(client: docker.DockerClient, run_id: str | None = None) -> None:
    """Remove containers (with anonymous volumes), volumes, networks by label."""
    label = f"{LABEL_CHECK}={run_id}" if run_id else LABEL_CHECK
    flt = {"label": [f"{LABEL_E2E}=true", label]}
    for c in client.containers.list(all=True, filters=flt):
        with contextlib.suppress(docker.errors.NotFound):
            c.remove(force=True, v=True)
    for v in client.volumes.list(filters=flt):
        with contextlib.suppress(docker.errors.NotFound):
            v.remove(force=True)
    for n in client.networks.list(filters=flt):
        with contextlib.suppress(docker.errors.NotFound):
            n.remove()


def wait_until(fn: Callable[[], bool], timeout: float, what: str, detail=lambda: "") -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if fn():
            return time.monotonic() - t0
        time.sleep(0.5)
    raise CheckFailed(f"timed out after {timeout}s waiting for {what}\n{detail()}")


def logs(c) -> str:
    return c.logs(stdout=True, stderr=True).decode(errors="replace")


# --------------------------------------------------------------------------
# checks


def check_postgres(run: Run) -> None:
    log(f"postgres ({POSTGRES})")
    user, db = "e2e_admin", "e2e_db"
    password = secrets.token_urlsafe(24)
    wrong = secrets.token_urlsafe(24)

    # POSTGRES_PASSWORD is required on an empty data dir
    rc, out = run.oneshot(POSTGRES, None, environment={"POSTGRES_USER": user})
    expect(rc != 0 and "POSTGRES_PASSWORD" in out,
           "refuses to initialise without POSTGRES_PASSWORD", out)

    vol = run.volume("pgdata")
    env = {"POSTGRES_USER": user, "POSTGRES_PASSWORD": password, "POSTGRES_DB": db}
    mounts = {vol.name: {"bind": "/var/lib/postgresql/data", "mode": "rw"}}
    init_sql = "CREATE TABLE init_marker (note text); INSERT INTO init_marker VALUES ('initdb.d ran');\n"
    init_sh = "#!/bin/bash\necho \"init script sees POSTGRES_DB=$POSTGRES_DB\"\n"

    def start_server(what: str, env_: dict) -> object:
        return run.start(POSTGRES, what, alias="postgres", environment=env_, volumes=mounts,
                         files={"/docker-entrypoint-initdb.d": {"10-marker.sql": init_sql,
                                                                 "20-echo.sh": init_sh}})

    def ready(c) -> Callable[[], bool]:
        # TCP readiness: the init-time temporary server listens on the socket only
        return lambda: c.exec_run(["pg_isready", "-h", "127.0.0.1", "-U", user, "-d", db]).exit_code == 0

    def psql(pw: str, sql: str) -> tuple[int, str]:
        return run.oneshot(POSTGRES, ["psql", "-h", "postgres", "-U", user, "-d", db,
                                      "-v", "ON_ERROR_STOP=1", "-tAc", sql],
                           environment={"PGPASSWORD": pw, "PGCONNECT_TIMEOUT": "10"})

    t0 = time.monotonic()
    c = start_server("postgres", env)
    dt = wait_until(ready(c), 120, "postgres ready", lambda: logs(c))
    out = logs(c)
    log(f"  first start (initdb) ready in {dt:.1f}s")
    expect("PostgreSQL init process complete" in out, "initialised the empty data dir", out)
    expect("init script sees POSTGRES_DB=" + db in out, "ran /docker-entrypoint-initdb.d/*.sh", out)

    r = c.exec_run(["sh", "-c", "stat -c %U /proc/1; tr '\\0' ' ' </proc/1/cmdline"])
    out = r.output.decode(errors="replace")
    expect(r.exit_code == 0 and out.split()[:2] == ["postgres", "postgres"],
           "server is PID 1 in the foreground, running as user postgres", out)
    rc, out = run.oneshot(POSTGRES, ["sh", "-c", "command -v psql pg_isready"])
    expect(rc == 0, "psql and pg_isready on PATH", out)

    rc, out = psql(password, "SELECT current_user || '@' || current_database() || ' ' || "
                             "(SELECT note FROM init_marker);")
    expect(rc == 0 and f"{user}@{db} initdb.d ran" in out,
           "password login over the network works; POSTGRES_DB created; initdb.d *.sql ran", out)
    rc, out = psql(wrong, "SELECT 1;")
    expect(rc != 0 and "password authentication failed" in out,
           "wrong password is rejected (scram-sha-256 for host connections)", out)
    rc, out = psql(password, "SHOW password_encryption;")
    expect(rc == 0 and "scram-sha-256" in out, "password_encryption = scram-sha-256", out)
    rc, out = psql(password, "CREATE TABLE persisted (v int); INSERT INTO persisted VALUES (42);")
    expect(rc == 0, "wrote data", out)

    # docker restart: STOPSIGNAL (SIGINT) = fast shutdown, same volume
    t1 = time.monotonic()
    c.restart(timeout=30)
    wait_until(ready(c), 60, "postgres ready after restart", lambda: logs(c))
    log(f"  restart to ready in {time.monotonic() - t1:.1f}s")
    out = logs(c)
    expect("fast shutdown request" in out and out.count("database system is shut down") >= 2,
           "docker stop/restart -> clean fast shutdown", out)
    rc, out = psql(password, "SELECT v FROM persisted;")
    expect(rc == 0 and out.strip().endswith("42"), "data persisted across restart", out)

    # SIGTERM is handled cleanly too (no clients connected: shuts down at once)
    t2 = time.monotonic()
    c.kill(signal="SIGTERM")
    c.wait(timeout=30)
    c.reload()
    out = logs(c)
    expect(c.attrs["State"]["ExitCode"] == 0 and out.rstrip().endswith("database system is shut down"),
           f"SIGTERM -> clean shutdown, exit 0, in {time.monotonic() - t2:.1f}s", out[-2000:])
    c.remove(force=True, v=True)

    # a NEW container on the non-empty volume: no initdb, old password kept
    other = dict(env, POSTGRES_PASSWORD=secrets.token_urlsafe(24))
    c2 = start_server("postgres2", other)
    wait_until(ready(c2), 60, "postgres (second container) ready", lambda: logs(c2))
    out = logs(c2)
    expect("Skipping initialization" in out and "init process complete" not in out
           and "not properly shut down" not in out,
           "non-empty data dir: just starts (no initdb, no initdb.d, no crash recovery)", out)
    rc, out = psql(password, "SELECT v FROM persisted;")
    expect(rc == 0 and out.strip().endswith("42"),
           "data persisted into a new container; original password still valid", out)
    rc, out = psql(wrong, "SELECT 1;")
    expect(rc != 0, "wrong password still rejected", out)
    log(f"  postgres checks took {time.monotonic() - t0:.1f}s")


def check_redis(run: Run) -> None:
    log(f"redis ({REDIS})")
    password = secrets.token_urlsafe(24)
    t0 = time.monotonic()
    c = run.start(REDIS, "redis", alias="redis",
                  command=["sh", "-c", 'exec redis-server --requirepass "$REDIS_PASSWORD" '
                                       '--appendonly yes --save ""'],
                  environment={"REDIS_PASSWORD": password})

    def ping(auth: str | None, host: str | None = None):
        cmd = ["redis-cli"] + (["-h", host] if host else []) + ["ping"]
        env = {"REDISCLI_AUTH": auth} if auth else {}
        r = c.exec_run(cmd, environment=env)
        return r.exit_code, r.output.decode(errors="replace").strip()

    wait_until(lambda: ping(password)[1] == "PONG", 30, "redis PONG", lambda: logs(c))
    log(f"  ready in {time.monotonic() - t0:.1f}s")
    rc, out = ping(password)
    expect(out == "PONG", "REDISCLI_AUTH=... redis-cli ping -> PONG", out)
    rc, out = ping(None)
    expect("PONG" not in out and "NOAUTH" in out,
           f"unauthenticated ping is refused ({out!r}, exit {rc})", out)
    rc, out = ping(secrets.token_urlsafe(24))
    expect("PONG" not in out, "wrong password is refused", out)
    # from another container over the network (DNS alias)
    rc, out = run.oneshot(REDIS, ["sh", "-c", "REDISCLI_AUTH=\"$P\" redis-cli -h redis ping"],
                          environment={"P": password})
    expect(rc == 0 and out.strip() == "PONG", "PONG over the container network", out)
    r = c.exec_run(["sh", "-c", "command -v redis-server redis-cli && pwd && redis-server --version"])
    out = r.output.decode()
    expect(r.exit_code == 0 and "/data" in out, "redis-server, redis-cli on PATH; workdir /data", out)
    rc, out = run.oneshot(REDIS, None, entrypoint=["docker-entrypoint.sh", "sh", "-c", "id -u"])
    expect(rc == 0 and out.strip() == "0", "non-redis-server commands keep the container user (as upstream)", out)


def check_airflow(run: Run) -> None:
    log(f"airflow ({AIRFLOW})")
    t0 = time.monotonic()
    rc, out = run.oneshot(AIRFLOW, ["version"])
    expect(rc == 0 and out.strip().splitlines()[-1] == "3.3.2",
           f"`airflow version` prints 3.3.2 ({time.monotonic() - t0:.1f}s incl. db check)", out)
    script = (
        "set -e; id -u; id -g; echo HOME=$HOME; echo AIRFLOW_HOME=$AIRFLOW_HOME; pwd; "
        "stat -c '%U' $AIRFLOW_HOME; command -v curl pip python airflow; "
        "python -c 'import sys, sysconfig, os; p = sysconfig.get_paths()[\"purelib\"]; "
        "print(sys.version.split()[0], p, os.access(p, os.W_OK))'; "
        "python -c 'import airflow.providers.fab, airflow.providers.celery, "
        "airflow.providers.standard, airflow.providers.postgres, psycopg2, redis; print(\"imports ok\")'"
    )
    rc, out = run.oneshot(AIRFLOW, ["bash", "-c", script],
                          environment={"CONNECTION_CHECK_MAX_COUNT": "0"})
    lines = out.strip().splitlines()
    expect(rc == 0 and lines[:2] == ["50000", "0"], "runs as uid 50000, gid 0", out)
    expect("HOME=/home/airflow" in lines and "AIRFLOW_HOME=/opt/airflow" in lines
           and "/opt/airflow" in lines and "airflow" in lines,
           "HOME, AIRFLOW_HOME, WORKDIR, /opt/airflow owned by airflow", out)
    expect(any(line.startswith("3.11.") and line.endswith(" True") for line in lines),
           "Python 3.11; pip's target site-packages is writable by airflow", out)
    expect("imports ok" in lines and any(line.endswith("/curl") for line in lines),
           "providers fab/celery/standard/postgres, psycopg2, redis, curl present", out)
    rc, out = run.oneshot(AIRFLOW, ["python", "-c", "print('py-ok')"],
                          environment={"CONNECTION_CHECK_MAX_COUNT": "0"})
    expect(rc == 0 and out.strip() == "py-ok", "entrypoint execs `python ...`", out)
    rc, out = run.oneshot(AIRFLOW, ["/bin/echo", "abs-ok"],
                          environment={"CONNECTION_CHECK_MAX_COUNT": "0"})
    expect(rc == 0 and out.strip() == "abs-ok", "entrypoint execs an absolute path", out)


def check_python(run: Run) -> None:
    log(f"python ({PYTHON})")
    version = "import ssl, sys; print(sys.version.split()[0], ssl.OPENSSL_VERSION)"
    rc, out = run.oneshot(PYTHON, ["python", "-c", version])
    expect(rc == 0 and out.startswith("3.11."), f"python -c 'import ssl' ({out.strip()})", out)
    rc, out = run.oneshot(
        PYTHON,
        [
            "sh",
            "-c",
            "pip --version && command -v python python3 pip && "
            "python -c 'import sysconfig; print(sysconfig.get_paths()[\"purelib\"])'",
        ],
    )
    expect(
        rc == 0 and "python 3.11" in out and "/usr/local/lib/python3.11/site-packages" in out,
        "pip --version; pip installs system-wide into /usr/local",
        out,
    )
    rc, out = run.oneshot(
        PYTHON, ["sh", "-c", "test -s /etc/ssl/certs/ca-certificates.crt && command -v useradd apt-get"]
    )
    expect(rc == 0, "system CA bundle, useradd, apt-get present (derived Dockerfiles use them)", out)
    if PIP_PROBE:
        rc, out = run.oneshot(PYTHON, ["sh", "-c", PIP_PROBE], files=_ca_files(), timeout=300)
        expect(
            rc == 0 and "probe-ok" in out,
            "as root, `pip install` (through the machine's CA) lands in /usr/local and imports as another user",
            out,
        )


# A real `pip install` from the package index inside the python base image.
# The package and version come from the repo's constraints.txt (PyYAML).
PIP_PROBE = (
    "set -e; if [ -s /tmp/mlp-ca.crt ]; then export PIP_CERT=/tmp/mlp-ca.crt; fi; "
    "pip install -q --no-cache-dir --disable-pip-version-check --root-user-action=ignore PyYAML==6.0.3; "
    "test -f /usr/local/lib/python3.11/site-packages/yaml/__init__.py; "
    'su nobody -s /bin/sh -c "python -c \'import yaml; print(\\"probe-ok\\", yaml.__version__)\'"'
)


def _ca_files() -> dict[str, dict[str, str]]:
    """The machine's CA bundle, for pip behind a TLS-intercepting proxy."""
    ca = Path(os.environ.get("E2E_BUILD_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt"))
    return {"/tmp": {"mlp-ca.crt": ca.read_text() if ca.is_file() else ""}}


CHECKS = {
    "postgres": check_postgres,
    "redis": check_redis,
    "airflow": check_airflow,
    "python": check_python,
}


def main(argv: list[str] | None = None) -> int:
    names = (argv if argv is not None else sys.argv[1:]) or list(CHECKS)
    unknown = [n for n in names if n not in CHECKS]
    if unknown:
        print(f"unknown check(s): {unknown}; known: {list(CHECKS)}", file=sys.stderr)
        return 2
    failed = []
    t0 = time.monotonic()
    with Run() as run:
        for n in names:
            t = time.monotonic()
            try:
                CHECKS[n](run)
                log(f"PASS {n} ({time.monotonic() - t:.1f}s)")
            except (CheckFailed, docker.errors.DockerException) as e:
                failed.append(n)
                log(f"FAIL {n}: {e}")
    log(
        f"{len(names) - len(failed)}/{len(names)} passed in {time.monotonic() - t0:.1f}s"
        + (f"; failed: {failed}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
