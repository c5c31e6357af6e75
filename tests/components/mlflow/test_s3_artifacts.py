"""MLflow's artifacts in S3: the stack's object store or an existing bucket, the key as a file, still proxied."""

from __future__ import annotations

import pytest

from config import ConfigError
from testing.program import run_program, shipped, stack_config, with_overrides

CREDENTIALS = "/run/secrets/mlflow-s3-credentials"
EXTERNAL = {"artifacts": "external", "external_artifacts": {
    "endpoint_url": "https://s3.example.com", "bucket": "team-ml", "prefix": "mlflow/prod", "region": "eu-west-1"}}
EXTERNAL_KEY = {"artifactsAccessKeyId": "AKIAEXAMPLEKEYID0001",
                "artifactsSecretAccessKey": "external-secret-value-0001"}


def _external(secret_config=EXTERNAL_KEY):
    return run_program("dev", with_overrides(stack_config("dev"), mlflow=EXTERNAL), secret_config=secret_config)


def test_the_object_store_bucket_is_the_destination_and_the_server_still_proxies():
    c = shipped("prod").container("mlflow")
    env = c.env()
    assert "--serve-artifacts" in c.inputs["command"]
    assert env["MLFLOW_ARTIFACTS_DESTINATION"] == "s3://mlflow-artifacts/artifacts"
    assert env["MLFLOW_S3_ENDPOINT_URL"] == "http://objectstore:3900"
    assert (env["AWS_DEFAULT_REGION"], env["MLFLOW_BOTO_CLIENT_ADDRESSING_STYLE"]) == ("us-east-1", "path")


def test_the_stores_key_is_a_credentials_file_of_the_mlflow_user_never_env():
    run = shipped("prod")
    c, keys = run.container("mlflow"), run.value("credentials")["object_store"]
    assert c.env()["AWS_SHARED_CREDENTIALS_FILE"] == CREDENTIALS
    assert c.upload_content(CREDENTIALS) == (
        f"[default]\naws_access_key_id = {keys['mlflow_access_key_id']}\n"
        f"aws_secret_access_key = {keys['mlflow_secret_access_key']}\n")
    upload = c.uploads()[CREDENTIALS]
    assert c.upload_is_secret(CREDENTIALS) and (upload["owner"], upload["group"], upload["permissions"]) == (
        "1000", "1000", "0400")
    assert not {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"} & set(c.env())
    assert all(keys["mlflow_secret_access_key"] not in entry for entry in c.inputs["envs"])


def test_the_store_is_never_given_the_admin_token():
    run = shipped("prod")
    token = run.value("credentials")["object_store"]["admin_token"]
    assert token not in str(run.container("mlflow").inputs)


def test_with_s3_no_artifacts_volume_is_declared_or_mounted():
    run = shipped("prod")
    assert "volumes" not in run.container("mlflow").inputs
    assert "mlflow-artifacts" not in [v.name for v in run.of_type("Volume")]


def test_dev_keeps_artifacts_on_the_volume_without_s3_settings():
    env = shipped("dev").container("mlflow").env()
    assert env["MLFLOW_ARTIFACTS_DESTINATION"] == "/mlartifacts"
    assert not any(key.startswith(("AWS_", "MLFLOW_S3")) for key in env)


def test_an_external_bucket_takes_its_endpoint_prefix_region_and_secret_config_key():
    c = _external().container("mlflow")
    env = c.env()
    assert env["MLFLOW_ARTIFACTS_DESTINATION"] == "s3://team-ml/mlflow/prod"
    assert (env["MLFLOW_S3_ENDPOINT_URL"], env["AWS_DEFAULT_REGION"]) == ("https://s3.example.com", "eu-west-1")
    assert c.upload_content(CREDENTIALS) == (
        "[default]\naws_access_key_id = AKIAEXAMPLEKEYID0001\naws_secret_access_key = external-secret-value-0001\n")
    assert c.upload_is_secret(CREDENTIALS)
    assert "external-secret-value-0001" not in str(c.inputs["envs"])


def test_an_external_bucket_without_its_secret_config_names_what_to_set():
    with pytest.raises(ConfigError) as caught:
        _external(secret_config={"artifactsAccessKeyId": "AKIAEXAMPLEKEYID0001"})
    assert caught.value.problems == [
        "platform.mlflow.artifacts: external needs the secret config mlplatform:artifactsSecretAccessKey "
        "(`pulumi config set --secret mlplatform:artifactsSecretAccessKey <value>`)"]
