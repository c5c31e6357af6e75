"""images/mlflow/sync_artifacts.py: a volume's artifacts copied 1:1 under the bucket's prefix, idempotently."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from testing.program import REPO_ROOT

_spec = importlib.util.spec_from_file_location("sync_artifacts", REPO_ROOT / "images/mlflow/sync_artifacts.py")
assert _spec and _spec.loader
sync_artifacts = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(sync_artifacts)


@pytest.fixture
def s3(monkeypatch: pytest.MonkeyPatch):
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        client = boto3.client("s3")
        client.create_bucket(Bucket="mlflow-artifacts")
        yield client


def _volume(root: Path) -> Path:
    for rel, text in {"1/abc/artifacts/plots/scores.png": "png", "1/models/m-1/artifacts/MLmodel": "flavors"}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_the_tree_lands_under_the_prefix_with_the_same_relative_keys(s3, tmp_path: Path):
    counts = sync_artifacts.sync(_volume(tmp_path / "mlartifacts"), "s3://mlflow-artifacts/artifacts", s3)
    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket="mlflow-artifacts")["Contents"])
    assert keys == ["artifacts/1/abc/artifacts/plots/scores.png", "artifacts/1/models/m-1/artifacts/MLmodel"]
    assert counts == {"copied": 2, "skipped": 0}


def test_a_second_run_copies_only_what_changed(s3, tmp_path: Path):
    volume = _volume(tmp_path / "mlartifacts")
    sync_artifacts.sync(volume, "s3://mlflow-artifacts/artifacts", s3)
    (volume / "1/abc/artifacts/plots/scores.png").write_text("a longer png")
    assert sync_artifacts.sync(volume, "s3://mlflow-artifacts/artifacts", s3) == {"copied": 1, "skipped": 1}


def test_a_destination_that_is_not_s3_is_refused(tmp_path: Path):
    with pytest.raises(SystemExit, match="s3://bucket"):
        sync_artifacts.sync(tmp_path, "/mnt/elsewhere", None)
