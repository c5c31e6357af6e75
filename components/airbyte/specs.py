"""One pure function per Airbyte container: settings in, ``ContainerSpec`` out."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import pulumi

from components.airbyte.upstream import (
    API_PROXY,
    BASIC_AUTH_USERNAME,
    BOOTLOADER,
    CONFIG_ROOT,
    CONNECTOR_BUILDER,
    CONNECTOR_BUILDER_PORT,
    CRON,
    CRON_PORT,
    DOCKER_PROXY,
    DOCKER_PROXY_PORT,
    FLAGS_PATH,
    INTERNAL_API_URL,
    LOCAL_ROOT,
    PROXY,
    PROXY_API_PORT,
    PROXY_WEB_PORT,
    SERVER,
    SERVER_PORT,
    TEMPORAL,
    TEMPORAL_DATABASE,
    TEMPORAL_DYNAMIC_CONFIG,
    TEMPORAL_PORT,
    TEMPORAL_VISIBILITY_DATABASE,
    WEBAPP,
    WEBAPP_PORT,
    WORKER,
    WORKER_HEARTBEAT_PORT,
    WORKSPACE_ROOT,
    flags_file,
    temporal_dynamic_config,
)
from components.database import ConnectionInfo
from components.docker_api_proxy import AIRBYTE_WORKER_RULES, docker_api_proxy_spec
from components.service import ContainerSpec, HealthCheck, Upload, VolumeMount
from config.models import Airbyte as AirbyteConfig
from config.models import Limits
from config.versions import AIRBYTE_VERSION

def http_probe(port: int, path: str, basic_auth: bool = False, start_period_s: int = 120) -> HealthCheck:
    """HTTP 200 check in pure bash (/dev/tcp): every Airbyte JVM and nginx image has bash, not all have curl.

    With ``basic_auth`` the request carries the proxy's own credentials from its environment, so
    the check proves the password file, nginx and the upstream behind it.
    """
    auth = ""
    if basic_auth:
        auth = 'Authorization: Basic $(printf %s:%s "$BASIC_AUTH_USERNAME" "$BASIC_AUTH_PASSWORD" | base64 -w0)\\r\\n'
    script = (
        f"exec 3<>/dev/tcp/127.0.0.1/{port} && "
        f'printf "GET {path} HTTP/1.0\\r\\nHost: localhost\\r\\n{auth}\\r\\n" >&3 && '
        'read -r _ code _ <&3 && [ "$code" = 200 ]'
    )
    return HealthCheck(test=("CMD", "bash", "-c", script), interval_s=10, timeout_s=5, retries=12,
                       start_period_s=start_period_s)


#: Temporal binds its frontend to the container's IP, not loopback; tctl and hostname are what
#: Airbyte's own temporal entrypoint uses, so they are in the image.
TEMPORAL_HEALTHCHECK = HealthCheck(
    test=(
        "CMD-SHELL",
        f'set -- $(hostname -i) && tctl --address "$1:{TEMPORAL_PORT}" cluster health | grep -q SERVING',
    ),
    interval_s=10,
    timeout_s=8,
    retries=12,
    start_period_s=90,
)


@dataclass(frozen=True)
class AirbyteVolumes:
    """Named Docker volumes; the worker passes the workspace/local names to connector containers."""

    workspace: pulumi.Input[str]
    local: pulumi.Input[str]
    data: pulumi.Input[str]


@dataclass(frozen=True)
class AirbyteSettings:
    """Everything the container specs need besides their own constants."""

    images: Mapping[str, pulumi.Input[str]]
    """Image ids keyed like ``image_refs()``."""
    database: ConnectionInfo
    """The ``airbyte`` role's connection (configs and jobs databases share one)."""
    temporal: ConnectionInfo
    """The ``temporal`` role's connection."""
    volumes: AirbyteVolumes
    webapp_url: str
    """Browser URL of the UI (Airbyte puts it in notification links)."""
    basic_auth_password: pulumi.Input[str]
    docker_api_network: pulumi.Input[str]
    """The internal network where the Docker API proxy is, and which only the worker joins besides it."""
    limits: Limits = Limits()
    config: AirbyteConfig = field(default_factory=AirbyteConfig)


# -- shared env ---------------------------------------------------------------------


def _app_env() -> dict[str, str]:
    """Settings every Airbyte application container gets."""
    return {
        "AIRBYTE_VERSION": AIRBYTE_VERSION,
        "LOG_LEVEL": "INFO",
        # Upstream's .env sends usage events to Segment; keep them in the logs instead.
        "TRACKING_STRATEGY": "logging",
    }


def _database_env(s: AirbyteSettings) -> tuple[dict[str, str], dict[str, pulumi.Input[str]]]:
    db = s.database
    plain = {"DATABASE_URL": f"jdbc:postgresql://{db.host}:{db.port}/{db.database}", "DATABASE_USER": db.user}
    return plain, {"DATABASE_PASSWORD": db.password}


def _control_plane_env(s: AirbyteSettings) -> dict[str, str]:
    """Settings the server, worker and cron share (upstream .env: APPLICATIONS, JOBS, STORAGE)."""
    return {
        "CONFIG_ROOT": CONFIG_ROOT,
        "WORKSPACE_ROOT": WORKSPACE_ROOT,
        "CONFIGS_DATABASE_MINIMUM_FLYWAY_MIGRATION_VERSION": "0.40.23.002",
        "JOBS_DATABASE_MINIMUM_FLYWAY_MIGRATION_VERSION": "0.40.26.001",
        "MICRONAUT_ENVIRONMENTS": "control-plane",
        "TEMPORAL_HOST": f"{TEMPORAL}:{TEMPORAL_PORT}",
        "FEATURE_FLAG_CLIENT": "config",
        "SECRET_PERSISTENCE": "TESTING_CONFIG_DB_TABLE",
        "SHOULD_RUN_NOTIFY_WORKFLOWS": "true",
        "MAX_NOTIFY_WORKERS": "5",
        "WEBAPP_URL": s.webapp_url,
        "STORAGE_TYPE": "local",
        "STORAGE_BUCKET_LOG": "airbyte-dev-logs",
        "STORAGE_BUCKET_STATE": "state-storage",
        "STORAGE_BUCKET_WORKLOAD_OUTPUT": "state-storage",
        "STORAGE_BUCKET_ACTIVITY_PAYLOAD": "payload-storage",
    }


def _app_spec(
    s: AirbyteSettings,
    service: str,
    image: str,
    healthcheck: HealthCheck | None,
    env: Mapping[str, pulumi.Input[str]] = {},
    with_database: bool = True,
    control_plane: bool = False,
    volumes: Sequence[VolumeMount] = (),
    one_shot: bool = False,
) -> ContainerSpec:
    """One Airbyte application container: common env, optional database and control-plane settings."""
    plain, secret = _database_env(s) if with_database else ({}, {})
    return ContainerSpec(
        service=service,
        image=s.images[image],
        env={**_app_env(), **plain, **(_control_plane_env(s) if control_plane else {}), **env},
        secret_env=secret,
        healthcheck=healthcheck,
        volumes=tuple(volumes),
        uploads=(Upload(FLAGS_PATH, flags_file()),) if control_plane else (),
        limits=s.limits,
        one_shot=one_shot,
        # Upstream runs the bootloader on every `docker compose up`; so do we on every deploy.
        rerun_every_deploy=one_shot,
    )


def _workspace(s: AirbyteSettings) -> VolumeMount:
    return VolumeMount(WORKSPACE_ROOT, volume=s.volumes.workspace)


def _local(s: AirbyteSettings) -> VolumeMount:
    return VolumeMount(LOCAL_ROOT, volume=s.volumes.local)


# -- one pure function per container --------------------------------------------------


def bootloader_spec(s: AirbyteSettings) -> ContainerSpec:
    """Runs the database migrations and seeds connector definitions, then exits.

    Upstream passes it no SECRET_PERSISTENCE or control-plane settings, so neither do we.
    """
    return _app_spec(s, BOOTLOADER, "bootloader", None, one_shot=True)


def temporal_spec(s: AirbyteSettings) -> ContainerSpec:
    """Temporal (airbyte/temporal wraps temporalio/auto-setup) on the platform's PostgreSQL."""
    t = s.temporal
    return ContainerSpec(
        service=TEMPORAL,
        image=s.images["temporal"],
        env={
            "DB": "postgresql",
            "DB_PORT": str(t.port),
            "POSTGRES_SEEDS": t.host,
            "POSTGRES_USER": t.user,
            "DBNAME": TEMPORAL_DATABASE,
            "VISIBILITY_DBNAME": TEMPORAL_VISIBILITY_DATABASE,
            "DYNAMIC_CONFIG_FILE_PATH": "config/dynamicconfig/development.yaml",
            "LOG_LEVEL": "INFO",
        },
        secret_env={"POSTGRES_PWD": t.password},
        healthcheck=TEMPORAL_HEALTHCHECK,
        uploads=(Upload(TEMPORAL_DYNAMIC_CONFIG, temporal_dynamic_config()),),
        limits=s.limits,
    )


def server_spec(s: AirbyteSettings) -> ContainerSpec:
    """Config API (``/api/v1``) and public API (``/api/public/v1``) on 8001."""
    return _app_spec(
        s,
        SERVER,
        "server",
        http_probe(SERVER_PORT, "/api/v1/health"),
        env={"CONNECTOR_BUILDER_SERVER_API_HOST": f"http://{CONNECTOR_BUILDER}:{CONNECTOR_BUILDER_PORT}"},
        control_plane=True,
        volumes=(_workspace(s), VolumeMount(CONFIG_ROOT, volume=s.volumes.data), _local(s)),
    )


def worker_spec(s: AirbyteSettings) -> ContainerSpec:
    """Runs connectors as sibling containers through the Docker API proxy (``DOCKER_HOST``), never the raw socket.

    The only container besides the proxy on the proxy's internal network. ``*_DOCKER_MOUNT`` name the host
    volumes the connector containers mount, so they must be the real volume names.
    """
    spec = _app_spec(
        s,
        WORKER,
        "worker",
        http_probe(WORKER_HEARTBEAT_PORT, "/"),
        env={
            "DOCKER_HOST": f"tcp://{DOCKER_PROXY}:{DOCKER_PROXY_PORT}",
            "INTERNAL_API_HOST": f"http://{SERVER}:{SERVER_PORT}",
            "WORKSPACE_DOCKER_MOUNT": s.volumes.workspace,
            "LOCAL_DOCKER_MOUNT": s.volumes.local,
            "LOCAL_ROOT": LOCAL_ROOT,
            "MAX_SYNC_WORKERS": "10",
            "MAX_CHECK_WORKERS": "5",
            "SYNC_JOB_MAX_ATTEMPTS": "3",
            "SYNC_JOB_MAX_TIMEOUT_DAYS": "3",
            "SYNC_JOB_INIT_RETRY_TIMEOUT_MINUTES": "5",
        },
        control_plane=True,
        volumes=(_workspace(s), _local(s)),
    )
    return dataclasses.replace(spec, extra_networks=(s.docker_api_network,))


def cron_spec(s: AirbyteSettings) -> ContainerSpec:
    """Periodic housekeeping (definitions, workload and Temporal cleanup); Micronaut health on 9001."""
    return _app_spec(s, CRON, "cron", http_probe(CRON_PORT, "/health"), control_plane=True, volumes=(_workspace(s),))


def connector_builder_spec(s: AirbyteSettings) -> ContainerSpec:
    """Backs the UI's connector builder; needs no database."""
    return _app_spec(
        s,
        CONNECTOR_BUILDER,
        "connector-builder-server",
        http_probe(CONNECTOR_BUILDER_PORT, "/v1/health"),
        with_database=False,
    )


def webapp_spec(s: AirbyteSettings) -> ContainerSpec:
    """The UI (nginx on 8080); its template resolves the server and builder hosts at start."""
    return ContainerSpec(
        service=WEBAPP,
        image=s.images["webapp"],
        env={
            "AIRBYTE_SERVER_HOST": f"{SERVER}:{SERVER_PORT}",
            "INTERNAL_API_HOST": f"http://{SERVER}:{SERVER_PORT}",
            "CONNECTOR_BUILDER_API_HOST": f"{CONNECTOR_BUILDER}:{CONNECTOR_BUILDER_PORT}",
            # Upstream's placeholder so the nginx template's keycloak upstream is valid.
            "KEYCLOAK_INTERNAL_HOST": "localhost",
            "TRACKING_STRATEGY": "logging",
        },
        healthcheck=HealthCheck(
            test=("CMD", "wget", "-q", "-O", "/dev/null", f"http://127.0.0.1:{WEBAPP_PORT}/"),
            interval_s=10,
            timeout_s=5,
            retries=6,
            start_period_s=20,
        ),
        limits=s.limits,
    )


def proxy_spec(s: AirbyteSettings, service: str, internal_port: int, host_port: int) -> ContainerSpec:
    """airbyte/proxy with the generated basic-auth password; its defaults proxy to the aliases above."""
    return ContainerSpec(
        service=service,
        image=s.images["proxy"],
        env={"BASIC_AUTH_USERNAME": BASIC_AUTH_USERNAME, "BASIC_AUTH_PROXY_TIMEOUT": "900"},
        secret_env={"BASIC_AUTH_PASSWORD": s.basic_auth_password},
        healthcheck=http_probe(internal_port, "/api/v1/health", basic_auth=True, start_period_s=20),
        internal_port=internal_port,
        host_port=host_port,
        limits=s.limits,
    )


def web_proxy_spec(s: AirbyteSettings) -> ContainerSpec:
    return proxy_spec(s, PROXY, PROXY_WEB_PORT, s.config.port)


def api_proxy_spec(s: AirbyteSettings) -> ContainerSpec:
    return proxy_spec(s, API_PROXY, PROXY_API_PORT, s.config.api_port)


def docker_proxy_spec(s: AirbyteSettings) -> ContainerSpec:
    """The only container with the Docker socket: an allow-list of the calls the worker's `docker pull/run`
    makes (components/docker_api_proxy.py), refusing containers that would reach the host.

    Confined: it is on its own internal network (no route out, no published port), not on the stack
    network, so only the worker reaches it; an Airflow task or any other stack container cannot.
    """
    return docker_api_proxy_spec(DOCKER_PROXY, s.images["docker-proxy"], AIRBYTE_WORKER_RULES,
                                 s.docker_api_network, s.limits)


#: Start order: each service with the services it must wait for (created, healthy or exited 0).
TOPOLOGY: tuple[tuple[Callable[[AirbyteSettings], ContainerSpec], tuple[str, ...]], ...] = (
    (docker_proxy_spec, ()),
    (temporal_spec, ()),
    (bootloader_spec, ()),
    (server_spec, (BOOTLOADER, TEMPORAL)),
    (worker_spec, (BOOTLOADER, TEMPORAL, DOCKER_PROXY, SERVER)),
    (cron_spec, (BOOTLOADER, TEMPORAL)),
    (connector_builder_spec, (BOOTLOADER,)),
    (webapp_spec, (SERVER, CONNECTOR_BUILDER)),
    (web_proxy_spec, (WEBAPP, SERVER, CONNECTOR_BUILDER)),
    (api_proxy_spec, (WEBAPP, SERVER, CONNECTOR_BUILDER)),
)


def airflow_connection(host: str = INTERNAL_API_URL, timeout_s: int = 60) -> str:
    """``AIRFLOW_CONN_AIRBYTE_DEFAULT`` for apache-airflow-providers-airbyte 6.2.0.

    The 6.2.0 hook reads: ``host`` as the airbyte-api SDK's server URL (it
    appends ``/jobs``, ``/health``), ``login``/``password`` as OAuth client
    id/secret with ``schema`` as token URL, and ``extra`` keys ``proxies``
    and ``timeout``. Airbyte 0.63.19 serves the public API under
    ``/api/public/v1`` on the server but has no ``/v1/applications/token``
    client-credentials endpoint and no auth on the server itself, so login
    and password stay empty: the hook then calls without auth (its
    documented OSS mode). The proxy's basic auth cannot be used (the hook
    only speaks client credentials), hence the direct in-network URL.
    """
    return json.dumps({"conn_type": "airbyte", "host": host, "extra": {"timeout": timeout_s}})
