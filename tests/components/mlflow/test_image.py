"""The MLflow image: built from the repo, tagged by content, nothing installed at start."""

from __future__ import annotations

import shutil

from components import images
from testing.program import REPO_ROOT, shipped


def _image():
    return next(r for r in shipped("dev").of_type("RemoteImage") if r.name == "mlflow-image")


def test_image_is_built_from_the_repo_dockerfile_on_the_pinned_python():
    image = _image()
    assert image.inputs["build"]["dockerfile"] == "images/mlflow/Dockerfile"
    assert image.inputs["build"]["buildArgs"] == {"PYTHON_BASE": "python:3.11.14-slim-bookworm"}
    assert image.inputs["name"].startswith("mlplatform/mlflow:") and image.inputs["keepLocally"] is True


def test_the_image_carries_the_server_its_driver_and_s3_client():
    requirements = (REPO_ROOT / "images/mlflow/requirements.txt").read_text().split()
    assert {"mlflow", "psycopg2-binary", "boto3"} <= set(requirements)


def test_content_tag_follows_build_arguments():
    before = images.content_tag([REPO_ROOT / "images/mlflow"], {"A": "1"})
    assert before == images.content_tag([REPO_ROOT / "images/mlflow"], {"A": "1"})
    assert before != images.content_tag([REPO_ROOT / "images/mlflow"], {"A": "2"})


def test_content_tag_changes_when_the_dockerfile_changes(tmp_path):
    copy = tmp_path / "images" / "mlflow"
    shutil.copytree(REPO_ROOT / "images/mlflow", copy, ignore=shutil.ignore_patterns("__pycache__"))
    first = images.content_tag([copy], {}, root=tmp_path)
    (copy / "Dockerfile").write_text((copy / "Dockerfile").read_text() + "\n# changed\n")
    assert images.content_tag([copy], {}, root=tmp_path) != first
