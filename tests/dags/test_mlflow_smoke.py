"""The smoke check's diagnosis: a pure function, and the real MLflow client's errors."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from mlpipelines import settings, smoke
from mlpipelines.smoke import (
    ALLOWED_HOSTS_HINT,
    ARTIFACT_PROXY_HINT,
    AUTH_HINT,
    TRACKING_URI_HINT,
    UNKNOWN_HINT,
    MlflowSmokeError,
    diagnose_mlflow_failure,
    run_smoke_check,
)
from testing.net import free_port

# Messages as the MLflow client / requests actually word them.
HOST_403 = (
    "API request to endpoint /api/2.0/mlflow/experiments/get-by-name failed with error code 403 != 200. "
    "Response body: 'Invalid Host header - possible DNS rebinding attack detected'"
)
AUTH_401 = (
    "API request to endpoint /api/2.0/mlflow/runs/create failed with error code 401 != 200. "
    "Response body: 'You are not authenticated. Please see https://www.mlflow.org/docs/latest/auth/index.html'"
)
PERMISSION_403 = (
    "API request to endpoint /api/2.0/mlflow/runs/create failed with error code 403 != 200. "
    "Response body: 'Permission denied'"
)
REFUSED = (
    "API request to http://mlflow:5000/api/2.0/mlflow/experiments/get-by-name failed with exception "
    "HTTPConnectionPool(host='mlflow', port=5000): Max retries exceeded with url: /api/2.0/mlflow/experiments/"
    "get-by-name (Caused by NewConnectionError(\"HTTPConnection(host='mlflow', port=5000): Failed to establish "
    'a new connection: [Errno 111] Connection refused"))'
)
DNS = (
    "HTTPConnectionPool(host='mlfow', port=5000): Max retries exceeded (Caused by NameResolutionError("
    "\"Failed to resolve 'mlfow' ([Errno -2] Name or service not known)\"))"
)
ARTIFACT_503 = (
    "API request to endpoint /api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts/smoke.txt failed with error "
    "code 503 != 200. Response body: 'Endpoint: /mlflow-artifacts/artifacts disabled due to the mlflow server "
    "running with `--no-serve-artifacts`.'"
)
LOCAL_PATH = "[Errno 13] Permission denied: '/mlartifacts'"


@pytest.mark.parametrize(
    ("error", "stage", "hint"),
    [
        (HOST_403, "connect", ALLOWED_HOSTS_HINT),
        (HOST_403, "upload_artifact", ALLOWED_HOSTS_HINT),
        (AUTH_401, "create_run", AUTH_HINT),
        (AUTH_401, "download_artifact", AUTH_HINT),
        (PERMISSION_403, "create_run", AUTH_HINT),
        (REFUSED, "connect", TRACKING_URI_HINT),
        (DNS, "connect", TRACKING_URI_HINT),
        ("MLFLOW_TRACKING_URI is not set", "configuration", TRACKING_URI_HINT),
        (ARTIFACT_503, "upload_artifact", ARTIFACT_PROXY_HINT),
        (LOCAL_PATH, "upload_artifact", ARTIFACT_PROXY_HINT),
        (REFUSED, "download_artifact", ARTIFACT_PROXY_HINT),
        ("downloaded artifact differs from the uploaded one", "compare_artifact", ARTIFACT_PROXY_HINT),
        ("PERMISSION_DENIED Permission denied", "create_run", AUTH_HINT),
        ("something odd", "log_metric", UNKNOWN_HINT),
    ],
)
def test_diagnosis_names_the_setting(error, stage, hint):
    assert diagnose_mlflow_failure(error, stage) == hint


def test_hints_name_the_settings_to_change():
    assert "MLFLOW_SERVER_ALLOWED_HOSTS" in ALLOWED_HOSTS_HINT and "--allowed-hosts" in ALLOWED_HOSTS_HINT
    assert "MLFLOW_TRACKING_USERNAME" in AUTH_HINT and "MLFLOW_TRACKING_PASSWORD" in AUTH_HINT
    assert "--serve-artifacts" in ARTIFACT_PROXY_HINT
    assert "MLFLOW_TRACKING_URI" in TRACKING_URI_HINT


@pytest.mark.parametrize(
    ("tracking", "artifact", "problem"),
    [
        ("http://mlflow:5000", "mlflow-artifacts:/1/abc/artifacts", False),
        ("http://mlflow:5000", "s3://bucket/1/abc", False),
        ("http://mlflow:5000", "/mlartifacts/1/abc/artifacts", True),
        ("https://mlflow.example", "file:///mlruns/1/abc", True),
        ("sqlite:///tmp/mlflow.db", "/tmp/artifacts/1/abc", False),
    ],
)
def test_local_artifact_store_behind_http_server_is_a_problem(tracking, artifact, problem):
    assert (smoke.local_artifact_store_problem(tracking, artifact) is not None) is problem


def test_round_trip_succeeds_against_a_working_store(local_mlflow):
    client = local_mlflow["client"]
    client.create_experiment(
        settings.SMOKE_EXPERIMENT_NAME, artifact_location=str(local_mlflow["tmp"] / "smoke-artifacts")
    )
    result = run_smoke_check()
    run = client.get_run(result["run_id"])
    assert run.info.status == "FINISHED"
    assert run.data.metrics["smoke_ok"] == 1.0
    assert [a.path for a in client.list_artifacts(result["run_id"])] == [smoke.SMOKE_ARTIFACT]


def test_artifact_failure_points_at_the_artifact_proxy(local_mlflow):
    # mlflow-artifacts:/ URIs only work through a server that proxies artifacts.
    local_mlflow["client"].create_experiment(
        settings.SMOKE_EXPERIMENT_NAME, artifact_location="mlflow-artifacts:/smoke"
    )
    with pytest.raises(MlflowSmokeError) as excinfo:
        run_smoke_check()
    assert excinfo.value.stage == "upload_artifact"
    assert excinfo.value.hint == ARTIFACT_PROXY_HINT
    runs = local_mlflow["client"].search_runs(
        [local_mlflow["client"].get_experiment_by_name(settings.SMOKE_EXPERIMENT_NAME).experiment_id]
    )
    assert [r.info.status for r in runs] == ["FAILED"]


def test_missing_tracking_uri_is_diagnosed(monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    with pytest.raises(MlflowSmokeError, match="MLFLOW_TRACKING_URI"):
        run_smoke_check()


def test_refused_connection_is_diagnosed_as_tracking_uri(monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", f"http://127.0.0.1:{free_port()}")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    with pytest.raises(MlflowSmokeError) as excinfo:
        run_smoke_check()
    assert excinfo.value.stage == "connect"
    assert excinfo.value.hint == TRACKING_URI_HINT


@pytest.fixture
def refusing_server():
    """A 127.0.0.1 HTTP server answering every MLflow API call with a fixed status and body."""
    servers = []

    def start(status: int, body: str) -> str:
        class Handler(BaseHTTPRequestHandler):
            def _reply(self):
                payload = body.encode()
                self.send_response(status)
                self.send_header("Content-Type", "text/plain")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = _reply

            def log_message(self, *args):
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("status", "body", "hint"),
    [
        (403, "Invalid Host header - possible DNS rebinding attack detected", ALLOWED_HOSTS_HINT),
        (401, "You are not authenticated. Please see the docs on how to authenticate.", AUTH_HINT),
        (403, json.dumps({"error_code": "PERMISSION_DENIED", "message": "Permission denied"}), AUTH_HINT),
    ],
)
def test_real_client_errors_from_a_misconfigured_server(monkeypatch, refusing_server, status, body, hint):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", refusing_server(status, body))
    with pytest.raises(MlflowSmokeError) as excinfo:
        run_smoke_check()
    assert excinfo.value.hint == hint
    assert "Most likely wrong: " + hint in str(excinfo.value)
