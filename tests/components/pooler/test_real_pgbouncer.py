"""The generated PgBouncer config, run by Debian's real pgbouncer in front of a real PostgreSQL.

Proves what the mocks cannot: SCRAM logins with the generated auth file, Airflow's drivers
through transaction pooling (psycopg2, and psycopg's async driver without prepared
statements), the health check's command, and a clean SIGINT shutdown.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
import psycopg2
import pytest

from components.database import Consumer, ReadOnlyAccess, bootstrap_sql
from components.pooler import PASSFILE, USERLIST_FILE
from testing.net import free_port
from testing.postgres import run_bootstrap
from testing.program import shipped

PGBOUNCER = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"


@pytest.fixture
def pooler(postgres_server, tmp_path):
    """pgbouncer with the prod stack's generated ini and auth file, pointed at the test server on loopback."""
    declared = shipped("prod").container("pgbouncer")
    password = shipped("prod").container("postgres").upload_content("/run/secrets/db-airflow-password")
    run_bootstrap(postgres_server, tmp_path, lambda d: bootstrap_sql(
        [Consumer("airflow", ("airflow",))], ReadOnlyAccess("reader", "airflow", "airflow"), d),
        {"airflow": password, "reader": "reader-password-123"})
    port = free_port()
    # pgbouncer refuses root, so it runs as postgres: its folder must be one postgres can reach (not under
    # pytest's root-only tmp folder).
    folder = Path(tempfile.mkdtemp(prefix="mlplatform-pgbouncer-"))
    ini = declared.upload_content("/etc/pgbouncer/pgbouncer.ini")
    ini = (ini.replace("listen_addr = 0.0.0.0", "listen_addr = 127.0.0.1")
              .replace("listen_port = 6432", f"listen_port = {port}")
              .replace("host=postgres port=5432", f"host=127.0.0.1 port={postgres_server.port}")
              .replace(f"/run/secrets/{USERLIST_FILE}", str(folder / USERLIST_FILE)))
    (folder / "pgbouncer.ini").write_text(ini)
    (folder / USERLIST_FILE).write_text(declared.upload_content(f"/run/secrets/{USERLIST_FILE}"))
    (folder / PASSFILE).write_text(declared.upload_content(f"/run/secrets/{PASSFILE}").replace(":6432:", f":{port}:"))
    for path in [folder, *folder.iterdir()]:
        shutil.chown(path, "postgres", "postgres")
        path.chmod(0o700 if path.is_dir() else 0o400)
    process = subprocess.Popen([PGBOUNCER, "-u", "postgres", str(folder / "pgbouncer.ini")],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 15
    while socket.socket().connect_ex(("127.0.0.1", port)) != 0:
        assert process.poll() is None and time.monotonic() < deadline, process.stdout.read() if process.stdout else ""
        time.sleep(0.1)
    yield {"port": port, "password": password, "process": process, "folder": folder, "check": declared}
    if process.poll() is None:
        process.kill()
        process.wait()
    shutil.rmtree(folder, ignore_errors=True)


def _dsn(pooler, password: str | None = None) -> str:
    return (f"host=127.0.0.1 port={pooler['port']} dbname=airflow user=airflow "
            f"password={password or pooler['password']} connect_timeout=5")


def test_a_role_logs_in_through_the_pooler_with_its_generated_password(pooler):
    with psycopg2.connect(_dsn(pooler)) as conn, conn.cursor() as cursor:
        cursor.execute("SELECT current_user")
        assert cursor.fetchone() == ("airflow",)


def test_a_wrong_password_is_refused_by_the_pooler(pooler):
    with pytest.raises(psycopg2.OperationalError, match="authentication failed"):
        psycopg2.connect(_dsn(pooler, "not-the-password"))


def test_psycopg2_survives_transaction_pooling(pooler):
    with psycopg2.connect(_dsn(pooler)) as conn, conn.cursor() as cursor:
        for value in range(200):
            cursor.execute("SELECT %s::int + 1", (value,))
            assert cursor.fetchone() == (value + 1,)
            conn.commit()


def test_the_async_driver_without_prepared_statements_survives_transaction_pooling(pooler):
    async def worker(offset: int) -> int:
        errors = 0
        async with await psycopg.AsyncConnection.connect(_dsn(pooler), prepare_threshold=None, autocommit=True) as conn:
            for value in range(60):
                try:
                    cursor = await conn.execute("SELECT %s::int * 2", (offset + value,))
                    assert await cursor.fetchone() == ((offset + value) * 2,)
                except psycopg.Error:
                    errors += 1
        return errors

    async def main() -> list[int]:
        return await asyncio.gather(*(worker(1000 * n) for n in range(6)))

    # A loop of its own: asyncio.run would leave the thread without the loop Pulumi's mocks use.
    loop = asyncio.new_event_loop()
    try:
        assert loop.run_until_complete(main()) == [0] * 6
    finally:
        loop.close()


def test_the_health_check_command_passes_against_the_running_pooler(pooler):
    check = pooler["check"].inputs["healthcheck"]["tests"][1]
    check = check.replace("port=6432", f"port={pooler['port']}").replace(
        f"/run/secrets/{PASSFILE}", str(pooler["folder"] / PASSFILE))
    result = subprocess.run(["runuser", "-u", "postgres", "--", "sh", "-c", check], capture_output=True, text=True,
                            env={**os.environ, "PATH": f"{Path(PGBOUNCER).parent}:/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr


def test_sigint_shuts_the_pooler_down_cleanly(pooler):
    pooler["process"].send_signal(signal.SIGINT)
    assert pooler["process"].wait(timeout=15) == 0
