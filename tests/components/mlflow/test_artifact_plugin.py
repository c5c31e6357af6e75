"""The MLflow image's s3:// repository (images/mlflow/plugin/): S3 behind the server, never presigned around it.

MLflow 3.17's server advertises presigned multipart transfers exactly when its artifact repository is a
MultipartUploadMixin / MultipartDownloadMixin (mlflow/server/handlers.py, build_server_info_payload), and
its clients then go to the store directly. This repository is neither, and still stores through S3
(moto's in-process S3 here).
"""

from __future__ import annotations

import configparser
import importlib.util
import sys
from pathlib import Path

import boto3
import pytest
from mlflow.store.artifact.artifact_repo import MultipartDownloadMixin, MultipartUploadMixin, PresignedUploadMixin
from mlflow.store.artifact.artifact_repository_registry import ArtifactRepositoryRegistry
from moto import mock_aws

from testing.program import REPO_ROOT

PLUGIN = REPO_ROOT / "images" / "mlflow" / "plugin"


def _plugin():
    spec = importlib.util.spec_from_file_location("mlplatform_artifacts", PLUGIN / "mlplatform_artifacts.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


plugin = _plugin()


@pytest.fixture
def bucket(monkeypatch: pytest.MonkeyPatch):
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("MLFLOW_S3_ENDPOINT_URL", raising=False)
    with mock_aws():
        boto3.client("s3").create_bucket(Bucket="mlflow-artifacts")
        yield boto3.client("s3")


def test_the_repository_offers_no_presigned_or_multipart_transfer():
    repo = plugin.ProxiedS3ArtifactRepository("s3://mlflow-artifacts/artifacts")
    assert not isinstance(repo, MultipartUploadMixin | MultipartDownloadMixin | PresignedUploadMixin)


def test_it_stores_lists_reads_and_deletes_through_s3(bucket, tmp_path: Path):
    repo = plugin.ProxiedS3ArtifactRepository("s3://mlflow-artifacts/artifacts")
    source = tmp_path / "MLmodel"
    source.write_text("flavors: {}\n")
    repo.log_artifact(str(source), "1/run/artifacts/model")
    keys = [o["Key"] for o in bucket.list_objects_v2(Bucket="mlflow-artifacts")["Contents"]]
    assert keys == ["artifacts/1/run/artifacts/model/MLmodel"]
    assert [f.path for f in repo.list_artifacts("1/run/artifacts/model")] == ["1/run/artifacts/model/MLmodel"]
    (tmp_path / "out").mkdir()
    local = repo.download_artifacts("1/run/artifacts/model/MLmodel", str(tmp_path / "out"))
    assert Path(local).read_text() == "flavors: {}\n"
    repo.delete_artifacts("1/run")
    assert "Contents" not in bucket.list_objects_v2(Bucket="mlflow-artifacts")


def test_the_distribution_registers_it_for_s3():
    entry_points = configparser.ConfigParser()
    entry_points.read(PLUGIN / "mlplatform_artifacts-1.0.dist-info" / "entry_points.txt")
    target = entry_points["mlflow.artifact_repository"]["s3"]
    assert target == "mlplatform_artifacts:ProxiedS3ArtifactRepository"
    registry = ArtifactRepositoryRegistry()
    module, _, name = target.partition(":")
    registry.register("s3", getattr(sys.modules[module], name))  # what register_entrypoints does with it
    assert type(registry.get_artifact_repository("s3://b/p")).__name__ == "ProxiedS3ArtifactRepository"


def test_the_image_copies_the_plugin_into_its_environment_and_checks_it():
    dockerfile = (REPO_ROOT / "images" / "mlflow" / "Dockerfile").read_text()
    assert "COPY images/mlflow/plugin/ /tmp/mlplatform/plugin/" in dockerfile
    assert "ProxiedS3ArtifactRepository" in dockerfile  # the build fails if s3:// does not resolve to it
