"""`make backup STACK=...`: everything a stack needs to come back, in one dated folder.

- ``roles.sql``: every role and its attributes, without passwords (a deploy re-asserts
  the generated ones, so no password hash leaves the server);
- ``<database>.dump``: ``pg_dump -Fc`` of every service database (each dump is one
  consistent snapshot; MLflow and the object store are paused while its database and artifacts are taken,
  so no run points at an artifact the copy lacks);
- ``volume-<name>.tar``: the data volumes that hold files (MLflow's artifacts on a volume or in the object
  store, Grafana's data);
- ``manifest.json``: the stack, images and package versions, each file's size and
  sha256, and row counts of the key tables, to compare after a restore;
- with ``--include-secrets``, ``secrets.enc``: the stack's credentials, encrypted with
  a key derived (scrypt) from a passphrase file; never in plain text.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import docker.errors

from components.object_store import DATA_DIR as OBJECT_STORE_DATA_DIR
from components.object_store import ObjectStore
from ops.stack import StackHandle

#: What the manifest counts, per database (only the tables that exist are counted).
KEY_TABLES = {
    "mlflow": ("experiments", "runs", "metrics", "registered_models", "model_versions", "registered_model_aliases"),
    "airflow": ("dag_run", "task_instance", "connection", "variable", "ab_user"),
}
#: The data volumes copied as files: (service, mount path in its container).
FILE_VOLUMES = (
    ("mlflow", "/mlartifacts"),
    (ObjectStore.DEFAULT_NAME, OBJECT_STORE_DATA_DIR),
    ("grafana", "/var/lib/grafana"),
)
#: Held still together while MLflow's database and artifacts are taken: no run points at an artifact the copy lacks.
ARTIFACT_WRITERS = ("mlflow", ObjectStore.DEFAULT_NAME)
SCRYPT = {"n": 2**15, "r": 8, "p": 1}


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _exec_to_file(container: Any, command: list[str], target: Path, user: str = "postgres") -> None:
    """Stream a command's stdout into ``target``; a non-zero exit fails the backup."""
    api = container.client.api
    exec_id = api.exec_create(container.id, command, user=user, stdout=True, stderr=False)["Id"]
    with target.open("wb") as handle:
        for chunk in api.exec_start(exec_id, stream=True):
            handle.write(chunk)
    code = api.exec_inspect(exec_id)["ExitCode"]
    if code != 0:
        raise RuntimeError(f"`{' '.join(command)}` in {container.name} exited with {code}")


@contextmanager
def paused(handle: StackHandle, *services: str) -> Iterator[None]:
    """Hold services still (no writes) for the duration; they carry on where they were afterwards.

    A paused object store's volume is what a power cut would leave: Garage's metadata database recovers from that.
    """
    with ExitStack() as held:
        for service in services:
            container = handle.container(service) if handle.has(service) else None
            if container is not None and container.status == "running":
                container.pause()
                held.callback(container.unpause)
        yield


def row_counts(handle: StackHandle) -> dict[str, dict[str, int]]:
    counts: dict[str, dict[str, int]] = {}
    databases = handle.databases()
    for database, tables in KEY_TABLES.items():
        if database not in databases:
            continue
        present = set(handle.psql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'", database).split())
        counts[database] = {t: int(handle.psql(f"SELECT count(*) FROM {t}", database)) for t in tables if t in present}
    return counts


def encrypt(data: bytes, passphrase: bytes) -> tuple[bytes, str]:
    """(token, salt): Fernet with a key derived from the passphrase by scrypt."""
    from cryptography.fernet import Fernet
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    salt = os.urandom(16)
    key = Scrypt(salt=salt, length=32, **SCRYPT).derive(passphrase)
    return Fernet(base64.urlsafe_b64encode(key)).encrypt(data), base64.b64encode(salt).decode()


def decrypt(token: bytes, salt: str, passphrase: bytes) -> bytes:
    from cryptography.fernet import Fernet
    from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

    key = Scrypt(salt=base64.b64decode(salt), length=32, **SCRYPT).derive(passphrase)
    return Fernet(base64.urlsafe_b64encode(key)).decrypt(token)


def backup(handle: StackHandle, root: Path, passphrase_file: Path | None = None) -> Path:
    """Write a backup of ``handle``'s stack under ``root``; returns its folder."""
    started = time.monotonic()
    folder = root / f"{handle.stack}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}"
    folder.mkdir(parents=True)
    folder.chmod(0o700)
    postgres = handle.container("postgres")
    _exec_to_file(postgres, ["pg_dumpall", "-U", "postgres", "--roles-only", "--no-role-passwords"],
                  folder / "roles.sql")
    databases = handle.databases()
    for database in sorted(databases):
        if database.startswith("mlflow"):
            continue  # taken with MLflow's artifacts, below
        _exec_to_file(postgres, ["pg_dump", "-U", "postgres", "-Fc", database], folder / f"{database}.dump")
    with paused(handle, *ARTIFACT_WRITERS):
        for database in sorted(d for d in databases if d.startswith("mlflow")):
            _exec_to_file(postgres, ["pg_dump", "-U", "postgres", "-Fc", database], folder / f"{database}.dump")
        volumes, skipped = {}, {}
        for service, path in FILE_VOLUMES:
            volume = handle.volume_of(service, path) if handle.has(service) else None
            if volume is None:
                continue  # the stack does not run this service
            try:
                container = handle.container(service)  # running or stopped: its files can be read
            except docker.errors.NotFound:
                skipped[volume] = f"no {service} container to read it through"
                continue
            target = folder / f"volume-{volume}.tar"
            stream, _ = container.get_archive(path.rstrip("/") + "/.")
            with target.open("wb") as out:
                for chunk in stream:
                    out.write(chunk)
            volumes[volume] = {"service": service, "path": path, "file": target.name}
    manifest: dict[str, Any] = {
        "stack": handle.stack,
        "created_at": datetime.now(UTC).isoformat(),
        "databases": databases,
        "volumes": volumes,
        "skipped_volumes": skipped,
        "images": {service: {"ref": handle.image_of(service), "id": handle.container(service).image.id}
                   for service in handle.services() if _running(handle, service)},
        "versions": _versions(handle),
        "row_counts": row_counts(handle),
    }
    if passphrase_file is not None:
        token, salt = encrypt(json.dumps(handle.credentials).encode(), passphrase_file.read_bytes().strip())
        (folder / "secrets.enc").write_bytes(token)
        manifest["secrets"] = {"file": "secrets.enc", "kdf": "scrypt", "salt": salt, **SCRYPT}
    manifest["files"] = {p.name: {"bytes": p.stat().st_size, "sha256": _sha256(p)}
                         for p in sorted(folder.iterdir()) if p.name != "manifest.json"}
    manifest["seconds"] = round(time.monotonic() - started, 1)
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
    for written in folder.iterdir():
        written.chmod(0o600)
    return folder


def _running(handle: StackHandle, service: str) -> bool:
    try:
        return bool(handle.container(service).status == "running")
    except Exception:
        return False


def _versions(handle: StackHandle) -> dict[str, str]:
    """The versions that decide whether a backup restores as is: PostgreSQL's, and MLflow's and Airflow's schemas."""
    versions = {"postgresql": handle.psql("SHOW server_version")}
    for database, table, column in (("mlflow", "alembic_version", "version_num"),
                                    ("airflow", "alembic_version", "version_num")):
        if database in handle.databases():
            versions[f"{database}_schema"] = handle.psql(f"SELECT {column} FROM {table}", database)
    return versions
