"""The store's init job: every deploy, as nobody, secrets as files, and a failure fails the deploy."""

from __future__ import annotations

import pytest
from pulumi import RunError

from testing.program import run_program, shipped, stack_config

PROD = "prod"


def _init():
    return shipped(PROD).container("objectstore-init")


def test_the_init_job_runs_on_every_deploy_after_the_store_is_healthy():
    run = shipped(PROD)
    init = run.container("objectstore-init")
    assert init.inputs["attach"] is True and init.replacement_trigger
    assert any(dep.endswith("::objectstore") for dep in init.dependencies)


def test_the_init_job_runs_the_shipped_script_on_the_pinned_python_image_as_nobody():
    init = _init()
    assert shipped(PROD).image_name("objectstore-init") == "python:3.11.14-slim-bookworm"
    assert init.inputs["user"] == "65534:65534"
    assert init.inputs["command"][:2] == ["python", "/opt/mlplatform/objectstore_init.py"]
    assert "def ensure_grants" in init.upload_content("/opt/mlplatform/objectstore_init.py")


def test_the_admin_token_and_mlflows_key_reach_the_job_as_files_only():
    run = shipped(PROD)
    init, credentials = run.container("objectstore-init"), run.value("credentials")["object_store"]
    assert init.upload_content("/run/secrets/objectstore-admin-token") == credentials["admin_token"]
    assert init.upload_content("/run/secrets/objectstore-mlflow-key-id") == credentials["mlflow_access_key_id"]
    for path in ("/run/secrets/objectstore-admin-token", "/run/secrets/objectstore-mlflow-key-secret"):
        upload = init.uploads()[path]
        assert (upload["owner"], upload["permissions"]) == ("65534", "0400")
    command = " ".join(init.inputs["command"])
    assert all(secret not in command for secret in credentials.values())


def test_the_job_names_the_bucket_and_the_key():
    command = _init().inputs["command"]
    assert command[command.index("--bucket") + 1] == "mlflow-artifacts"
    assert command[command.index("--key-name") + 1] == "mlflow"


def test_a_failed_init_job_fails_the_deploy():
    with pytest.raises(RunError, match="objectstore-init exited with code 1"):
        run_program(PROD, stack_config(PROD), job_exit_codes={"objectstore-init": 1})


def test_mlflow_waits_for_the_init_job():
    mlflow = shipped(PROD).container("mlflow")
    assert any(dep.endswith("::objectstore-init") for dep in mlflow.dependencies)
