"""Apache Airflow 3 as separate containers: init job, api-server, scheduler,
dag-processor, triggerer, and with CeleryExecutor a Redis broker and N workers.

What makes a multi-container Airflow 3 actually work (see
shared/reference/service-contracts.md):
- the Fernet key, API secret key, JWT secret and issuer are generated once and
  set identically on every container (otherwise each writes its own random
  airflow.cfg and task calls to the Execution API get 403);
- the execution API URL points at the api-server's network alias;
- the FAB auth manager keeps users in PostgreSQL, and the init job re-asserts
  the generated admin password on every deploy, so it never "changes on
  restart";
- the init job runs each step without ``|| true`` and the deploy fails if it
  fails; every other container starts only after it.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from collections.abc import Mapping
from typing import Any

import pulumi
import pulumi_docker as docker

from components import secrets
from components.base import PlatformComponent
from components.database import ConnectionInfo
from components.images import built_image, pulled_image
from components.service import (
    ContainerSpec,
    HealthCheck,
    StackContext,
    VolumeMount,
    data_volume,
    declare_container,
    job_succeeded,
    secret_path,
)
from config.models import Airflow as AirflowConfig
from config.models import Limits
from config.versions import REPO_ROOT

API_PORT = 8080
REDIS_PORT = 6379
AIRFLOW_HOME = "/opt/airflow"
DATA_DIR = f"{AIRFLOW_HOME}/data"
LOGS_DIR = f"{AIRFLOW_HOME}/logs"
DAGS_DIR = f"{AIRFLOW_HOME}/dags"
FAB_AUTH_MANAGER = "airflow.providers.fab.auth_manager.fab_auth_manager.FabAuthManager"
CELERY_APP = "airflow.providers.celery.executors.celery_executor.app"
#: HS512 needs a key of at least 64 bytes.
JWT_SECRET_BYTES = 64

ADMIN_PASSWORD_FILE = "airflow-admin-password"

INIT_SCRIPT = """\
set -euo pipefail
MLPLATFORM_ADMIN_PASSWORD="$(cat ADMIN_PASSWORD_PATH)"
echo "mlplatform: migrating the Airflow metadata database"
airflow db migrate
echo "mlplatform: ensuring admin user ${MLPLATFORM_ADMIN_USERNAME}"
airflow users create --username "${MLPLATFORM_ADMIN_USERNAME}" --password "${MLPLATFORM_ADMIN_PASSWORD}" \\
  --firstname Airflow --lastname Admin --role Admin --email "${MLPLATFORM_ADMIN_EMAIL}"
# `users create` leaves an existing user's password alone: make the generated one authoritative.
airflow users reset-password --username "${MLPLATFORM_ADMIN_USERNAME}" --password "${MLPLATFORM_ADMIN_PASSWORD}"
echo "mlplatform: Airflow init complete"
""".replace("ADMIN_PASSWORD_PATH", secret_path(ADMIN_PASSWORD_FILE))


@dataclass(frozen=True)
class AirflowNames:
    """Service names (network aliases) of one cluster, all prefixed with the instance's name."""

    prefix: str

    @property
    def api(self) -> str:
        return f"{self.prefix}-apiserver"

    @property
    def init(self) -> str:
        return f"{self.prefix}-init"

    @property
    def redis(self) -> str:
        return f"{self.prefix}-redis"

    def role(self, suffix: str) -> str:
        return f"{self.prefix}-{suffix}"

    def worker(self, index: int) -> str:
        return f"{self.prefix}-worker-{index}"


@dataclass(frozen=True)
class AirflowSecrets:
    """Secrets every Airflow container must share."""

    fernet_key: pulumi.Input[str]
    api_secret_key: pulumi.Input[str]
    jwt_secret: pulumi.Input[str]
    admin_password: pulumi.Input[str]
    redis_password: pulumi.Input[str] | None = None


@dataclass(frozen=True)
class AirflowWiring:
    """Where Airflow's dependencies are and what the DAGs are told."""

    database: ConnectionInfo
    """The ``airflow`` role's connection (metadata DB and Celery results)."""
    mlflow_tracking_uri: str
    """In-network MLflow URI given to the DAGs."""
    environment: str
    """Environment name, passed to the DAGs."""
    mlflow_username: str | None = None
    """MLflow basic-auth user, when MLflow auth is on."""
    mlflow_password: pulumi.Input[str] | None = None
    """MLflow basic-auth password (secret), when MLflow auth is on."""
    airbyte_connection: pulumi.Input[str] | None = None
    """JSON for AIRFLOW_CONN_AIRBYTE_DEFAULT; None when Airbyte is off."""
    airbyte_connection_id: str | None = None
    """Airbyte connection the ingest DAG syncs."""
    jwt_issuer: str = ""
    """Set by the component from the stack name."""
    browser_url: str = ""
    """Set by the component from the bind address and port."""


@dataclass(frozen=True)
class AirflowVolumes:
    logs: pulumi.Input[str]
    data: pulumi.Input[str]
    dags_host_path: str | None = None
    """Host folder bind-mounted read-only over the image's DAGs (``dags: mount``)."""


def mlflow_connection(tracking_uri: str, username: str | None) -> dict[str, Any]:
    """The ``mlflow_default`` Airflow connection (an HTTP connection to the tracking server)."""
    scheme, rest = tracking_uri.split("://", 1)
    host, port = rest.rstrip("/").split(":")
    conn: dict[str, Any] = {"conn_type": "http", "host": host, "port": int(port), "schema": scheme}
    if username:
        conn["login"] = username
    return conn


def common_env(
    names: AirflowNames, config: AirflowConfig, wiring: AirflowWiring
) -> tuple[dict[str, str], dict[str, pulumi.Input[str]]]:
    """Settings shared by every Airflow container: (plain, secret)."""
    env = {
        "AIRFLOW__CORE__EXECUTOR": config.executor,
        "AIRFLOW__CORE__AUTH_MANAGER": FAB_AUTH_MANAGER,
        "AIRFLOW__CORE__LOAD_EXAMPLES": "false",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "true",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://{names.api}:{API_PORT}/execution/",
        "AIRFLOW__API_AUTH__JWT_ISSUER": wiring.jwt_issuer,
        "AIRFLOW__API__BASE_URL": wiring.browser_url,
        "AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK": "true",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "30" if config.dags == "mount" else "300",
        "MLFLOW_TRACKING_URI": wiring.mlflow_tracking_uri,
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
        "MLPLATFORM_DATA_DIR": DATA_DIR,
        "MLPLATFORM_ENVIRONMENT": wiring.environment,
        "MLPLATFORM_AIRBYTE_ENABLED": "true" if wiring.airbyte_connection is not None else "false",
        "MLPLATFORM_AIRBYTE_CONNECTION_ID": wiring.airbyte_connection_id or "",
    }
    secret_env: dict[str, pulumi.Input[str]] = {}
    mlflow_conn = mlflow_connection(wiring.mlflow_tracking_uri, wiring.mlflow_username)
    if wiring.mlflow_username and wiring.mlflow_password is not None:
        env["MLFLOW_TRACKING_USERNAME"] = wiring.mlflow_username
        secret_env["MLFLOW_TRACKING_PASSWORD"] = wiring.mlflow_password
        secret_env["AIRFLOW_CONN_MLFLOW_DEFAULT"] = pulumi.Output.from_input(wiring.mlflow_password).apply(
            lambda pw: json.dumps({**mlflow_conn, "password": pw})
        )
    else:
        env["AIRFLOW_CONN_MLFLOW_DEFAULT"] = json.dumps(mlflow_conn)
    if wiring.airbyte_connection is not None:
        secret_env["AIRFLOW_CONN_AIRBYTE_DEFAULT"] = wiring.airbyte_connection
    if config.executor == "CeleryExecutor":
        env["AIRFLOW__CELERY__WORKER_CONCURRENCY"] = "8"
    return env, secret_env


#: Sensitive Airflow options read from secret files through Airflow's ``_CMD`` variants
#: (supported for these options), so the values stay out of `docker inspect`.
def secret_option_file(option: str) -> str:
    """Secret file name for an Airflow option, e.g. AIRFLOW__CORE__FERNET_KEY -> airflow-core-fernet-key."""
    return "airflow-" + option.removeprefix("AIRFLOW__").lower().replace("__", "-").replace("_", "-")


def shared_secret_files(
    names: AirflowNames, secrets_: AirflowSecrets, database: ConnectionInfo, executor: str
) -> tuple[dict[str, str], dict[str, pulumi.Input[str]]]:
    """Secrets every Airflow container must share, as (``*_CMD`` env, secret files).

    All of these are options Airflow marks sensitive, which it reads through
    ``<OPTION>_CMD``; the values stay out of the env and `docker inspect`.
    """
    values: dict[str, pulumi.Input[str]] = {
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database.url("postgresql+psycopg2"),
        "AIRFLOW__CORE__FERNET_KEY": secrets_.fernet_key,
        "AIRFLOW__API__SECRET_KEY": secrets_.api_secret_key,
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets_.jwt_secret,
    }
    if executor == "CeleryExecutor":
        if secrets_.redis_password is None:
            raise ValueError("CeleryExecutor needs a Redis password")
        values["AIRFLOW__CELERY__BROKER_URL"] = pulumi.Output.concat(
            "redis://:", secrets_.redis_password, f"@{names.redis}:{REDIS_PORT}/0"
        )
        values["AIRFLOW__CELERY__RESULT_BACKEND"] = database.url("db+postgresql")
    env = {f"{option}_CMD": f"cat {secret_path(secret_option_file(option))}" for option in values}
    files = {secret_option_file(option): value for option, value in values.items()}
    return env, files


def _shell_check(command: str, **kwargs: int) -> HealthCheck:
    # CMD-SHELL so $HOSTNAME expands inside the container (a single `$` in the Docker API).
    return HealthCheck(test=("CMD-SHELL", command), **kwargs)


#: Per role (the service name's suffix): command and health check, as upstream's compose file defines them.
ROLES: dict[str, tuple[tuple[str, ...], HealthCheck]] = {
    "apiserver": (
        ("api-server",),
        _shell_check(f"curl --fail --silent http://localhost:{API_PORT}/api/v2/monitor/health", start_period_s=60),
    ),
    "scheduler": (
        ("scheduler",),
        _shell_check("curl --fail --silent http://localhost:8974/health", start_period_s=60),
    ),
    "dag-processor": (
        ("dag-processor",),
        _shell_check(
            'airflow jobs check --job-type DagProcessorJob --hostname "$HOSTNAME"', timeout_s=30, start_period_s=60
        ),
    ),
    "triggerer": (
        ("triggerer",),
        _shell_check(
            'airflow jobs check --job-type TriggererJob --hostname "$HOSTNAME"', timeout_s=30, start_period_s=60
        ),
    ),
}
WORKER_HEALTHCHECK = _shell_check(
    f'celery --app {CELERY_APP} inspect ping -d "celery@$HOSTNAME"', interval_s=30, timeout_s=20, start_period_s=60
)


def airflow_specs(
    names: AirflowNames,
    image: pulumi.Input[str],
    config: AirflowConfig,
    wiring: AirflowWiring,
    secrets_: AirflowSecrets,
    volumes: AirflowVolumes,
) -> tuple[ContainerSpec, list[ContainerSpec]]:
    """(init job, long-running services) for the configured executor."""
    env, secret_env = common_env(names, config, wiring)
    cmd_env, files = shared_secret_files(names, secrets_, wiring.database, config.executor)
    env = {**env, **cmd_env}
    mounts = [VolumeMount(LOGS_DIR, volume=volumes.logs), VolumeMount(DATA_DIR, volume=volumes.data)]
    if volumes.dags_host_path is not None:
        mounts.append(VolumeMount(DAGS_DIR, host_path=volumes.dags_host_path, read_only=True))

    def spec(
        service: str,
        command: tuple[str, ...],
        healthcheck: HealthCheck,
        limits: Limits,
        extra_env: Mapping[str, str] = {},
        internal_port: int | None = None,
        host_port: int | None = None,
    ) -> ContainerSpec:
        # A resolvable hostname per container lets the api-server fetch served task logs.
        return ContainerSpec(
            service=service,
            image=image,
            command=command,
            env={**env, **extra_env},
            secret_env=secret_env,
            secret_files=files,
            healthcheck=healthcheck,
            volumes=tuple(mounts),
            limits=limits,
            hostname=service,
            internal_port=internal_port,
            host_port=host_port,
        )

    init = ContainerSpec(
        service=names.init,
        image=image,
        command=("bash", "-c", INIT_SCRIPT),
        env={
            **env,
            "MLPLATFORM_ADMIN_USERNAME": config.admin_username,
            "MLPLATFORM_ADMIN_EMAIL": f"{config.admin_username}@{wiring.environment}.mlplatform.localhost",
        },
        secret_env=secret_env,
        secret_files={**files, ADMIN_PASSWORD_FILE: secrets_.admin_password},
        volumes=tuple(mounts),
        limits=config.limits,
        one_shot=True,
        rerun_every_deploy=True,
    )
    services = []
    for role, (command, healthcheck) in ROLES.items():
        service = names.role(role)
        if service == names.api:
            services.append(spec(service, command, healthcheck, config.limits, internal_port=API_PORT,
                                 host_port=config.port))
        else:
            services.append(spec(service, command, healthcheck, config.limits))
    if config.executor == "CeleryExecutor":
        for index in range(1, config.workers + 1):
            # DUMB_INIT_SETSID=0 lets Celery finish running tasks on stop (warm shutdown), as upstream does.
            services.append(
                spec(
                    names.worker(index),
                    ("celery", "worker"),
                    WORKER_HEALTHCHECK,
                    config.worker_limits,
                    extra_env={"DUMB_INIT_SETSID": "0"},
                )
            )
    return init, services


REDIS_PASSWORD_FILE = secret_path("redis-password")


def redis_spec(
    service: str, image: pulumi.Input[str], password: pulumi.Input[str], volume: pulumi.Input[str], limits: Limits
) -> ContainerSpec:
    """The Celery broker; its health check proves the password works (a plain ping passes even on NOAUTH)."""
    return ContainerSpec(
        service=service,
        image=image,
        command=("sh", "-c", f'exec redis-server --requirepass "$(cat {REDIS_PASSWORD_FILE})" --appendonly yes'),
        secret_files={"redis-password": password},
        healthcheck=_shell_check(
            f'REDISCLI_AUTH="$(cat {REDIS_PASSWORD_FILE})" redis-cli ping | grep -q PONG', interval_s=5
        ),
        volumes=(VolumeMount("/data", volume=volume),),
        limits=limits,
    )


@dataclass
class AirflowClusterArgs:
    """Inputs of the AirflowCluster component."""

    config: AirflowConfig
    """The stack's ``airflow`` settings."""
    base_image: str
    """Pinned official Airflow image the platform's image derives from."""
    redis_image: str
    """Pinned Redis image (CeleryExecutor only)."""
    context: StackContext
    """Network, bind address and naming shared by the stack."""
    database_container: docker.Container
    """Started (and healthy) before the init job runs."""
    wiring: AirflowWiring
    """The database, MLflow and Airbyte settings Airflow and its DAGs use."""
    depends_on: list[pulumi.Resource] = field(default_factory=list)
    """Other resources (e.g. MLflow) to start before Airflow's services."""


class AirflowCluster(PlatformComponent):
    """Airflow 3 running the repo's DAGs."""

    TYPE = "mlplatform:index:AirflowCluster"
    DEFAULT_NAME = "airflow"

    url: str
    """Browser URL of the UI and REST API."""
    internal_url: str
    """In-network URL of the api-server."""
    admin_username: str
    admin_password: pulumi.Output[str]
    """Secret."""
    init_succeeded: pulumi.Output[bool]
    """Resolves only when the init job exited 0 (fails the deploy otherwise)."""
    services: dict[str, docker.Container]

    def __init__(self, name: str, args: AirflowClusterArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        child = self.child_opts()
        ctx, config = args.context, args.config
        names = AirflowNames(name)
        celery = config.executor == "CeleryExecutor"
        image = built_image(
            self.child_name("image"),
            repository="mlplatform/airflow",
            dockerfile="images/airflow/Dockerfile",
            inputs=[REPO_ROOT / "images/airflow", REPO_ROOT / "constraints.txt"]
            + ([REPO_ROOT / "dags"] if config.dags == "bake" else []),
            build_args={"AIRFLOW_BASE": args.base_image},
            target="baked" if config.dags == "bake" else "runtime",
            opts=child,
        )
        self.admin_username = config.admin_username
        self.admin_password = secrets.password(self.child_name("admin"), child)
        redis_password = None
        if celery:
            redis_password = secrets.password(names.redis, self.child_opts(was=self.legacy("redis")))
        shared = AirflowSecrets(
            fernet_key=secrets.fernet_key(self.child_name("fernet-key"), child),
            api_secret_key=secrets.hex_secret(self.child_name("api-secret-key"), 32, child),
            jwt_secret=secrets.hex_secret(self.child_name("jwt-secret"), JWT_SECRET_BYTES, child),
            admin_password=self.admin_password,
            redis_password=redis_password,
        )

        def volume(role: str) -> docker.Volume:
            return data_volume(self.child_name(role), name, ctx, self)

        volumes = AirflowVolumes(
            logs=volume("logs").name,
            data=volume("data").name,
            dags_host_path=str(REPO_ROOT / "dags") if config.dags == "mount" else None,
        )
        wiring = dataclasses.replace(
            args.wiring, jwt_issuer=f"{ctx.project}-{ctx.stack}", browser_url=ctx.browser_url(config.port)
        )
        before_init: list[pulumi.Resource] = [args.database_container]
        if celery and redis_password is not None:
            redis_image = pulled_image(
                f"{names.redis}-image", args.redis_image, self.child_opts(was=self.legacy("redis-image"))
            )
            redis = declare_container(
                redis_spec(names.redis, redis_image.image_id, redis_password, volume("redis").name, config.limits),
                ctx,
                self.child_opts(was=self.legacy("redis")),
            )
            before_init.append(redis)
        init_spec, service_specs = airflow_specs(names, image.image_id, config, wiring, shared, volumes)
        init = declare_container(init_spec, ctx, self.child_opts(depends_on=before_init))
        self.init_succeeded = job_succeeded(init, init_spec.service)
        after_init = self.child_opts(depends_on=[init, *args.depends_on])
        self.services = {s.service: declare_container(s, ctx, after_init) for s in service_specs}
        self.url = ctx.browser_url(config.port)
        self.internal_url = f"http://{names.api}:{API_PORT}"
        self.register_outputs(
            {"url": self.url, "internal_url": self.internal_url, "init_succeeded": self.init_succeeded}
        )
