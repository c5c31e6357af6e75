"""Apache Airflow 3 as separate containers: init job, api-server, scheduler,
dag-processor, triggerer, and with CeleryExecutor a Redis broker and N workers.

What makes a multi-container Airflow 3 actually work (see
shared/reference/service-contracts.md):
- the Fernet key, API secret key, JWT secret and issuer are generated once and
  set identically on every container (otherwise each writes its own random
  airflow.cfg and task calls to the Execution API get 403);
- the execution API URL points at the api-server's network alias;
- the FAB auth manager keeps users in PostgreSQL, and the init job re-asserts
  the generated admin password on every deploy (read from a file, never from a
  command line), so it never "changes on restart";
- the init job runs each step without ``|| true`` and the deploy fails if it
  fails; every other container starts only after it;
- behind PgBouncer (transaction pooling) the services reach PostgreSQL through
  the pooler with drivers that need no server-side prepared statements, while
  the init job migrates directly (migrations hold a session advisory lock);
- the DAGs log to MLflow as their own least-privileged user, whose password is
  a credentials file readable by the airflow user only, not an env variable.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_docker as docker

from components import ingestion, secrets
from components.base import PlatformComponent
from components.database import ConnectionInfo
from components.images import built_image, pulled_image
from components.mlflow_server import MLflowLogin, mlflow_credentials
from components.service import (
    ContainerSpec,
    FileOwner,
    HealthCheck,
    StackContext,
    Stop,
    Upload,
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
#: HS512 needs a key of at least 64 bytes.
JWT_SECRET_BYTES = 64
#: The airflow user of the official image (uid 50000, group root): it reads every secret file.
AIRFLOW_USER = FileOwner(uid=50000, gid=0)
#: The MLflow client reads this file when no MLFLOW_TRACKING_USERNAME/PASSWORD is set.
MLFLOW_CREDENTIALS_PATH = "/home/airflow/.mlflow/credentials"
#: images/airflow/config/mlplatform_pgbouncer.py, on Airflow's import path ($AIRFLOW_HOME/config).
PGBOUNCER_CONNECT_ARGS = "mlplatform_pgbouncer.ASYNC"
#: Shipped in the image (images/airflow/scripts/): creates or re-asserts a FAB user from a password file.
ENSURE_USER_SCRIPT = "/opt/mlplatform/ensure_user.py"

ADMIN_PASSWORD_FILE = "airflow-admin-password"
#: Services stop on SIGTERM; the process that runs tasks (Celery worker, LocalExecutor scheduler) then waits for
#: its running tasks, for as long as the longest task may take (Airflow's Helm chart gives workers 600 s).
SERVICE_STOP = Stop("SIGTERM", 60)
TASK_RUNNER_STOP = Stop("SIGTERM", 600)

INIT_SCRIPT = f"""\
set -euo pipefail
echo "mlplatform: migrating the Airflow metadata database"
airflow db migrate
echo "mlplatform: ensuring admin user ${{MLPLATFORM_ADMIN_USERNAME}}"
python {ENSURE_USER_SCRIPT} --username "${{MLPLATFORM_ADMIN_USERNAME}}" --role Admin \\
  --email "${{MLPLATFORM_ADMIN_EMAIL}}" --password-file {secret_path(ADMIN_PASSWORD_FILE)}
if [ "${{MLPLATFORM_ROTATE_FERNET:-false}}" = true ]; then
  echo "mlplatform: re-encrypting connections and variables with the new Fernet key"
  airflow rotate-fernet-key
fi
echo "mlplatform: Airflow init complete"
"""


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
    rotating_fernet: bool = False
    """The Fernet key lists a previous key: the init job re-encrypts everything with the new one."""


@dataclass(frozen=True)
class IngestWiring:
    """What the task runners get for ingestion (components/ingestion.py): secret files and the table to train on."""

    warehouse: pulumi.Input[str]
    """The ingest role's login document (secret)."""
    sources: pulumi.Input[str]
    """The sources document (secret)."""
    traffic_table: str
    """``<schema>.<table>`` that transform_data reads."""

    def env(self) -> dict[str, str]:
        return {
            "MLPLATFORM_WAREHOUSE_FILE": secret_path(ingestion.WAREHOUSE_FILE),
            "MLPLATFORM_INGEST_SOURCES_FILE": secret_path(ingestion.SOURCES_FILE),
            "MLPLATFORM_TRAFFIC_TABLE": self.traffic_table,
            "MLPLATFORM_PYAIRBYTE_PYTHON": ingestion.PYAIRBYTE_PYTHON,
            # PyAirbyte: no registry lookups or telemetry (connectors run from their baked virtualenvs).
            "AIRBYTE_OFFLINE_MODE": "1",
        }

    def files(self) -> dict[str, pulumi.Input[str]]:
        return {ingestion.WAREHOUSE_FILE: self.warehouse, ingestion.SOURCES_FILE: self.sources}


@dataclass(frozen=True)
class AirflowWiring:
    """Where Airflow's dependencies are and what the DAGs are told."""

    database: ConnectionInfo
    """The ``airflow`` role's direct connection (migrations, and everything when there is no pooler)."""
    mlflow_tracking_uri: str
    """In-network MLflow URI given to the DAGs."""
    environment: str
    """Environment name, passed to the DAGs."""
    pooled_database: ConnectionInfo | None = None
    """The same database through PgBouncer, for the long-running services; None without a pooler."""
    mlflow_login: MLflowLogin | None = None
    """The DAGs' MLflow user, when MLflow auth is on."""
    airbyte_connection: pulumi.Input[str] | None = None
    """JSON for AIRFLOW_CONN_AIRBYTE_DEFAULT; None when Airbyte is off."""
    airbyte_connection_id: str | None = None
    """Airbyte connection the ingest DAG syncs."""
    ingestion: IngestWiring | None = None
    """The warehouse and the connectors the ingest DAG runs; None leaves the chain on the data dir alone."""
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
    """The ``mlflow_default`` Airflow connection (an HTTP connection to the tracking server; no password:
    the MLflow client authenticates from its credentials file)."""
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
    login = wiring.mlflow_login
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
        # Unchanged files only: an edited file is re-parsed at once (file_parsing_sort_mode=modified_time).
        "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "120",
        "AIRFLOW_CONN_MLFLOW_DEFAULT": json.dumps(
            mlflow_connection(wiring.mlflow_tracking_uri, login.username if login else None)
        ),
        "MLFLOW_TRACKING_URI": wiring.mlflow_tracking_uri,
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
        "MLPLATFORM_DATA_DIR": DATA_DIR,
        "MLPLATFORM_ENVIRONMENT": wiring.environment,
        "MLPLATFORM_AIRBYTE_ENABLED": "true" if wiring.airbyte_connection is not None else "false",
        "MLPLATFORM_AIRBYTE_CONNECTION_ID": wiring.airbyte_connection_id or "",
    }
    secret_env: dict[str, pulumi.Input[str]] = {}
    if wiring.airbyte_connection is not None:
        secret_env["AIRFLOW_CONN_AIRBYTE_DEFAULT"] = wiring.airbyte_connection
    if config.executor == "CeleryExecutor":
        env["AIRFLOW__CELERY__WORKER_CONCURRENCY"] = "8"
    parallelism = config.parallelism or (LOCAL_PARALLELISM if config.executor == "LocalExecutor" else None)
    if parallelism is not None:
        env["AIRFLOW__CORE__PARALLELISM"] = str(parallelism)
    return env, secret_env


def secret_option_file(option: str) -> str:
    """Secret file name for an Airflow option, e.g. AIRFLOW__CORE__FERNET_KEY -> airflow-core-fernet-key."""
    return "airflow-" + option.removeprefix("AIRFLOW__").lower().replace("__", "-").replace("_", "-")


def secret_options(
    names: AirflowNames, secrets_: AirflowSecrets, database: ConnectionInfo, executor: str, pooled: bool
) -> tuple[dict[str, str], dict[str, pulumi.Input[str]]]:
    """Sensitive options as (``*_CMD`` env, secret files): Airflow reads them through ``<OPTION>_CMD``,
    so the values stay out of the env and `docker inspect`.

    ``database`` is where this container reaches the metadata database; ``pooled`` says it is PgBouncer,
    whose transaction pooling the async engine survives only with psycopg and no prepared statements.
    """
    values: dict[str, pulumi.Input[str]] = {
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": database.url("postgresql+psycopg2"),
        "AIRFLOW__CORE__FERNET_KEY": secrets_.fernet_key,
        "AIRFLOW__API__SECRET_KEY": secrets_.api_secret_key,
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets_.jwt_secret,
    }
    env: dict[str, str] = {}
    if pooled:
        values["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC"] = database.url("postgresql+psycopg_async")
        env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS_ASYNC"] = PGBOUNCER_CONNECT_ARGS
    if executor == "CeleryExecutor":
        if secrets_.redis_password is None:
            raise ValueError("CeleryExecutor needs a Redis password")
        values["AIRFLOW__CELERY__BROKER_URL"] = pulumi.Output.concat(
            "redis://:", secrets_.redis_password, f"@{names.redis}:{REDIS_PORT}/0"
        )
        values["AIRFLOW__CELERY__RESULT_BACKEND"] = database.url("db+postgresql")
    env.update({f"{option}_CMD": f"cat {secret_path(secret_option_file(option))}" for option in values})
    files = {secret_option_file(option): value for option, value in values.items()}
    return env, files


def _shell_check(command: str, **kwargs: int) -> HealthCheck:
    # CMD-SHELL so $HOSTNAME expands inside the container (a single `$` in the Docker API).
    return HealthCheck(test=("CMD-SHELL", command), **kwargs)


#: images/airflow/scripts/healthcheck.py: the questions `airflow jobs check` and `celery inspect ping` ask,
#: without starting all of Airflow every interval in every container.
HEALTHCHECK_SCRIPT = "/opt/mlplatform/healthcheck.py"


def _job_check(job_type: str) -> HealthCheck:
    """This host's job has heartbeated recently (what `airflow jobs check --hostname $HOSTNAME` checks)."""
    return HealthCheck(test=("CMD", "python", HEALTHCHECK_SCRIPT, "job", job_type), interval_s=15, timeout_s=10,
                       retries=6, start_period_s=60)


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
    "dag-processor": (("dag-processor",), _job_check("DagProcessorJob")),
    "triggerer": (("triggerer",), _job_check("TriggererJob")),
}
#: This host's Celery worker answers a ping over the broker (what `celery inspect ping -d celery@$HOSTNAME` checks).
WORKER_HEALTHCHECK = HealthCheck(test=("CMD", "python", HEALTHCHECK_SCRIPT, "celery"), interval_s=30, timeout_s=20,
                                 retries=6, start_period_s=60)
#: LocalExecutor's worker processes when ``airflow.parallelism`` is unset (Airflow's 32 idle at ~600 MB).
LOCAL_PARALLELISM = 4
#: Libraries the DAGs' tasks import, loaded once by the process that forks the tasks (the LocalExecutor
#: scheduler, each Celery worker): every task then starts with them instead of importing them for ~3 s.
#: images/airflow/config/airflow_local_settings.py imports them; only third-party code (a mounted DAG
#: folder's own modules must stay fresh in every task).
TASK_PRELOAD = {
    "MLPLATFORM_PRELOAD_MODULES": "pandas,sklearn.ensemble,sklearn.metrics,mlflow,mlflow.sklearn,matplotlib.pyplot",
    "MPLBACKEND": "Agg",
}
#: dumb-init signals only Airflow's main process (not the whole group), which then lets running tasks finish.
SIGNAL_MAIN_PROCESS_ONLY = {"DUMB_INIT_SETSID": "0"}
#: What the containers that run tasks (the LocalExecutor scheduler, Celery workers) add to the shared env.
TASK_RUNNER_ENV = {**SIGNAL_MAIN_PROCESS_ONLY, **TASK_PRELOAD}


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
    service_db = wiring.pooled_database or wiring.database
    cmd_env, files = secret_options(names, secrets_, service_db, config.executor, wiring.pooled_database is not None)
    init_cmd_env, init_files = secret_options(names, secrets_, wiring.database, config.executor, pooled=False)
    credentials = (Upload(MLFLOW_CREDENTIALS_PATH, mlflow_credentials(wiring.mlflow_login), secret=True),) \
        if wiring.mlflow_login else ()
    mounts = [VolumeMount(LOGS_DIR, volume=volumes.logs), VolumeMount(DATA_DIR, volume=volumes.data)]
    ingest = wiring.ingestion
    if volumes.dags_host_path is not None:
        mounts.append(VolumeMount(DAGS_DIR, host_path=volumes.dags_host_path, read_only=True))

    def spec(
        service: str,
        command: tuple[str, ...],
        healthcheck: HealthCheck,
        limits: Limits,
        stop: Stop = SERVICE_STOP,
        internal_port: int | None = None,
        host_port: int | None = None,
        runs_tasks: bool = False,
    ) -> ContainerSpec:
        # A resolvable hostname per container lets the api-server fetch served task logs.
        # Only the containers that run tasks get what tasks read: the warehouse login, the ingest sources.
        task_env = {**TASK_RUNNER_ENV, **(ingest.env() if ingest else {})} if runs_tasks else {}
        task_files = ingest.files() if runs_tasks and ingest else {}
        return ContainerSpec(
            service=service,
            image=image,
            command=command,
            env={**env, **cmd_env, **task_env},
            secret_env=secret_env,
            secret_files={**files, **task_files},
            secrets_owner=AIRFLOW_USER,
            uploads=credentials,
            healthcheck=healthcheck,
            volumes=tuple(mounts),
            limits=limits,
            hostname=service,
            internal_port=internal_port,
            host_port=host_port,
            stop=stop,
        )

    init = ContainerSpec(
        service=names.init,
        image=image,
        command=("bash", "-c", INIT_SCRIPT),
        env={
            **env,
            **init_cmd_env,
            "MLPLATFORM_ADMIN_USERNAME": config.admin_username,
            "MLPLATFORM_ADMIN_EMAIL": f"{config.admin_username}@{wiring.environment}.mlplatform.localhost",
            "MLPLATFORM_ROTATE_FERNET": "true" if secrets_.rotating_fernet else "false",
        },
        secret_env=secret_env,
        secret_files={**init_files, ADMIN_PASSWORD_FILE: secrets_.admin_password},
        secrets_owner=AIRFLOW_USER,
        volumes=tuple(mounts),
        limits=config.limits,
        one_shot=True,
        rerun_every_deploy=True,
    )
    services = []
    local = config.executor == "LocalExecutor"
    for role, (command, healthcheck) in ROLES.items():
        service = names.role(role)
        if service == names.api:
            services.append(spec(service, command, healthcheck, config.limits, internal_port=API_PORT,
                                 host_port=config.port))
        elif role == "scheduler" and local:
            # With LocalExecutor the scheduler runs the tasks: it stops like a worker.
            services.append(spec(service, command, healthcheck, config.limits, stop=TASK_RUNNER_STOP,
                                 runs_tasks=True))
        else:
            services.append(spec(service, command, healthcheck, config.limits))
    if not local:
        for index in range(1, config.workers + 1):
            services.append(
                spec(names.worker(index), ("celery", "worker"), WORKER_HEALTHCHECK, config.worker_limits,
                     stop=TASK_RUNNER_STOP, runs_tasks=True)
            )
    return init, services


#: The redis user of the official image (and of the e2e stand-in).
REDIS_USER = FileOwner(uid=999, gid=999)
REDIS_CONFIG_PATH = "/usr/local/etc/redis/redis.conf"
REDIS_PASSWORD_FILE = "redis-password"


def redis_config(password: pulumi.Input[str]) -> pulumi.Output[str]:
    """redis.conf with the password: a file the redis user alone reads, so it is on no command line."""
    return pulumi.Output.secret(pulumi.Output.concat('requirepass "', password, '"\nappendonly yes\n'))


def redis_spec(
    service: str, image: pulumi.Input[str], password: pulumi.Input[str], volume: pulumi.Input[str], limits: Limits
) -> ContainerSpec:
    """The Celery broker, as the redis user; its health check proves the password (a plain ping passes on NOAUTH)."""
    return ContainerSpec(
        service=service,
        image=image,
        command=("redis-server", REDIS_CONFIG_PATH),
        user=f"{REDIS_USER.uid}:{REDIS_USER.gid}",
        uploads=(Upload(REDIS_CONFIG_PATH, redis_config(password), secret=True),),
        secret_files={REDIS_PASSWORD_FILE: password},
        secrets_owner=REDIS_USER,
        healthcheck=_shell_check(
            f'REDISCLI_AUTH="$(cat {secret_path(REDIS_PASSWORD_FILE)})" redis-cli ping | grep -q PONG', interval_s=5
        ),
        volumes=(VolumeMount("/data", volume=volume),),
        limits=limits,
        # SIGTERM: Redis saves its data set and exits.
        stop=Stop("SIGTERM", 30),
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
    protect_data: bool = False
    """Protect the logs, data and Redis volumes from deletion."""
    depends_on: list[pulumi.Resource] = field(default_factory=list)
    """Other resources (MLflow, the pooler) to start before Airflow's services."""


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
    data_volume: pulumi.Input[str]
    """The data volume the DAGs write data sets and batch scores to (the model app mounts it read-only)."""
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
        rotation = ctx.rotation
        self.admin_username = config.admin_username
        self.admin_password = secrets.password(self.child_name("admin"), child, generation=rotation.logins)
        redis_password = None
        if celery:
            redis_password = secrets.password(names.redis, self.child_opts(was=self.legacy("redis")),
                                              generation=rotation.redis)

        def fernet(generation: int) -> pulumi.Output[str]:
            suffix = "fernet-key" if generation == 0 else f"fernet-key-{generation}"
            return secrets.fernet_key(self.child_name(suffix), child)

        # While a rotation is under way, Airflow decrypts with either key and encrypts with the first.
        fernet_keys = [fernet(rotation.fernet)]
        if rotation.fernet_previous is not None:
            fernet_keys.append(fernet(rotation.fernet_previous))
        shared = AirflowSecrets(
            fernet_key=pulumi.Output.all(*fernet_keys).apply(",".join),
            api_secret_key=secrets.hex_secret(self.child_name("api-secret-key"), 32, child,
                                              generation=rotation.airflow_keys),
            jwt_secret=secrets.hex_secret(self.child_name("jwt-secret"), JWT_SECRET_BYTES, child,
                                          generation=rotation.airflow_keys),
            admin_password=self.admin_password,
            redis_password=redis_password,
            rotating_fernet=rotation.fernet_previous is not None,
        )

        def volume(role: str) -> docker.Volume:
            return data_volume(self.child_name(role), name, ctx, self, args.protect_data)

        volumes = AirflowVolumes(
            logs=volume("logs").name,
            data=volume("data").name,
            dags_host_path=str(REPO_ROOT / "dags") if config.dags == "mount" else None,
        )
        self.data_volume = volumes.data
        wiring = dataclasses.replace(
            args.wiring, jwt_issuer=f"{ctx.project}-{ctx.stack}", browser_url=ctx.browser_url(config.port)
        )
        before_init: list[pulumi.Resource] = [args.database_container]
        if celery and redis_password is not None:
            redis_image = pulled_image(f"{names.redis}-image", args.redis_image,
                                       self.child_opts(was=self.legacy("redis-image")))
            redis = declare_container(
                redis_spec(names.redis, redis_image.image_id, redis_password, volume("redis").name, config.limits),
                ctx, self.child_opts(was=self.legacy("redis")),
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
