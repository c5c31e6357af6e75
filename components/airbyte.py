"""Airbyte 0.63.19, the last release Airbyte shipped with a Docker (compose) deployment.

The topology follows upstream's ``docker-compose.yaml``/``.env`` of the
0.63 line (airbytehq/airbyte-platform, fetched by ``run-ab-platform.sh``):
bootloader (one-shot migrations), airbyte-temporal, server (config API and,
since 0.58, the public API under ``/api/public``), worker, cron,
connector-builder-server, webapp and the nginx ``airbyte-proxy`` with basic
auth. Deliberate differences from upstream, each explained where it is made:

- ``airbyte/db`` is replaced by the platform's PostgreSQL (roles from
  ``airbyte_consumers()``).
- The Docker socket reaches the worker through a filtering socket proxy
  instead of upstream's unfiltered ``alpine/socat`` relay.
- The basic-auth password is generated (upstream ships airbyte/password).
- Usage tracking is ``logging`` instead of upstream's ``segment``.
- The helper publishes one port per container, so the web (8000) and API
  (8001) listeners are two containers of the same proxy image.

Container aliases are upstream's container names, because the images'
defaults (the proxy's ``PROXY_PASS_*``, Temporal host, server host) use them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable, Mapping, Optional, Sequence

import pulumi
import pulumi_docker as docker

from components import secrets
from components.database import ConnectionInfo, Consumer
from components.images import pulled_image
from components.service import (
    ContainerSpec,
    HealthCheck,
    StackContext,
    Upload,
    VolumeMount,
    declare_container,
    job_succeeded,
)
from config.models import Airbyte as AirbyteConfig
from config.models import Limits
from config.versions import AIRBYTE_VERSION, DOCKER_SOCKET_PROXY_IMAGE

# -- names and ports (upstream .env of 0.63.18/19) --------------------------------
BOOTLOADER = "airbyte-bootloader"
TEMPORAL = "airbyte-temporal"
SERVER = "airbyte-server"
WORKER = "airbyte-worker"
CRON = "airbyte-cron"
CONNECTOR_BUILDER = "airbyte-connector-builder-server"
WEBAPP = "airbyte-webapp"
PROXY = "airbyte-proxy"
API_PROXY = "airbyte-api-proxy"
DOCKER_PROXY = "airbyte-docker-proxy"

SERVER_PORT = 8001
WEBAPP_PORT = 8080
CONNECTOR_BUILDER_PORT = 8080
TEMPORAL_PORT = 7233
WORKER_HEARTBEAT_PORT = 9000
CRON_PORT = 9001
PROXY_WEB_PORT = 8000
PROXY_API_PORT = 8001
DOCKER_PROXY_PORT = 2375

WORKSPACE_ROOT = "/tmp/workspace"
LOCAL_ROOT = "/tmp/airbyte_local"
CONFIG_ROOT = "/data"
FLAGS_PATH = "/flags"
TEMPORAL_DYNAMIC_CONFIG = "/etc/temporal/config/dynamicconfig/development.yaml"
DOCKER_SOCKET = "/var/run/docker.sock"

#: The role and databases Airbyte owns on the platform's PostgreSQL.
AIRBYTE_ROLE, AIRBYTE_DATABASE = "airbyte", "airbyte"
TEMPORAL_ROLE, TEMPORAL_DATABASE, TEMPORAL_VISIBILITY_DATABASE = "temporal", "temporal", "temporal_visibility"

BASIC_AUTH_USERNAME = "airbyte"
PUBLIC_API_PATH = "/api/public/v1"
#: What containers on the stack network (Airflow) call: the server directly, no proxy, no basic auth.
INTERNAL_API_URL = f"http://{SERVER}:{SERVER_PORT}{PUBLIC_API_PATH}"

#: Filtering Docker API proxy (HAProxy); pinned in config/versions.py.
SOCKET_PROXY_IMAGE = DOCKER_SOCKET_PROXY_IMAGE

#: Upstream's deployment feature flags (flags.yml, mounted at /flags; FEATURE_FLAG_CLIENT=config).
UPSTREAM_FLAGS = (
    ("performance.backgroundJsonSchemaValidation", False),
    ("heartbeat.failSync", True),
    ("connectors.versionOverridesEnabled", True),
    ("billing.newTrialPolicy", False),
    ("heartbeat-max-seconds-between-messages", "10800"),
    ("use-new-notification-workflow", False),
    ("validation.removeValidationLimit", False),
    ("autopropagation.enabled", True),
    ("connection.columnSelection", True),
    ("refreshSchema.period.hours", 24),
    ("concurrent.source.stream.read", False),
    ("platform.add-scheduling-jitter", False),
    ("connectors.apm-enabled", False),
    ("platform.use-new-schema-update-notification", False),
)

#: Upstream's temporal/dynamicconfig/development.yaml settings (persistence QPS, retry policies, blob limits).
TEMPORAL_DYNAMIC_SETTINGS = {
    "frontend.enableClientVersionCheck": True,
    "history.persistenceMaxQPS": 3000,
    "frontend.persistenceMaxQPS": 3000,
    "frontend.historyMgrNumConns": 30,
    "frontend.throttledLogRPS": 20,
    "frontend.enableUpdateWorkflowExecution": True,
    "frontend.enableUpdateWorkflowExecutionAsyncAccepted": True,
    "history.historyMgrNumConns": 50,
    "system.advancedVisibilityWritingMode": "off",
    "history.defaultActivityRetryPolicy": {
        "InitialIntervalInSeconds": 1, "MaximumIntervalCoefficient": 100.0, "BackoffCoefficient": 2.0, "MaximumAttempts": 0,
    },
    "history.defaultWorkflowRetryPolicy": {
        "InitialIntervalInSeconds": 1, "MaximumIntervalCoefficient": 100.0, "BackoffCoefficient": 2.0, "MaximumAttempts": 0,
    },
    "limit.blobSize.error": 15728640,
    "limit.blobSize.warn": 10485760,
}


def image_refs() -> dict[str, str]:
    """Every image the deployment pulls, keyed by short name; Airbyte tags follow AIRBYTE_VERSION."""
    airbyte = ("bootloader", "temporal", "server", "worker", "cron", "connector-builder-server", "webapp", "proxy")
    return {**{name: f"airbyte/{name}:{AIRBYTE_VERSION}" for name in airbyte}, "docker-proxy": SOCKET_PROXY_IMAGE}


def airbyte_consumers() -> list[Consumer]:
    """Roles and databases to add to the platform's Database when Airbyte is on.

    Temporal's databases are created here because the airbyte/temporal
    entrypoint has no switch to skip creating them (upstream's auto-setup
    ``SKIP_DB_CREATE`` is not honoured by Airbyte's wrapper script): its
    ``temporal-sql-tool create`` then fails harmlessly (the role has no
    CREATEDB, the script does not stop on errors) and the schema is set up
    in the databases that already exist.
    """
    return [
        Consumer(AIRBYTE_ROLE, (AIRBYTE_DATABASE,)),
        Consumer(TEMPORAL_ROLE, (TEMPORAL_DATABASE, TEMPORAL_VISIBILITY_DATABASE)),
    ]


def _yaml(value: object) -> str:
    """JSON is valid YAML; enough for config files read by YAML parsers."""
    return json.dumps(value, indent=2) + "\n"


def flags_file() -> str:
    return _yaml({"flags": [{"name": name, "serve": serve} for name, serve in UPSTREAM_FLAGS]})


def temporal_dynamic_config() -> str:
    return _yaml({key: [{"value": value, "constraints": {}}] for key, value in TEMPORAL_DYNAMIC_SETTINGS.items()})


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
    test=("CMD-SHELL", f'set -- $(hostname -i) && tctl --address "$1:{TEMPORAL_PORT}" cluster health | grep -q SERVING'),
    interval_s=10, timeout_s=8, retries=12, start_period_s=90,
)
#: /_ping is allowed by the socket proxy by default; busybox wget is in its Alpine base.
DOCKER_PROXY_HEALTHCHECK = HealthCheck(
    test=("CMD", "wget", "-q", "-O", "/dev/null", f"http://127.0.0.1:{DOCKER_PROXY_PORT}/_ping"),
    interval_s=10, timeout_s=5, retries=6, start_period_s=10,
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
    healthcheck: Optional[HealthCheck],
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
        s, SERVER, "server", http_probe(SERVER_PORT, "/api/v1/health"),
        env={"CONNECTOR_BUILDER_SERVER_API_HOST": f"http://{CONNECTOR_BUILDER}:{CONNECTOR_BUILDER_PORT}"},
        control_plane=True,
        volumes=(_workspace(s), VolumeMount(CONFIG_ROOT, volume=s.volumes.data), _local(s)),
    )


def worker_spec(s: AirbyteSettings) -> ContainerSpec:
    """Runs connectors as sibling containers through the Docker API proxy (``DOCKER_HOST``), never the raw socket.

    ``*_DOCKER_MOUNT`` name the host volumes the connector containers mount,
    so they must be the real volume names.
    """
    return _app_spec(
        s, WORKER, "worker", http_probe(WORKER_HEARTBEAT_PORT, "/"),
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


def cron_spec(s: AirbyteSettings) -> ContainerSpec:
    """Periodic housekeeping (definitions, workload and Temporal cleanup); Micronaut health on 9001."""
    return _app_spec(s, CRON, "cron", http_probe(CRON_PORT, "/health"), control_plane=True, volumes=(_workspace(s),))


def connector_builder_spec(s: AirbyteSettings) -> ContainerSpec:
    """Backs the UI's connector builder; needs no database."""
    return _app_spec(s, CONNECTOR_BUILDER, "connector-builder-server",
                     http_probe(CONNECTOR_BUILDER_PORT, "/v1/health"), with_database=False)


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
            interval_s=10, timeout_s=5, retries=6, start_period_s=20,
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
    """The only container that mounts the Docker socket, exposing just what ``docker pull/run`` need.

    Upstream relays the whole API with socat. Here: containers and images
    (create/start/attach/wait/remove, pull/inspect) with POST; build, exec,
    volumes, networks, swarm, secrets, system, plugins, auth stay denied.
    Creating containers is still root-equivalent on the host; the proxy
    narrows the surface and keeps the socket out of the JVM container.
    """
    return ContainerSpec(
        service=DOCKER_PROXY,
        image=s.images["docker-proxy"],
        env={"CONTAINERS": "1", "IMAGES": "1", "POST": "1"},
        healthcheck=DOCKER_PROXY_HEALTHCHECK,
        volumes=(VolumeMount(DOCKER_SOCKET, host_path=DOCKER_SOCKET, read_only=True),),
        limits=s.limits,
    )


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


@dataclass
class AirbyteArgs:
    """Inputs of the Airbyte component."""

    config: AirbyteConfig
    """The stack's ``airbyte`` settings."""
    context: StackContext
    """Network, bind address and naming shared by the stack."""
    databases: dict[str, ConnectionInfo]
    """Connections for the roles of ``airbyte_consumers()`` (``airbyte``, ``temporal``)."""
    depends_on: Sequence[pulumi.Resource] = ()
    """Resources to wait for first (the PostgreSQL container)."""
    protect_data: bool = False
    """Protect the volumes from deletion (prod)."""


class Airbyte(pulumi.ComponentResource):
    """Airbyte's Docker deployment (last Docker-native release) on the stack network."""

    url: str
    """Browser URL of the UI (through the basic-auth proxy)."""
    api_url: str
    """Browser/host URL of the public API (basic-auth proxy on ``api_port``)."""
    internal_api_url: str
    """Public API URL for containers on the stack network (Airflow)."""
    airflow_connection: pulumi.Output[str]
    """Secret JSON for ``AIRFLOW_CONN_AIRBYTE_DEFAULT``."""
    basic_auth_username: str
    basic_auth_password: pulumi.Output[str]
    """Secret, generated."""
    init_succeeded: pulumi.Output[bool]
    """Resolves only if the bootloader exited 0 (fails `pulumi up` otherwise)."""
    containers: dict[str, docker.Container]

    def __init__(self, name: str, args: AirbyteArgs, opts: Optional[pulumi.ResourceOptions] = None):
        super().__init__("mlplatform:index:Airbyte", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        ctx = args.context
        missing = {AIRBYTE_ROLE, TEMPORAL_ROLE} - set(args.databases)
        if missing:
            raise ValueError(f"Airbyte needs database connections for roles {sorted(missing)}")

        volumes = {
            kind: docker.Volume(
                f"airbyte-{kind}",
                name=f"{ctx.project}-{ctx.stack}-airbyte-{kind}",
                labels=[docker.VolumeLabelArgs(label=k, value=v) for k, v in ctx.labels("airbyte", "data").items()],
                opts=pulumi.ResourceOptions(parent=self, retain_on_delete=True, protect=args.protect_data),
            )
            for kind in ("workspace", "local", "data")
        }
        self.basic_auth_username = BASIC_AUTH_USERNAME
        self.basic_auth_password = secrets.password("airbyte-basic-auth", child)
        self.url = ctx.browser_url(args.config.port)
        self.api_url = ctx.browser_url(args.config.api_port, PUBLIC_API_PATH)
        self.internal_api_url = INTERNAL_API_URL
        settings = AirbyteSettings(
            images={key: pulled_image(f"airbyte-{key}-image", ref, child).image_id for key, ref in image_refs().items()},
            database=args.databases[AIRBYTE_ROLE],
            temporal=args.databases[TEMPORAL_ROLE],
            volumes=AirbyteVolumes(**{kind: vol.name for kind, vol in volumes.items()}),
            webapp_url=self.url + "/",
            basic_auth_password=self.basic_auth_password,
            limits=args.config.limits,
            config=args.config,
        )

        self.containers = {}
        for spec_fn, waits_for in TOPOLOGY:
            spec = spec_fn(settings)
            deps = [*args.depends_on, *(self.containers[s] for s in waits_for)]
            self.containers[spec.service] = declare_container(
                spec, ctx, pulumi.ResourceOptions(parent=self, depends_on=deps)
            )

        self.init_succeeded = job_succeeded(self.containers[BOOTLOADER], BOOTLOADER)
        self.airflow_connection = pulumi.Output.secret(airflow_connection())
        self.register_outputs(
            {
                "url": self.url,
                "api_url": self.api_url,
                "internal_api_url": self.internal_api_url,
                "init_succeeded": self.init_succeeded,
            }
        )
