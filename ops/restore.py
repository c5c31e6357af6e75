"""`make restore BACKUP=... STACK=...`: a backup back onto fresh volumes, before the stack is deployed.

The stack's containers must be gone (`make down`), and the volumes it restores must be
new or empty: restore never writes over data. It checks every file against the
manifest, then:
- starts a throwaway PostgreSQL (the stack's own image) on the stack's data volume,
  creates the roles (without passwords) and restores every database with its owner;
- unpacks the file volumes (MLflow's artifacts, Grafana's data) with their owners.

Then `make up` deploys: the bootstrap gives every role the stack's generated
password, the init jobs migrate the schemas if the backup is older, and each
service starts on its restored data.
"""

from __future__ import annotations

import io
import json
import secrets
import tarfile
import time
from pathlib import Path
from typing import Any

from components.database import DATA_DIR, SUPERUSER
from ops.backup import _sha256
from ops.stack import StackHandle

RESTORE_LABEL = "org.mlplatform.restore"
#: What the official image's entrypoint logs once a new data directory is ready and the real server starts.
INIT_DONE = "PostgreSQL init process complete; ready for start up."


class RestoreError(RuntimeError):
    pass


def verify(folder: Path) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads((folder / "manifest.json").read_text())
    for name, expected in manifest["files"].items():
        path = folder / name
        if not path.is_file() or _sha256(path) != expected["sha256"]:
            raise RestoreError(f"{path}: missing or not the file the backup wrote (checksum differs)")
    return manifest


def _require_fresh(handle: StackHandle, manifest: dict[str, Any]) -> None:
    running = [c.name for c in handle.client.containers.list(all=True) if c.name in
               {handle.container_name(s) for s in handle.services()}]
    if running:
        raise RestoreError(f"the stack's containers still exist ({', '.join(sorted(running))}): `make down` first")


def _volume(handle: StackHandle, name: str) -> Any:
    """The volume, created with the stack's labels if it does not exist; it must be empty."""
    from docker.errors import NotFound

    declared = handle.volumes().get(name)
    labels = {e["label"]: e["value"] for e in (declared.inputs.get("labels", []) if declared else [])}
    try:
        volume = handle.client.volumes.get(name)
    except NotFound:
        return handle.client.volumes.create(name, labels={**labels, **handle.extra_volume_labels})
    probe = handle.client.containers.run(handle.image_of("postgres"), ["sh", "-c", "ls -A /data | head -1"],
                                         volumes={name: {"bind": "/data", "mode": "ro"}}, remove=True,
                                         entrypoint=[], user="0")
    if probe.strip():
        raise RestoreError(f"volume {name} is not empty: restore writes only onto fresh volumes")
    return volume


def _tar_of(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o644
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _run_sql_restore(handle: StackHandle, folder: Path, manifest: dict[str, Any], volume: str) -> None:
    password = secrets.token_urlsafe(24)  # only for this throwaway server; the deploy re-asserts the real one
    container = handle.client.containers.create(
        handle.image_of("postgres"), ["postgres", "-c", "listen_addresses="], name=f"{handle.stack}-restore-postgres",
        environment={"POSTGRES_USER": SUPERUSER, "POSTGRES_PASSWORD_FILE": "/restore/password"},
        volumes={volume: {"bind": DATA_DIR, "mode": "rw"}}, labels={RESTORE_LABEL: "true",
                                                                    **handle.extra_volume_labels},
    )
    try:
        files = {"restore/password": password.encode(), "restore/roles.sql": (folder / "roles.sql").read_bytes()}
        files.update({f"restore/{db}.dump": (folder / f"{db}.dump").read_bytes() for db in manifest["databases"]})
        container.put_archive("/", _tar_of(files))
        container.start()
        # On a fresh volume the image initialises it with a temporary server first: wait for the real one.
        deadline = time.monotonic() + 180
        while (INIT_DONE not in container.logs().decode(errors="replace")
               or container.exec_run(["pg_isready", "-q", "-U", SUPERUSER], user="postgres").exit_code != 0):
            if time.monotonic() > deadline:
                raise RestoreError("the throwaway PostgreSQL did not start:\n" + container.logs().decode()[-2000:])
            time.sleep(1)
        # Roles first (the superuser's own line fails harmlessly: it exists), then each database with its owner.
        container.exec_run(["psql", "-X", "-q", "-U", SUPERUSER, "-d", "postgres", "-f", "/restore/roles.sql"],
                           user="postgres")
        for database in sorted(manifest["databases"]):
            result = container.exec_run(["pg_restore", "-U", SUPERUSER, "-d", "postgres", "--create", "--exit-on-error",
                                         f"/restore/{database}.dump"], user="postgres")
            if result.exit_code != 0:
                raise RestoreError(f"pg_restore of {database} failed: {result.output.decode(errors='replace')}")
        container.exec_run(["rm", "-rf", "/restore"], user="0")
    finally:
        container.stop(timeout=60)  # the image's stop signal (SIGINT): a clean fast shutdown
        container.remove()


def _unpack_volume(handle: StackHandle, tar_path: Path, volume: str, path: str) -> None:
    helper = handle.client.containers.create(handle.image_of("postgres"), ["sleep", "600"], entrypoint=[], user="0",
                                             volumes={volume: {"bind": "/restore", "mode": "rw"}},
                                             labels={RESTORE_LABEL: "true", **handle.extra_volume_labels})
    try:
        helper.start()
        if not helper.put_archive("/restore", tar_path.read_bytes()):
            raise RestoreError(f"could not unpack {tar_path.name} into {volume}")
    finally:
        helper.remove(force=True)


def restore(handle: StackHandle, folder: Path) -> dict[str, Any]:
    """Restore ``folder`` onto ``handle``'s (absent or empty) volumes; returns the manifest."""
    manifest = verify(folder)
    if manifest["stack"] != handle.stack:
        raise RestoreError(f"the backup is of stack {manifest['stack']}, not {handle.stack}")
    _require_fresh(handle, manifest)
    pgdata = handle.volume_of("postgres", DATA_DIR)
    if pgdata is None:
        raise RestoreError("the stack declares no PostgreSQL data volume")
    _volume(handle, pgdata)
    for volume in manifest["volumes"]:
        _volume(handle, volume)
    _run_sql_restore(handle, folder, manifest, pgdata)
    for volume, entry in manifest["volumes"].items():
        _unpack_volume(handle, folder / entry["file"], volume, entry["path"])
    return manifest

