"""Bad input is refused with a message naming the key and what is allowed."""

from __future__ import annotations

import pytest

from config import ConfigError, parse_platform

INVALID = [
    ({"mlflow": {"port": 70000}}, "platform.mlflow.port: must be 1-65535, got 70000"),
    ({"airflow": {"port": 0}}, "platform.airflow.port: must be 1-65535, got 0"),
    ({"grafana": {"port": 5000}}, "platform.grafana.port: host port 5000 on 127.0.0.1 is already used by mlflow.port"),
    ({"airflow": {"executor": "KubernetesExecutor"}},
     "platform.airflow.executor: input should be 'LocalExecutor' or 'CeleryExecutor', got 'KubernetesExecutor'"),
    ({"airflow": {"executor": "CeleryExecutor", "workers": 0}},
     "platform.airflow.workers: input should be greater than or equal to 1, got 0"),
    ({"airflow": {"workers": 3}}, "platform.airflow.workers: only CeleryExecutor runs workers"),
    ({"images": {"postgres": "postgres:latest"}}, "platform.images.postgres: must not use the 'latest' tag"),
    ({"images": {"redis": "redis"}}, "platform.images.redis: must be pinned to a version tag or digest"),
    ({"mlflow": {"prot": 5000}}, "platform.mlflow.prot: unknown key; allowed keys here: port, workers, auth"),
    ({"databse": {}}, "platform.databse: unknown key; allowed keys here: environment, bind_address"),
    ({"bind_address": "localhost"}, "platform.bind_address: must be an IP address such as 127.0.0.1 or ::1"),
    ({"mlflow": {"workers": "many"}}, "platform.mlflow.workers: input should be a valid integer"),
    ({"images": {"extra_ca_bundle": "/no/such/ca.pem"}}, "platform.images.extra_ca_bundle: file not found"),
    ({"airbyte": {"connection_id": "not-a-uuid"}}, "platform.airbyte.connection_id: string should match pattern"),
    ({"rotation": {"fernet": 1, "fernet_previous": 1}},
     "platform.rotation.fernet_previous: must be older than fernet (1), got 1"),
    ({"rotation": {"logins": -1}}, "platform.rotation.logins: input should be greater than or equal to 0"),
]


@pytest.mark.parametrize("raw,message", INVALID, ids=[m.split(":")[0] for _, m in INVALID])
def test_invalid_config_names_the_key_and_what_is_allowed(raw, message):
    with pytest.raises(ConfigError) as caught:
        parse_platform(raw, "dev")
    assert any(p.startswith(message) for p in caught.value.problems), caught.value.problems
