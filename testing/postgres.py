"""A throwaway PostgreSQL server on 127.0.0.1 for tests that need real SQL.

Uses Debian's PostgreSQL binaries (``.ci/run`` installs them). The cluster
lives in a temp dir, runs as the unprivileged ``postgres`` user (the server
refuses root), listens on a free loopback port and is removed afterwards.
"""

from __future__ import annotations

import os
import pwd
import secrets
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Iterator

import pytest
from testing.net import free_port


def _pg_bin() -> Path:
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "initdb").exists():
            return candidate
    raise RuntimeError("PostgreSQL server binaries not found: apt-get install postgresql (see .ci/run)")


@dataclass
class PostgresServer:
    """A running server: superuser ``postgres`` with a generated password."""

    host: str
    port: int
    superuser: str
    password: str
    bin_dir: Path

    def psql(self, *args: str, user: str | None = None, password: str | None = None,
             database: str = "postgres", env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
        """Run psql over TCP (password auth) and return the completed process."""
        full_env = {**os.environ, **(env or {}), "PGPASSWORD": password or self.password}
        return subprocess.run(
            [str(self.bin_dir / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", self.host, "-p", str(self.port),
             "-U", user or self.superuser, "-d", database, *args],
            env=full_env, capture_output=True, text=True, check=check,
        )


def _as_postgres(cmd: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["runuser", "-u", "postgres", "--", *cmd], check=True, capture_output=True, text=True, **kwargs
    )


def start_postgres() -> Iterator[PostgresServer]:
    """Start a fresh cluster; yields the server, then stops and deletes it."""
    bin_dir = _pg_bin()
    pwd.getpwnam("postgres")  # the Debian package creates this user
    root = Path(tempfile.mkdtemp(prefix="mlplatform-pg-"))
    shutil.chown(root, "postgres", "postgres")
    data = root / "data"
    password = secrets.token_urlsafe(24)
    pwfile = root / "pw"
    pwfile.write_text(password + "\n")
    shutil.chown(pwfile, "postgres", "postgres")
    port = free_port()
    _as_postgres(
        [
            str(bin_dir / "initdb"),
            "-D",
            str(data),
            "-U",
            "postgres",
            "--pwfile",
            str(pwfile),
            "--auth-host=scram-sha-256",
            "--auth-local=peer",
        ]
    )
    _as_postgres(
        [
            str(bin_dir / "pg_ctl"),
            "-D",
            str(data),
            "-l",
            str(root / "log"),
            "-w",
            "-o",
            f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={root}",
            "start",
        ]
    )
    try:
        server = PostgresServer("127.0.0.1", port, "postgres", password, bin_dir)
        deadline = time.time() + 30
        while server.psql("-c", "SELECT 1", check=False).returncode != 0:
            if time.time() > deadline:
                raise RuntimeError((root / "log").read_text())
            time.sleep(0.3)
        yield server
    finally:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop"],
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def postgres_server() -> Iterator[PostgresServer]:
    """A fresh PostgreSQL server per test."""
    yield from start_postgres()


def run_bootstrap(
    server: PostgresServer,
    workdir: Path,
    sql_for_dir,
    passwords: dict[str, str],
    check: bool = True,
    superuser_password: str | None = None,
) -> subprocess.CompletedProcess:
    """Write each role's password file as the container gets it, then run the bootstrap SQL.

    ``sql_for_dir(secrets_dir)`` renders the script for that secrets folder. The superuser's
    file holds the server's password unless ``superuser_password`` asks for a new one, which
    then becomes the server's (the bootstrap re-asserts it).
    """
    from components.database import SUPERUSER_PASSWORD_FILE, password_file

    secrets_dir = workdir / "secrets"
    secrets_dir.mkdir(exist_ok=True)
    for stale in secrets_dir.iterdir():
        stale.unlink()
    for role, password in passwords.items():
        (secrets_dir / password_file(role)).write_text(password)
    (secrets_dir / SUPERUSER_PASSWORD_FILE).write_text(superuser_password or server.password)
    script = workdir / "bootstrap.sql"
    script.write_text(sql_for_dir(str(secrets_dir)))
    result = server.psql("-f", str(script), check=check)
    if superuser_password and result.returncode == 0:
        server.password = superuser_password
    return result
