"""Prod shape: MLflow's artifacts in the object store, the champion served over REST, the model app.

The store is the e2e stand-in for Garage (moto's S3 behind Garage's interface, e2e/README.md):
it proves the wiring (the platform's own config, init job, bucket, MLflow's limited key,
proxied transfers), not Garage itself. Tests run in file order on one realised stack; each
writes its figures into build/e2e-report.json (under prod_shape). Only 127.0.0.1 and the
stack's own network are contacted.
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pandas as pd
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.e2e.conftest import Stack, wait_until
from tests.e2e.test_platform_e2e import EXPERIMENT, MODEL, TRAINING_DAG
from tests.e2e.test_platform_ui_e2e import SCREENSHOTS, _browse_live

pytestmark = pytest.mark.shapes("prod")

ALIAS = "champion"
FEATURES = ["vehicle_count", "avg_speed_kmh", "occupancy_pct", "hour_sin", "hour_cos", "is_weekend",
            "count_log_ratio", "speed_delta", "occupancy_delta"]
#: What the tests learn on the way (the champion version, the run), shared in file order.
SEEN: dict[str, Any] = {}


def _store(stack: Stack) -> Any:
    """An S3 client on the store (inside the stack network) with MLflow's own key."""
    keys = stack.credentials["object_store"]
    return boto3.client(
        "s3", endpoint_url=f"http://{stack.container_address('objectstore')}:3900", region_name="us-east-1",
        aws_access_key_id=keys["mlflow_access_key_id"], aws_secret_access_key=keys["mlflow_secret_access_key"],
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
    )


def _objects(stack: Stack, prefix: str) -> list[str]:
    bucket = stack.endpoints["object_store"]["bucket"]
    pages = _store(stack).get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]


def _model_server(stack: Stack, path: str, **kwargs: Any) -> requests.Response:
    method = "POST" if "json" in kwargs else "GET"
    return requests.request(method, f"{stack.endpoints['model_server']['url']}{path}", timeout=30, **kwargs)


def _served_version(stack: Stack) -> str | None:
    return _model_server(stack, "/model").json()["version"]


def _train(stack: Stack) -> str:
    return str(stack.trigger_and_wait(TRAINING_DAG, timeout_s=600)[0])


def test_the_training_dag_leaves_its_artifacts_as_objects_in_the_bucket(stack: Stack):
    state = _train(stack)
    assert state == "success"
    client = stack.mlflow()
    experiment = client.get_experiment_by_name(EXPERIMENT)
    run = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time DESC"])[0]
    # mlflow-artifacts:/<experiment>/<run>/artifacts: relative to the server's destination s3://<bucket>/artifacts
    assert run.info.artifact_uri.startswith("mlflow-artifacts:/")
    relative = run.info.artifact_uri.removeprefix("mlflow-artifacts:/").strip("/")
    run_objects = _objects(stack, f"artifacts/{relative}/")
    model_objects = _objects(stack, f"artifacts/{experiment.experiment_id}/models/")
    assert any(key.endswith(".png") for key in run_objects), run_objects
    assert any(key.endswith("/MLmodel") for key in model_objects), model_objects[:20]
    # Nothing on a volume: the server has no artifacts mount.
    mounts = [m["Destination"] for m in stack.container("mlflow").attrs["Mounts"]]
    assert "/mlartifacts" not in mounts
    SEEN["run_id"] = run.info.run_id
    stack.figures["artifacts_in_object_store"] = True
    stack.figures["artifact_objects_of_the_run"] = len(run_objects) + len(model_objects)


def test_mlflows_key_is_limited_to_its_bucket(stack: Stack):
    store = _store(stack)
    for attempt in (lambda: store.create_bucket(Bucket="not-mlflows"), lambda: store.list_buckets()):
        with pytest.raises(ClientError) as refused:
            attempt()
        assert refused.value.response["Error"]["Code"] == "AccessDenied"


def test_mlflow_serves_the_artifacts_through_itself(stack: Stack):
    """No client is sent to the store: the server advertises no presigned transfers and downloads work
    from a client that could not reach the store (this process sets no MLFLOW_ENABLE_PROXY_* switch)."""
    assert "MLFLOW_ENABLE_PROXY_MULTIPART_DOWNLOAD" not in os.environ
    client = stack.mlflow()
    admin = stack.credentials["mlflow"]
    info = requests.get(f"{stack.endpoints['mlflow']['url']}/api/3.0/mlflow/server-info",
                        auth=(admin["username"], admin["password"]), timeout=10).json()
    assert info.get("multipart_downloads_enabled") is False and info.get("multipart_uploads_enabled") is False
    downloaded: dict[str, Any] = {}

    def download() -> None:
        with tempfile.TemporaryDirectory() as tmp:
            artifacts, folders = [], [""]
            while folders:  # the run's whole tree: the plots are in a folder
                for entry in client.list_artifacts(SEEN["run_id"], folders.pop() or None):
                    (folders if entry.is_dir else artifacts).append(entry.path)
            downloaded["listed"] = artifacts
            png = next(path for path in artifacts if path.endswith(".png"))
            local = Path(client.download_artifacts(SEEN["run_id"], png, tmp))
            downloaded["bytes"] = local.stat().st_size

    worker = threading.Thread(target=download, daemon=True)
    started = time.monotonic()
    worker.start()
    worker.join(120)
    assert not worker.is_alive(), "artifact download hung (a client sent to the store would retry for minutes)"
    assert downloaded.get("bytes", 0) > 1000, downloaded
    stack.figures["artifact_download_through_mlflow_s"] = round(time.monotonic() - started, 1)


def test_the_documented_artifact_copy_runs_in_mlflows_image_against_the_store(stack: Stack):
    """docs/object-store.md moves a volume's artifacts with the image's sync tool: it works with the server's key."""
    mlflow = stack.container("mlflow")
    prepare = mlflow.exec_run(["sh", "-c", "mkdir -p /tmp/old/9/run/artifacts && echo moved > "
                                           "/tmp/old/9/run/artifacts/a.txt"])
    assert prepare.exit_code == 0, prepare.output.decode()
    for expected in ("1 copied, 0 already there", "0 copied, 1 already there"):
        result = mlflow.exec_run(["python", "/opt/mlflow/mlplatform/sync_artifacts.py", "/tmp/old",
                                  "s3://mlflow-artifacts/migration-check"])
        assert result.exit_code == 0 and expected in result.output.decode(), result.output.decode()
    assert _objects(stack, "migration-check/") == ["migration-check/9/run/artifacts/a.txt"]


def test_the_model_server_predicts_with_the_champion_and_reports_its_version(stack: Stack):
    champion = stack.mlflow().get_model_version_by_alias(MODEL, ALIAS).version
    SEEN["champion"] = str(champion)
    # The server checks the alias every poll_seconds; a refresh makes the test independent of where it is.
    wait_until(lambda: _model_server(stack, "/model/refresh", json={}).json()["version"] == str(champion),
               120, 2, f"the model server to serve version {champion}")
    model = _model_server(stack, "/model").json()
    assert model["inputs"] == FEATURES and model["example"]
    normal = model["example"]
    extreme = {name: 1e4 for name in FEATURES}
    response = _model_server(stack, "/invocations",
                             json={"dataframe_records": [normal, extreme]})
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    assert set(predictions) <= {1, -1} and len(predictions) == 2 and predictions[1] == -1
    assert response.headers["X-Model-Version"] == str(champion)
    bad = _model_server(stack, "/invocations", json={"dataframe_records": [{"vehicle_count": 1.0}]})
    assert bad.status_code == 400
    assert _model_server(stack, "/health").json()["status"] == "ok"
    stack.figures["model_server_prediction_ok"] = True


def _better_model(stack: Stack) -> str:
    """Train, log (through MLflow's proxy into the store) and register a new version; return it."""
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from sklearn.ensemble import IsolationForest

    stack.mlflow()  # logs in as the admin (env) for the fluent API
    mlflow.set_tracking_uri(stack.endpoints["mlflow"]["url"])
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(rng.normal(size=(600, len(FEATURES))), columns=FEATURES)
    model = IsolationForest(n_estimators=50, random_state=7).fit(frame)
    mlflow.set_experiment("models-e2e")
    with mlflow.start_run(run_name="better-model") as run:
        mlflow.log_metric("holdout_average_precision", 0.99)
        mlflow.sklearn.log_model(
            model, name="model", signature=infer_signature(frame.head(5), model.predict(frame.head(5))),
            input_example=frame.head(5), serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_PICKLE,
            pip_requirements=mlflow.sklearn.get_default_pip_requirements(),
        )
    return str(mlflow.register_model(f"runs:/{run.info.run_id}/model", MODEL).version)


def test_the_model_server_follows_the_alias_to_a_better_model(stack: Stack):
    version = _better_model(stack)
    assert version != SEEN["champion"]
    client = stack.mlflow()
    poll = _model_server(stack, "/model").json()["poll_seconds"]
    moved = time.monotonic()
    client.set_registered_model_alias(MODEL, ALIAS, version)
    wait_until(lambda: _served_version(stack) == version, poll + 60, 0.5, f"the model server to serve {version}")
    followed = time.monotonic() - moved
    response = _model_server(stack, "/invocations",
                             json={"dataframe_split": {"columns": FEATURES, "data": [[0.0] * len(FEATURES)]}})
    assert response.status_code == 200 and response.headers["X-Model-Version"] == version
    SEEN["champion"] = version
    stack.figures["model_server_follows_alias"] = True
    stack.figures["model_server_follow_s"] = round(followed, 1)
    stack.figures["model_server_poll_s"] = poll
    assert followed <= poll + 30, f"took {followed:.0f} s with a {poll} s poll"


def test_the_app_scores_through_the_model_server_from_its_container(stack: Stack):
    code = ("import backend, pandas as pd; served = backend.served_model(); "
            "frame = pd.DataFrame([served['example']]); s = backend.score(frame, served['inputs']); "
            "print(s.model_version, int(s.frame['prediction'].iloc[0])); "
            "c = backend.champion(); print(c.version); "
            "scores = backend.latest_scores(); print(len(scores))")
    result = stack.container("modelapp").exec_run(["python", "-c", code])
    assert result.exit_code == 0, result.output.decode()
    served_version, prediction, champion, rows = result.output.decode().split()
    assert served_version == champion == SEEN["champion"] and prediction in ("1", "-1")
    assert int(rows) > 0


def test_the_app_renders_the_champion_and_the_latest_anomalies(stack: Stack):
    url = stack.endpoints["model_app"]["url"]
    assert requests.get(f"{url}/_stcore/health", timeout=10).text.strip() == "ok"
    dom = _browse_live(url, SCREENSHOTS / "e2e-model-app.png", wait_for="Top anomalies")
    assert "Champion version" in dom, dom[-2000:]
    assert SEEN["champion"] in dom
    assert "rows scored by version" in dom and "Top anomalies" in dom
    stack.figures["model_app_ok"] = True
