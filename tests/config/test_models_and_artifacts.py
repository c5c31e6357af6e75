"""The object store, MLflow's artifact modes, the model server and the app: defaults, links and refusals."""

from __future__ import annotations

import pytest

from config import ConfigError, parse_platform

REFUSED = [
    ({"mlflow": {"artifacts": "object_store"}}, "platform.mlflow.artifacts: object_store needs object_store.enabled"),
    ({"mlflow": {"artifacts": "external"}}, "platform.mlflow.external_artifacts: required with artifacts: external"),
    ({"mlflow": {"external_artifacts": {"endpoint_url": "https://s3.example.com", "bucket": "mlflow"}}},
     "platform.mlflow.external_artifacts: only used with artifacts: external"),
    ({"mlflow": {"artifacts": "s3"}}, "platform.mlflow.artifacts: input should be 'volume', 'object_store' or"),
    ({"model_app": {"enabled": True}}, "platform.model_app.enabled: the app scores through the model server"),
    ({"object_store": {"enabled": True, "bucket": "My_Bucket"}},
     "platform.object_store.bucket: must be an S3 bucket"),
    ({"mlflow": {"artifacts": "external",
                 "external_artifacts": {"endpoint_url": "s3.example.com", "bucket": "mlflow"}}},
     "platform.mlflow.external_artifacts.endpoint_url: must be an http(s) URL of an S3 endpoint"),
    ({"mlflow": {"artifacts": "external",
                 "external_artifacts": {"endpoint_url": "https://s3.example.com/x", "bucket": "mlflow"}}},
     "platform.mlflow.external_artifacts.endpoint_url: must be an http(s) URL of an S3 endpoint without a path"),
    ({"model_server": {"enabled": True, "port": 5000}},
     "platform.model_server.port: host port 5000 on 127.0.0.1 is already used by mlflow.port"),
    ({"object_store": {"enabled": True, "port": 8080}},
     "platform.object_store.port: host port 8080 on 127.0.0.1 is already used by airflow.port"),
    ({"model_server": {"enabled": True, "poll_seconds": 1}},
     "platform.model_server.poll_seconds: input should be greater than or equal to 5"),
    ({"object_store": {"console_port": 9001}}, "platform.object_store.console_port: unknown key"),
]


@pytest.mark.parametrize("raw,message", REFUSED, ids=[m.split(":")[0] + str(i) for i, (_, m) in enumerate(REFUSED)])
def test_a_bad_model_or_artifact_setting_names_its_key(raw, message):
    with pytest.raises(ConfigError) as caught:
        parse_platform(raw, "dev")
    assert any(p.startswith(message) for p in caught.value.problems), caught.value.problems


def test_everything_new_is_off_by_default_and_artifacts_stay_on_the_volume():
    config = parse_platform({}, "dev")
    assert not (config.object_store.enabled or config.model_server.enabled or config.model_app.enabled)
    assert config.mlflow.artifacts == "volume"
    assert set(config.published_ports()) == {"mlflow.port", "airflow.port", "grafana.port"}


def test_published_ports_list_the_model_server_the_app_and_the_s3_port_when_on():
    config = parse_platform({"object_store": {"enabled": True, "port": 3900}, "model_server": {"enabled": True},
                             "model_app": {"enabled": True}}, "dev")
    ports = config.published_ports()
    assert ports["object_store.port"] == 3900 and ports["model_server.port"] == 5001
    assert ports["model_app.port"] == 8501


def test_an_unpublished_model_server_takes_no_host_port():
    config = parse_platform({"model_server": {"enabled": True, "port": None}}, "dev")
    assert "model_server.port" not in config.published_ports()


EXPOSED = {"bind_address": "10.1.2.3", "expose": True, "mlflow": {"auth": True}}


def test_exposing_the_stack_refuses_the_unauthenticated_model_server_and_app_ports():
    with pytest.raises(ConfigError) as caught:
        parse_platform({**EXPOSED, "model_server": {"enabled": True}, "model_app": {"enabled": True}}, "dev")
    problems = caught.value.problems
    assert any(p.startswith("platform.model_server.port: must be unset when expose is on") for p in problems)
    assert any(p.startswith("platform.model_app.port: must be unset when expose is on") for p in problems)


def test_an_exposed_stack_keeps_the_model_server_inside_the_network():
    config = parse_platform({**EXPOSED, "model_server": {"enabled": True, "port": None}}, "dev")
    assert "model_server.port" not in config.published_ports()


def test_an_exposed_stack_may_publish_the_signed_s3_api():
    config = parse_platform({**EXPOSED, "object_store": {"enabled": True, "port": 3900}}, "dev")
    assert config.published_ports()["object_store.port"] == 3900


def test_external_artifacts_take_an_endpoint_a_bucket_and_defaults():
    config = parse_platform({"mlflow": {"artifacts": "external", "external_artifacts": {
        "endpoint_url": "https://s3.example.com:9000/", "bucket": "team-ml"}}}, "dev")
    external = config.mlflow.external_artifacts
    assert external is not None
    assert (external.endpoint_url, external.prefix, external.region) == (
        "https://s3.example.com:9000", "mlflow", "us-east-1")


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_staging_and_prod_keep_artifacts_in_the_object_store_and_serve_the_model(stack):
    from testing.program import stack_config

    config = parse_platform(stack_config(stack), stack)
    assert config.object_store.enabled and config.mlflow.artifacts == "object_store"
    assert config.model_server.enabled and config.model_app.enabled
