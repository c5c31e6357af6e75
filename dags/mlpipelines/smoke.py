"""MLflow round trip from inside Airflow, with a diagnosis of what is misconfigured.

A deploy can look healthy (MLflow /health is 200) while every real client call
fails; this check does what the pipelines do (run, metric, artifact up and down)
and turns the error into the one setting most likely wrong.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import tempfile
from pathlib import Path
from urllib.parse import urlparse

from mlpipelines import settings

ARTIFACT_STAGES = frozenset({"upload_artifact", "download_artifact", "compare_artifact"})
SMOKE_ARTIFACT = "smoke.txt"

ALLOWED_HOSTS_HINT = (
    "MLflow allowed hosts: the server rejected the Host header Airflow sends. Add the host from "
    "MLFLOW_TRACKING_URI (both 'mlflow' and 'mlflow:5000') to the server's --allowed-hosts / "
    "MLFLOW_SERVER_ALLOWED_HOSTS."
)
AUTH_HINT = (
    "MLflow auth credentials: the server refused the request as unauthenticated or forbidden. Check "
    "MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD on the Airflow containers match a user "
    "(with permission) on the MLflow basic-auth server."
)
ARTIFACT_PROXY_HINT = (
    "MLflow artifact proxy: tracking calls work but artifact upload/download does not. Start the "
    "server with --serve-artifacts --artifacts-destination <dir> and leave --default-artifact-root "
    "unset, so clients send artifacts through the server (mlflow-artifacts:/ URIs)."
)
TRACKING_URI_HINT = (
    "MLFLOW_TRACKING_URI: the MLflow server could not be reached (connection refused or name not "
    "resolved). Check the URI's host and port (e.g. http://mlflow:5000) and that the MLflow "
    "container is running on the same Docker network."
)
UNKNOWN_HINT = "no known misconfiguration matched; read the MLflow server log for this request."

_AUTH_PATTERN = re.compile(
    r"error code 40[13]\b|\b40[13] client error|status(?: code)?[ =:]*40[13]\b|unauthori[sz]ed|not authenticated"
    r"|\bPERMISSION_DENIED\b|\bUNAUTHENTICATED\b",
    re.IGNORECASE,
)
_CONNECTION_PATTERN = re.compile(
    r"connection refused|errno 111|name or service not known|temporary failure in name resolution"
    r"|nodename nor servname|failed to resolve|getaddrinfo failed|no route to host|newconnectionerror"
    r"|failed to establish a new connection|connecttimeout|no scheme supplied|invalid url"
    r"|could not find a registered tracking store",
    re.IGNORECASE,
)


def diagnose_mlflow_failure(error_text: str, stage: str) -> str:
    """Most likely wrong setting for an error seen at a smoke-check stage (pure, no I/O)."""
    if "invalid host header" in error_text.lower():
        return ALLOWED_HOSTS_HINT
    if _AUTH_PATTERN.search(error_text):
        return AUTH_HINT
    if stage in ARTIFACT_STAGES:
        return ARTIFACT_PROXY_HINT
    if _CONNECTION_PATTERN.search(error_text) or stage == "configuration":
        return TRACKING_URI_HINT
    return UNKNOWN_HINT


def local_artifact_store_problem(tracking_uri: str, artifact_uri: str) -> str | None:
    """A remote tracking server handing out a local artifact path means artifacts are not proxied.

    The client would then write into its own container's filesystem: the round trip
    "works" from one container and the files are missing everywhere else.
    """
    if urlparse(tracking_uri).scheme not in {"http", "https"}:
        return None
    if urlparse(artifact_uri).scheme in {"", "file"}:
        return f"run artifact URI {artifact_uri!r} is a local path on the client, not proxied by the server"
    return None


class MlflowSmokeError(RuntimeError):
    def __init__(self, stage: str, hint: str, cause: BaseException | str):
        self.stage = stage
        self.hint = hint
        super().__init__(f"MLflow smoke check failed at stage '{stage}'. Most likely wrong: {hint} Error: {cause}")


@contextlib.contextmanager
def _quick_http_failures():
    """MLflow retries a refused connection for minutes by default; the task's own retries suffice here."""
    overrides = {"MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1", "MLFLOW_HTTP_REQUEST_TIMEOUT": "30"}
    saved = {key: os.environ.get(key) for key in overrides}
    os.environ.update({k: v for k, v in overrides.items() if saved[k] is None})
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)


def run_smoke_check() -> dict:
    """Create a run, log a metric, upload an artifact, download it and compare the bytes."""
    import mlflow
    from mlflow import MlflowClient

    stage = "configuration"
    run_id = None
    uri = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    if not uri:
        raise MlflowSmokeError(stage, TRACKING_URI_HINT, "MLFLOW_TRACKING_URI is not set")
    client = MlflowClient(tracking_uri=uri)
    token = secrets.token_hex(16)
    try:
        with _quick_http_failures(), tempfile.TemporaryDirectory() as tmp:
            stage = "connect"
            experiment = client.get_experiment_by_name(settings.SMOKE_EXPERIMENT_NAME)
            experiment_id = (
                experiment.experiment_id if experiment else client.create_experiment(settings.SMOKE_EXPERIMENT_NAME)
            )
            stage = "create_run"
            run_id = client.create_run(
                experiment_id, run_name="mlflow-smoke", tags={"environment": settings.deployment_environment()}
            ).info.run_id
            stage = "log_metric"
            client.log_metric(run_id, "smoke_ok", 1.0)
            if client.get_run(run_id).data.metrics.get("smoke_ok") != 1.0:
                raise RuntimeError("metric smoke_ok was not recorded")
            stage = "upload_artifact"
            problem = local_artifact_store_problem(uri, client.get_run(run_id).info.artifact_uri)
            if problem:
                raise RuntimeError(problem)
            upload = Path(tmp) / "up" / SMOKE_ARTIFACT
            upload.parent.mkdir()
            upload.write_text(token)
            client.log_artifact(run_id, str(upload))
            stage = "download_artifact"
            downloaded = mlflow.artifacts.download_artifacts(
                run_id=run_id, artifact_path=SMOKE_ARTIFACT, dst_path=str(Path(tmp) / "down"), tracking_uri=uri
            )
            stage = "compare_artifact"
            if Path(downloaded).read_text() != token:
                raise RuntimeError("downloaded artifact differs from the uploaded one")
            client.set_terminated(run_id, "FINISHED")
    except Exception as exc:
        if run_id is not None:
            with contextlib.suppress(Exception):
                client.set_terminated(run_id, "FAILED")
        # MLflow puts the server's error code (e.g. PERMISSION_DENIED) beside, not in, the message.
        error_text = f"{getattr(exc, 'error_code', '')} {exc}"
        raise MlflowSmokeError(stage, diagnose_mlflow_failure(error_text, stage), error_text.strip()) from exc
    return {"run_id": run_id, "experiment_id": experiment_id, "tracking_uri": uri}
