"""Every Airflow container shares the same keys, read from secret files, never from env."""

from __future__ import annotations

import base64

import pytest
from cryptography.fernet import Fernet

from testing.mocks import Recorded
from testing.program import shipped

SHARED = (
    "AIRFLOW__CORE__FERNET_KEY",
    "AIRFLOW__API__SECRET_KEY",
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__API_AUTH__JWT_ISSUER",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
)
FILE_BACKED = (
    "AIRFLOW__CORE__FERNET_KEY",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
    "AIRFLOW__API_AUTH__JWT_SECRET",
    "AIRFLOW__API__SECRET_KEY",
)


def airflow_containers(stack: str = "dev") -> dict[str, Recorded]:
    return {k: v for k, v in shipped(stack).containers().items() if k.startswith("airflow-") and k != "airflow-redis"}


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_airflow_container_shares_the_same_keys(stack):
    settings = [c.effective_settings() for c in airflow_containers(stack).values()]
    for key in SHARED:
        if key == "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN":
            continue  # the init job migrates directly; see test_pooling
        assert len({s[key] for s in settings}) == 1, f"{key} differs across containers"


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_every_long_running_airflow_container_reaches_the_database_the_same_way(stack):
    services = [c for name, c in airflow_containers(stack).items() if name != "airflow-init"]
    assert len({c.effective_settings()["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] for c in services}) == 1


def test_fernet_key_is_valid():
    key = airflow_containers()["airflow-scheduler"].effective_settings()["AIRFLOW__CORE__FERNET_KEY"]
    assert Fernet(key.encode()).decrypt(Fernet(key.encode()).encrypt(b"x")) == b"x"
    assert len(base64.urlsafe_b64decode(key)) == 32


def test_jwt_secret_is_at_least_64_bytes():
    secret = airflow_containers()["airflow-apiserver"].effective_settings()["AIRFLOW__API_AUTH__JWT_SECRET"]
    assert len(bytes.fromhex(secret)) >= 64


def test_execution_api_url_points_at_the_api_server_alias():
    containers = airflow_containers()
    assert (
        containers["airflow-scheduler"].env()["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"]
        == "http://airflow-apiserver:8080/execution/"
    )
    assert containers["airflow-apiserver"].inputs["networksAdvanced"][0]["aliases"] == ["airflow-apiserver"]


def test_fab_auth_manager_keeps_users_in_postgres():
    settings = airflow_containers()["airflow-apiserver"].effective_settings()
    assert settings["AIRFLOW__CORE__AUTH_MANAGER"].endswith("FabAuthManager")
    assert settings["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://airflow:")


@pytest.mark.parametrize("stack", ["dev", "prod"])
def test_sensitive_options_are_read_from_secret_files(stack):
    for name, c in airflow_containers(stack).items():
        env = c.env()
        for option in FILE_BACKED:
            assert option not in env and env[f"{option}_CMD"].startswith("cat /run/secrets/"), name
            assert c.upload_is_secret(env[f"{option}_CMD"].removeprefix("cat ")), name
