"""Day-2 drills on the real engine, with the same code `make backup/restore/rotate/doctor` runs (ops/).

- dev: an MLflow database made by the previous MLflow release is migrated by a deploy;
  the doctor gives the healthy stack a clean bill, then names each injected fault and its fix;
- prod: back up, remove containers and volumes, restore, deploy: everything is as before;
  rotate every generated secret: old passwords refused, new ones work, encrypted values readable.
"""

from __future__ import annotations

import contextlib
import io
import json
import secrets
import socket
import tarfile
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg2
import pytest
import requests

from components.airflow_cluster import secret_option_file
from components.images import content_tag
from components.mlflow_server import BACKEND_URI_FILE, INIT_SCRIPT_PATH
from components.service import secret_path
from e2e.realise import BUILD_DIR, declare, stack_state
from ops import backup, doctor, restore, rotate
from testing.labels import E2E_LABEL
from testing.program import REPO_ROOT
from testing.realiser import labelled, teardown
from tests.e2e.conftest import FIGURES, Stack, wait_until

pytestmark = pytest.mark.drill
TRAINING_DAG = "train_anomaly_model"
MODEL = "anomaly-detector"
PREVIOUS_MLFLOW_LOCK = "e2e/mlflow-previous/constraints.txt"


# -- helpers ------------------------------------------------------------------------------------------
def _tar(name: str, data: bytes, uid: int = 0, mode: int = 0o400) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        info = tarfile.TarInfo(name)
        info.size, info.mode, info.uid, info.gid = len(data), mode, uid, uid
        tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _read_file(container: Any, path: str) -> bytes:
    """A file's bytes out of a container (as a tar, never through a command line)."""
    stream, _ = container.get_archive(path)
    with tarfile.open(fileobj=io.BytesIO(b"".join(stream))) as tar:
        member = tar.getmembers()[0]
        extracted = tar.extractfile(member)
        assert extracted is not None
        return extracted.read()


def _wait_healthy(stack: Stack, service: str, timeout_s: float = 300) -> None:
    def healthy() -> bool:
        state = stack.client.api.inspect_container(stack.container(service).id)["State"]
        return state.get("Health", {}).get("Status", "healthy" if state["Running"] else "") == "healthy"

    wait_until(healthy, timeout_s, 2, f"{service} healthy")


def _logins(stack: Stack) -> dict[str, bool]:
    """Does every generated login of the stack work? (Services this engine cannot run are left out.)"""
    credentials = stack.credentials
    result: dict[str, bool] = {"airflow": stack.airflow_token().status_code in (200, 201)}
    url = stack.endpoints["mlflow"]["url"] + "/api/2.0/mlflow/experiments/search"
    for login in ("mlflow", "mlflow_pipelines"):
        if login in credentials:
            user = credentials[login]
            result[login] = requests.get(url, params={"max_results": 1}, timeout=10,
                                         auth=(user["username"], user["password"])).status_code == 200
    for login, database in (("dashboards_reader", "mlflow"), ("warehouse", "warehouse"), ("postgres", "postgres")):
        result[login] = _connects(stack, credentials[login]["username"], credentials[login]["password"], database)
    return result


def _connects(stack: Stack, user: str, password: str, database: str) -> bool:
    try:
        psycopg2.connect(host=stack.container_address("postgres"), port=5432, dbname=database, user=user,
                         password=password, connect_timeout=10).close()
    except psycopg2.OperationalError:
        return False
    return True


def _platform_data(stack: Stack) -> dict[str, Any]:
    client = stack.mlflow()
    experiments = client.search_experiments()
    runs = sum(len(client.search_runs([e.experiment_id], max_results=1000)) for e in experiments)
    versions = client.search_model_versions(f"name='{MODEL}'")
    champion = client.get_model_version_by_alias(MODEL, "champion")
    return {
        "runs": runs,
        "model_versions": len(versions),
        "champion": champion.version,
        # Through MLflow's artifact proxy: the files on its volume or the objects in the store.
        "champion_files": _champion_files(stack),
        "dag_runs": stack.airflow("GET", "/dags/~/dagRuns", params={"limit": 1}).json()["total_entries"],
    }


def _champion_files(stack: Stack) -> list[str]:
    """The champion model's files, downloaded the way a client does (MLflow's artifact proxy)."""
    import mlflow.artifacts

    stack.mlflow()  # the login, when auth is on
    with tempfile.TemporaryDirectory() as target:
        root = Path(mlflow.artifacts.download_artifacts(artifact_uri=f"models:/{MODEL}@champion", dst_path=target,
                                                        tracking_uri=stack.endpoints["mlflow"]["url"]))
        return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def _set_variable(stack: Stack, key: str, value: str) -> None:
    response = stack.airflow("POST", "/variables", json={"key": key, "value": value})
    assert response.status_code in (200, 201), response.text


def _variable(stack: Stack, key: str) -> str | None:
    response = stack.airflow("GET", f"/variables/{key}")
    return response.json()["value"] if response.status_code == 200 else None


def _remove_stack_keeping_state(stack: Stack) -> None:
    """Containers, network and volumes gone; the stack's state (its generated secrets) kept."""
    teardown(stack.client, stack.name)
    wait_until(lambda: not any(labelled(stack.client, stack.name).values()), 60, 1, "stack gone")


# -- upgrades -------------------------------------------------------------------------------------------
def _previous_mlflow_image(stack: Stack) -> str:
    """The MLflow image at the previous release: the stack's own Dockerfile with the previous lock."""
    images = stack.run.of_type("RemoteImage")
    declared = next(r for r in images if str(r.inputs["name"]).startswith("mlplatform/mlflow"))
    build = declared.inputs["build"]
    args = {**build["buildArgs"], "CONSTRAINTS": PREVIOUS_MLFLOW_LOCK}
    ref = "mlplatform-e2e/mlflow-previous:" + content_tag(
        [REPO_ROOT / "images/mlflow", REPO_ROOT / PREVIOUS_MLFLOW_LOCK, REPO_ROOT / "images/ca"], args)
    with contextlib.suppress(Exception):
        stack.client.images.get(ref)
        return ref
    started = time.monotonic()
    for chunk in stack.client.api.build(path=str(REPO_ROOT), dockerfile=build["dockerfile"], tag=ref, buildargs=args,
                                        labels={E2E_LABEL: "true"}, rm=True, forcerm=True, decode=True):
        assert "error" not in chunk, chunk["error"]
    stack.figures["mlflow_previous_image_build_s"] = round(time.monotonic() - started, 1)
    return ref


SEED_WITH_THE_PREVIOUS_RELEASE = """
import json
import mlflow
import sqlalchemy
from mlflow import MlflowClient
from mlflow.store.db.utils import _get_schema_version

uri = open("/tmp/drill/uri").read().strip()
mlflow.set_tracking_uri(uri)
mlflow.set_registry_uri(uri)
experiment = mlflow.create_experiment("upgrade-drill", artifact_location="mlflow-artifacts:/upgrade-drill")
with mlflow.start_run(experiment_id=experiment, run_name="logged-by-the-previous-release") as run:
    mlflow.log_param("release", mlflow.__version__)
    mlflow.log_metric("score", 0.75)
client = MlflowClient(uri, uri)
client.create_registered_model("upgrade-drill-model")
version = client.create_model_version("upgrade-drill-model", f"runs:/{run.info.run_id}/model", run_id=run.info.run_id)
client.set_registered_model_alias("upgrade-drill-model", "champion", version.version)
print(json.dumps({"run_id": run.info.run_id, "version": version.version, "release": mlflow.__version__,
                  "schema": _get_schema_version(sqlalchemy.create_engine(uri))}))
"""


@pytest.mark.shapes("dev")
def test_a_tracking_database_made_by_the_previous_mlflow_release_is_migrated_by_a_deploy(stack: Stack):
    image = _previous_mlflow_image(stack)
    handle = stack.handle()
    mlflow = stack.container("mlflow")
    uri = _read_file(mlflow, secret_path(BACKEND_URI_FILE))
    head_before = handle.psql("SELECT version_num FROM alembic_version", "mlflow")
    # The tracking database as the previous release leaves it: dropped, re-made by PostgreSQL's
    # bootstrap (owner and grants, as on every start), then filled by the previous MLflow.
    mlflow.remove(force=True)
    handle.psql("DROP DATABASE mlflow WITH (FORCE)")
    stack.container("postgres").restart(timeout=60)
    _wait_healthy(stack, "postgres")
    seeder = stack.client.containers.create(image, ["python", "-c", SEED_WITH_THE_PREVIOUS_RELEASE],
                                            network=f"mlplatform-{stack.name}", labels={E2E_LABEL: "true"})
    try:
        seeder.put_archive("/tmp", _tar("drill/uri", uri, uid=1000))
        seeder.start()
        assert seeder.wait(timeout=600)["StatusCode"] == 0, seeder.logs().decode()[-3000:]
        seeded = json.loads(seeder.logs(stderr=False).decode().strip().splitlines()[-1])
    finally:
        seeder.remove(force=True)
    assert seeded["release"] == "3.16.1" and seeded["schema"] != head_before

    stack.redeploy(refresh=True)  # the mlflow-init job migrates, then the server starts

    assert handle.psql("SELECT version_num FROM alembic_version", "mlflow") == head_before
    check = stack.container("mlflow").exec_run(["python", INIT_SCRIPT_PATH, "check", "--uri-file",
                                                secret_path(BACKEND_URI_FILE)])
    assert check.exit_code == 0, check.output.decode()
    client = stack.mlflow()
    run = client.get_run(seeded["run_id"])
    assert run.data.params["release"] == "3.16.1" and run.data.metrics["score"] == 0.75
    champion = client.get_model_version_by_alias("upgrade-drill-model", "champion")
    assert str(champion.version) == str(seeded["version"]) and champion.run_id == seeded["run_id"]
    state, _, _ = stack.trigger_and_wait(TRAINING_DAG)
    assert state == "success"
    stack.figures["mlflow_schema_upgrade_ok"] = True
    stack.figures["mlflow_schema_upgrade"] = {"from_release": seeded["release"], "from_schema": seeded["schema"],
                                              "to_schema": head_before}


# -- the doctor ----------------------------------------------------------------------------------------
@contextlib.contextmanager
def _file_replaced(container: Any, path: str, data: bytes) -> Iterator[None]:
    original = container.get_archive(path)[0]
    original_tar = b"".join(original)
    directory, name = path.rsplit("/", 1)
    container.put_archive(directory, _tar(name, data))
    try:
        yield
    finally:
        container.put_archive(directory, original_tar)


@contextlib.contextmanager
def _paused_dag(stack: Stack, dag_id: str) -> Iterator[None]:
    stack.airflow("PATCH", f"/dags/{dag_id}", json={"is_paused": True}).raise_for_status()
    try:
        yield
    finally:
        stack.airflow("PATCH", f"/dags/{dag_id}", json={"is_paused": False}).raise_for_status()


@contextlib.contextmanager
def _broken_dag_file(stack: Stack) -> Iterator[str]:
    path = REPO_ROOT / "dags" / "doctor_drill_broken_dag.py"
    # Both words in the file, or Airflow's safe mode (dag_discovery_safe_mode) never opens it.
    path.write_text("from airflow.sdk import dag  # noqa: F401\nraise RuntimeError('a DAG file that cannot import')\n")
    try:
        wait_until(lambda: any(e["filename"].endswith(path.name) for e in
                               stack.airflow("GET", "/importErrors").json()["import_errors"]),
                   240, 3, "the broken DAG file's import error")
        yield path.name
    finally:
        path.unlink()


@contextlib.contextmanager
def _schema_behind(handle: Any) -> Iterator[None]:
    head = handle.psql("SELECT version_num FROM alembic_version", "mlflow")
    handle.psql("UPDATE alembic_version SET version_num = '0584bdc529eb'", "mlflow")
    try:
        yield
    finally:
        handle.psql(f"UPDATE alembic_version SET version_num = '{head}'", "mlflow")


@contextlib.contextmanager
def _stopped(stack: Stack, service: str) -> Iterator[None]:
    stack.container(service).stop(timeout=60)
    try:
        yield
    finally:
        stack.container(service).start()
        _wait_healthy(stack, service)


@contextlib.contextmanager
def _port_held(url: str) -> Iterator[None]:
    host, port = url.split("//", 1)[1].rsplit(":", 1)
    with socket.socket() as holder:
        holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        holder.bind((host, int(port)))
        holder.listen()
        yield


def _reported(findings: list[doctor.Finding], check: str, subject: str) -> bool:
    return any(f.check == check and subject in f.subject and f.fix for f in findings)


@pytest.mark.shapes("dev")
def test_the_doctor_clears_a_healthy_stack_and_names_each_injected_fault_with_its_fix(stack: Stack):
    handle = stack.handle()
    healthy = doctor.diagnose(handle)
    assert healthy == [], doctor.report(handle, healthy)
    figures: dict[str, Any] = {"healthy_stack_ok": True}

    # A config that allows a host name the running MLflow was deployed without (a deploy not yet made).
    host = "mlflow.doctor-drill.internal"
    mlflow_section = {**stack.overrides.get("mlflow", {})}
    mlflow_section["extra_allowed_hosts"] = [*mlflow_section.get("extra_allowed_hosts", []), host]
    edited = stack.handle(declare(stack.shape, stack_state(stack.shape), **{**stack.overrides,
                                                                             "mlflow": mlflow_section}))
    dag_processor = stack.container("airflow-dag-processor")
    api_key_file = secret_path(secret_option_file("AIRFLOW__API__SECRET_KEY"))
    expected = {("containers", "airflow-triggerer"), ("airflow-secrets", "airflow-dag-processor"),
                ("mlflow-schema", "mlflow"), ("mlflow-hosts", host), ("dag-paused", "mlflow_smoke"),
                ("dag-import", "doctor_drill_broken_dag.py")}
    with contextlib.ExitStack() as faults:
        faults.enter_context(_stopped(stack, "airflow-triggerer"))
        faults.enter_context(_file_replaced(dag_processor, api_key_file, secrets.token_hex(32).encode()))
        faults.enter_context(_schema_behind(handle))
        faults.enter_context(_paused_dag(stack, "mlflow_smoke"))
        faults.enter_context(_broken_dag_file(stack))
        findings = doctor.diagnose(edited)
    report = doctor.report(edited, findings)
    print(report)
    reported = {fault for fault in expected if _reported(findings, *fault)}
    assert reported == expected, report
    assert {f.check for f in findings} <= {check for check, _ in expected}, report

    # A host port taken while its service is down: the next deploy would fail on it.
    port = (handle.endpoints["mlflow"]["url"]).rsplit(":", 1)[1]
    with _stopped(stack, "mlflow"), _port_held(handle.endpoints["mlflow"]["url"]):
        taken = doctor.diagnose(handle)
    print(doctor.report(handle, taken))
    assert _reported(taken, "ports", f":{port}") and _reported(taken, "containers", "mlflow")
    figures["faults_injected"] = len(expected) + 1
    figures["faults_reported"] = len(reported) + _reported(taken, "ports", f":{port}")
    figures["checks"] = sorted(doctor.CHECKS)
    # Every fault undone: the clean bill comes back (once the DAG processor has forgotten the removed file).
    wait_until(lambda: doctor.diagnose(handle) == [], 240, 5, "a clean bill after the faults are undone")
    figures["clean_after_repair"] = True
    stack.figures["doctor"] = figures


# -- backup and restore --------------------------------------------------------------------------------
@pytest.mark.shapes("prod")
def test_a_backup_restored_onto_fresh_volumes_brings_back_runs_models_dag_runs_and_logins(stack: Stack, tmp_path):
    _set_variable(stack, "drill_backup_value", "kept-by-the-backup")
    before, logins_before = _platform_data(stack), _logins(stack)
    assert all(logins_before.values()), logins_before
    assert "MLmodel" in before["champion_files"], before
    passphrase = tmp_path / "passphrase"
    passphrase.write_text(secrets.token_urlsafe(24))
    handle = stack.handle()
    started = time.monotonic()
    folder = backup.backup(handle, BUILD_DIR / "backups", passphrase)
    backup_s = time.monotonic() - started
    manifest = json.loads((folder / "manifest.json").read_text())
    assert {"mlflow.dump", "airflow.dump", "roles.sql", "secrets.enc"} <= set(manifest["files"])
    assert manifest["row_counts"]["mlflow"]["runs"] == before["runs"]
    everything = b"".join(p.read_bytes() for p in folder.iterdir())
    assert not [k for k, v in stack.credentials.items() if v.get("password") and v["password"].encode() in everything]
    assert json.loads(backup.decrypt((folder / "secrets.enc").read_bytes(), manifest["secrets"]["salt"],
                                     passphrase.read_bytes().strip())) == stack.credentials

    _remove_stack_keeping_state(stack)
    with pytest.raises(restore.RestoreError, match="not the file"):
        damaged = BUILD_DIR / "backups" / "damaged"
        damaged.mkdir(exist_ok=True)
        for path in folder.iterdir():
            (damaged / path.name).write_bytes(path.read_bytes())
        (damaged / "roles.sql").write_text("-- changed\n")
        restore.restore(handle, damaged)
    started = time.monotonic()
    restore.restore(handle, folder)
    restore_s = time.monotonic() - started
    stack.redeploy(refresh=True)

    after, logins_after = _platform_data(stack), _logins(stack)
    assert after == before and logins_after == logins_before
    assert _variable(stack, "drill_backup_value") == "kept-by-the-backup"
    with pytest.raises(restore.RestoreError, match="containers still exist"):
        restore.restore(handle, folder)
    stack.figures["backup_restore"] = {
        "ok": True, "backup_s": round(backup_s, 1), "restore_s": round(restore_s, 1),
        "bytes": sum(entry["bytes"] for entry in manifest["files"].values()),
        "runs_before": before["runs"], "runs_after": after["runs"],
        "model_versions_before": before["model_versions"], "model_versions_after": after["model_versions"],
        "dag_runs_before": before["dag_runs"], "dag_runs_after": after["dag_runs"],
        "champion_same": after["champion"] == before["champion"], "logins_same": logins_after == logins_before,
    }
    FIGURES["both"]["backup_restore"] = stack.figures["backup_restore"]


# -- rotation ------------------------------------------------------------------------------------------
@pytest.mark.shapes("prod")
def test_rotating_every_secret_refuses_the_old_passwords_and_keeps_encrypted_values_readable(stack: Stack):
    value = secrets.token_hex(16)
    _set_variable(stack, "drill_rotation_value", value)
    cipher_before = stack.handle().psql("SELECT val FROM variable WHERE key = 'drill_rotation_value'", "airflow")
    old = {k: dict(v) for k, v in stack.credentials.items()}
    started = time.monotonic()
    final = rotate.rotate(stack.handle().config, stack.name, rotate.KINDS,
                          lambda rotation: stack.redeploy(rotation=rotation))
    seconds = time.monotonic() - started
    assert "fernet_previous" not in final
    new = stack.credentials
    assert all(new[k][field] != old[k][field] for k in old for field in old[k] if field != "username"), \
        "every generated login and key is new"
    assert all(_logins(stack).values())
    refused = {
        "airflow": stack.airflow_token(password=old["airflow"]["password"]).status_code == 401,
        "postgres": not _connects(stack, "postgres", old["postgres"]["password"], "postgres"),
        "dashboards_reader": not _connects(stack, old["dashboards_reader"]["username"],
                                           old["dashboards_reader"]["password"], "mlflow"),
    }
    url = stack.endpoints["mlflow"]["url"] + "/api/2.0/mlflow/experiments/search"
    for login in ("mlflow", "mlflow_pipelines"):
        response = requests.get(url, params={"max_results": 1}, timeout=10,
                                auth=(old[login]["username"], old[login]["password"]))
        refused[login] = response.status_code == 401
    assert all(refused.values()), refused
    cipher_after = stack.handle().psql("SELECT val FROM variable WHERE key = 'drill_rotation_value'", "airflow")
    readable = _variable(stack, "drill_rotation_value") == value
    assert cipher_after != cipher_before and readable  # re-encrypted, and the new key alone reads it
    state, _, _ = stack.trigger_and_wait(TRAINING_DAG)
    assert state == "success"
    stack.figures["rotation"] = {"ok": True, "old_password_refused": all(refused.values()),
                                 "fernet_old_value_readable": readable, "deploys": 2, "seconds": round(seconds, 1),
                                 "rotated": list(rotate.KINDS)}
    FIGURES["both"]["rotation"] = stack.figures["rotation"]
