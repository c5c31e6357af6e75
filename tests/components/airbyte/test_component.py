"""Airbyte component under recording mocks: topology, pins, secrets, ports, Docker access, Airflow wiring."""

from __future__ import annotations

import functools
import json
from typing import Any

from components import secrets
from components.airbyte import component as airbyte_component
from components.airbyte import upstream as ab
from components.database import ConnectionInfo
from components.docker_api_proxy import AIRBYTE_WORKER_RULES, CONFIG_PATH, haproxy_config
from components.service import StackContext
from config.models import Airbyte as AirbyteConfig
from config.versions import AIRBYTE_VERSION, DEFAULT_IMAGES
from testing.program import ProgramRun, declare_component

UPSTREAM_SERVICES = {
    ab.BOOTLOADER, ab.TEMPORAL, ab.SERVER, ab.WORKER, ab.CRON, ab.CONNECTOR_BUILDER, ab.WEBAPP, ab.PROXY,
}
APP_SERVICES = {ab.SERVER, ab.WORKER, ab.CRON, ab.CONNECTOR_BUILDER}


def deploy(bind_address: str = "127.0.0.1", **config: Any) -> ProgramRun:
    """Declare the component alone (as platform.py does) and resolve its outputs."""
    def build(ctx: StackContext) -> dict[str, Any]:
        databases = {
            c.role: ConnectionInfo("postgres", 5432, c.role, c.databases[0], secrets.password(f"db-{c.role}"))
            for c in ab.airbyte_consumers()
        }
        component = airbyte_component.Airbyte("airbyte", airbyte_component.AirbyteArgs(
            config=AirbyteConfig(enabled=True, **config), context=ctx, databases=databases,
            debian_base_image=DEFAULT_IMAGES["python_base"]))
        keys = ("url", "api_url", "internal_api_url", "airflow_connection", "basic_auth_password", "init_succeeded")
        return {key: getattr(component, key) for key in keys}

    return declare_component(build, bind_address=bind_address)


@functools.cache
def default() -> ProgramRun:
    return deploy()


def test_every_upstream_container_runs_a_pinned_image_of_this_release():
    run = default()
    assert set(run.mocks.containers()) >= UPSTREAM_SERVICES
    for service in UPSTREAM_SERVICES:
        image = run.image_name(service)
        assert image.startswith("airbyte/") and image.endswith(f":{AIRBYTE_VERSION}"), (service, image)
    assert AIRBYTE_VERSION == "0.63.19"


def test_bootloader_is_a_one_shot_job_the_app_containers_wait_for():
    run = default()
    boot = run.container(ab.BOOTLOADER)
    assert boot.inputs["attach"] is True and boot.inputs["mustRun"] is False and boot.inputs["restart"] == "no"
    assert run.value("init_succeeded") is True
    for service in APP_SERVICES:
        assert boot.urn in run.container(service).dependencies, service


def test_long_running_containers_have_health_checks_restart_and_wait():
    run = default()
    for service, c in run.mocks.containers().items():
        if service == ab.BOOTLOADER:
            continue
        assert c.inputs["healthcheck"]["tests"], service
        assert c.inputs["restart"] == "unless-stopped" and c.inputs["wait"] is True, service


def test_proxy_basic_auth_password_is_generated_secret_and_not_the_upstream_default():
    run = default()
    password = run.value("basic_auth_password")
    assert run.is_secret("basic_auth_password")
    assert password != "password" and len(password) == 32 and password in run.mocks.generated_secrets
    for service in (ab.PROXY, ab.API_PROXY):
        c = run.container(service)
        assert c.env()["BASIC_AUTH_PASSWORD"] == password
        assert "BASIC_AUTH_PASSWORD" in c.secret_env_keys()
        assert c.env()["BASIC_AUTH_USERNAME"] == ab.BASIC_AUTH_USERNAME


def test_proxy_health_check_authenticates_with_its_own_credentials():
    script = default().container(ab.PROXY).inputs["healthcheck"]["tests"][-1]
    assert '"$BASIC_AUTH_PASSWORD"' in script and "Authorization: Basic" in script


def test_database_settings_point_at_our_postgres_with_the_airbyte_role():
    run = default()
    for service in (ab.BOOTLOADER, ab.SERVER, ab.WORKER, ab.CRON):
        c = run.container(service)
        env = c.env()
        assert env["DATABASE_URL"] == "jdbc:postgresql://postgres:5432/airbyte", service
        assert env["DATABASE_USER"] == "airbyte"
        assert "DATABASE_PASSWORD" in c.secret_env_keys()
    temporal = run.container(ab.TEMPORAL).env()
    assert (temporal["POSTGRES_SEEDS"], temporal["DB_PORT"], temporal["POSTGRES_USER"]) == (
        "postgres",
        "5432",
        "temporal",
    )
    assert (temporal["DBNAME"], temporal["VISIBILITY_DBNAME"]) == ("temporal", "temporal_visibility")
    assert not any("airbyte/db" in r.inputs["name"] for r in run.mocks.of_type("RemoteImage"))


def test_only_the_proxies_publish_ports_and_only_on_the_bind_address():
    run = deploy(bind_address="10.1.2.3", port=18000, api_port=18001)
    published = {s: c.inputs.get("ports") for s, c in run.mocks.containers().items() if c.inputs.get("ports")}
    assert published == {
        ab.PROXY: [{"internal": 8000, "external": 18000, "ip": "10.1.2.3"}],
        ab.API_PROXY: [{"internal": 8001, "external": 18001, "ip": "10.1.2.3"}],
    }
    assert run.value("url") == "http://10.1.2.3:18000"
    assert run.value("api_url") == "http://10.1.2.3:18001/api/public/v1"


def test_docker_socket_is_mounted_only_into_the_socket_proxy_and_reaches_the_worker_over_tcp():
    run = default()
    mounts = {s: [v.get("hostPath") for v in c.inputs.get("volumes", [])] for s, c in run.mocks.containers().items()}
    assert [s for s, paths in mounts.items() if ab.DOCKER_SOCKET in paths] == [ab.DOCKER_PROXY]
    proxy = run.container(ab.DOCKER_PROXY)
    assert run.image_name(ab.DOCKER_PROXY).startswith("mlplatform/dockerapi-proxy:")  # built: Debian's haproxy
    config = proxy.upload_content(CONFIG_PATH)
    assert config == haproxy_config(AIRBYTE_WORKER_RULES)  # the allow-list tests/components/docker_api_proxy runs
    assert proxy.inputs["command"] == ["haproxy", "-W", "-db", "-f", CONFIG_PATH]
    worker = run.container(ab.WORKER)
    assert worker.env()["DOCKER_HOST"] == f"tcp://{ab.DOCKER_PROXY}:2375"
    assert proxy.urn in worker.dependencies


def test_the_docker_api_proxy_is_confined_to_an_internal_network_only_the_worker_shares():
    run = default()
    (api_network,) = [n for n in run.of_type("Network") if n.inputs["name"].endswith("-airbyte-docker-api")]
    assert api_network.inputs["internal"] is True  # no route out of it
    stack_network = "mlplatform-dev"
    networks = {s: [n["name"] for n in c.inputs["networksAdvanced"]] for s, c in run.mocks.containers().items()}
    on_api_network = {s for s, names in networks.items() if api_network.inputs["name"] in names}
    assert on_api_network == {ab.DOCKER_PROXY, ab.WORKER}
    assert stack_network not in networks[ab.DOCKER_PROXY]  # Airflow, Grafana and the rest cannot reach it
    assert stack_network in networks[ab.WORKER]  # the worker still talks to the server and Temporal
    assert "ports" not in run.container(ab.DOCKER_PROXY).inputs


def test_worker_hands_connectors_the_real_volume_names():
    env = default().container(ab.WORKER).env()
    assert env["WORKSPACE_DOCKER_MOUNT"] == "mlplatform-dev-airbyte-workspace"
    assert env["LOCAL_DOCKER_MOUNT"] == "mlplatform-dev-airbyte-local"


def test_airflow_connection_has_the_fields_the_provider_6_2_hook_reads():
    run = default()
    assert run.is_secret("airflow_connection")
    conn = json.loads(run.value("airflow_connection"))
    assert conn["conn_type"] == "airbyte"
    assert conn["host"] == run.value("internal_api_url") == "http://airbyte-server:8001/api/public/v1"
    # 0.63.19 has no client-credentials endpoint: with login/password set the hook would try one.
    assert "login" not in conn and "password" not in conn and "schema" not in conn
    assert float(conn["extra"]["timeout"]) > 0


def test_airbyte_consumers_own_airbyte_and_temporal_databases():
    consumers = {c.role: c.databases for c in ab.airbyte_consumers()}
    assert consumers == {"airbyte": ("airbyte",), "temporal": ("temporal", "temporal_visibility")}


def test_limits_from_config_apply_to_every_container():
    run = deploy(limits={"memory_mb": 1024, "cpus": 1.5})
    for service, c in run.mocks.containers().items():
        assert (c.inputs["memory"], c.inputs["cpus"]) == (1024, "1.5"), service


def test_upstream_config_files_are_valid_yaml_with_upstream_keys():
    import yaml

    flags = yaml.safe_load(ab.flags_file())["flags"]
    assert {"name": "heartbeat.failSync", "serve": True} in flags
    dynamic = yaml.safe_load(ab.temporal_dynamic_config())
    assert dynamic["limit.blobSize.error"] == [{"value": 15728640, "constraints": {}}]
    server = default().container(ab.SERVER)
    assert any(u["file"] == ab.FLAGS_PATH for u in server.inputs["uploads"])
