"""MLflow tracking server and model registry.

Backend store on the platform's PostgreSQL, artifacts served through the
server (``--serve-artifacts``) onto a named volume or into an S3 bucket (the
stack's object store or an existing one), so clients need no shared volume and
no store credentials. With S3 the server holds the key (a credentials file of
the mlflow user) and, through the image's artifact plugin
(images/mlflow/mlplatform_artifacts.py), never hands out presigned store URLs:
every client's download stays proxied. Host-header validation (MLflow >= 3.5) is
configured from the server's own network alias and published endpoint, so
other containers and the browser both get through.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_docker as docker

from components import secrets
from components.base import PlatformComponent
from components.database import ConnectionInfo
from components.images import python_image
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
    url_host,
)
from config.models import Limits
from config.models import MLflow as MLflowConfig

PORT = 5000
ARTIFACTS_DIR = "/mlartifacts"
AUTH_CONFIG_PATH = "/etc/mlflow/basic_auth.ini"
ADMIN_USER = "admin"
#: The mlflow user of the image (images/mlflow/Dockerfile): the server reads its secrets as it.
MLFLOW_USER = FileOwner(uid=1000, gid=1000)
#: Database holding MLflow's users and permissions when basic auth is on.
AUTH_DATABASE = "mlflow_auth"

HEALTHCHECK = HealthCheck(
    # The image has no curl; /health answers 200 "OK" and skips host validation and auth.
    test=(
        "CMD",
        "python",
        "-c",
        f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{PORT}/health', timeout=4)",
    ),
    interval_s=10,
    timeout_s=6,
    retries=12,
    start_period_s=60,
)


def tracking_uri(service: str) -> str:
    """The server's URI for containers on the stack network."""
    return f"http://{service}:{PORT}"


def allowed_hosts(service: str, public_host: str, host_port: int, extra: tuple[str, ...] = ()) -> list[str]:
    """Host headers the server accepts: its alias (other containers) and its published endpoint (browsers).

    The setting replaces MLflow's defaults and matches exactly, so each name is
    listed with and without its port.
    """
    names = [(service, PORT), ("localhost", host_port), ("127.0.0.1", host_port)]
    if url_host(public_host) not in ("localhost", "127.0.0.1"):
        names.append((url_host(public_host), host_port))
    hosts: list[str] = []
    for name, port in names:
        hosts += [name, f"{name}:{port}"]
    for entry in extra:
        hosts += [entry] if ":" in entry else [entry, f"{entry}:{host_port}"]
    return list(dict.fromkeys(hosts))


def browser_origins(public_host: str, host_port: int) -> list[str]:
    hosts = list(dict.fromkeys(["localhost", "127.0.0.1", url_host(public_host)]))
    return [f"http://{h}:{host_port}" for h in hosts]


#: MLflow's own cache of verified logins (basic_auth.ini): without it every request pays a scrypt check
#: (~0.14 s of CPU), which made the prod training DAG 2.5x slower. A password rotation changes this file
#: (the admin password rotates with every login), so the server is replaced and forgets the old ones.
AUTH_CACHE_TTL_S = 60


def auth_config(admin_password: pulumi.Input[str], auth_db_url: pulumi.Input[str]) -> pulumi.Output[str]:
    """basic_auth.ini: users kept in PostgreSQL, generated admin password (secret), verified logins cached."""
    return pulumi.Output.secret(
        pulumi.Output.format(
            "[mlflow]\n"
            "default_permission = READ\n"
            "database_uri = {0}\n"
            "admin_username = " + ADMIN_USER + "\n"
            "admin_password = {1}\n"
            "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
            f"auth_cache_ttl_seconds = {AUTH_CACHE_TTL_S}\n",
            auth_db_url,
            admin_password,
        )
    )


@dataclass(frozen=True)
class ClientUser:
    """A non-admin MLflow user the platform creates (e.g. for Airflow's DAGs), and what it may edit."""

    username: str
    experiments: tuple[str, ...] = ()
    """Experiments it gets EDIT on if they already exist (new ones are their creator's)."""
    registered_models: tuple[str, ...] = ()
    """Registered models it gets EDIT on if they already exist."""


@dataclass(frozen=True)
class AuthSettings:
    """Basic-auth secrets; present only when ``mlflow.auth`` is on."""

    admin_password: pulumi.Input[str]
    flask_secret_key: pulumi.Input[str]
    auth_db_url: pulumi.Input[str]
    users: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Client users' generated passwords, by name."""
    grants: tuple[ClientUser, ...] = ()


BACKEND_URI_FILE = "mlflow-backend-store-uri"
FLASK_SECRET_FILE = "mlflow-flask-secret-key"
ADMIN_PASSWORD_FILE = "mlflow-admin-password"
INIT_SCRIPT_PATH = "/opt/mlflow/mlplatform/mlflow_init.py"


S3_CREDENTIALS_FILE = "mlflow-s3-credentials"


def user_password_file(username: str) -> str:
    return f"mlflow-{username}-password"


@dataclass(frozen=True)
class S3Artifacts:
    """Artifacts in an S3 bucket (``mlflow.artifacts``: ``object_store`` or ``external``)."""

    endpoint_url: str
    """S3 API the server talks to (e.g. http://objectstore:3900)."""
    bucket: str
    prefix: str
    """Key prefix under the bucket ("" for the bucket's root)."""
    region: str
    access_key_id: pulumi.Input[str]
    secret_access_key: pulumi.Input[str]
    depends_on: Sequence[pulumi.Resource] = ()
    """What must be ready first (the store's init job: bucket and key)."""

    @property
    def destination(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}".rstrip("/")



@dataclass(frozen=True)
class MLflowLogin:
    """An MLflow user a client logs in as (the DAGs, the model server, the app: never MLflow's admin)."""

    username: str
    password: pulumi.Input[str]


def mlflow_credentials(login: MLflowLogin) -> pulumi.Output[str]:
    """``~/.mlflow/credentials`` for the MLflow client (its ``[mlflow]`` section)."""
    return pulumi.Output.secret(
        pulumi.Output.concat(
            "[mlflow]\n", f"mlflow_tracking_username = {login.username}\n",
            "mlflow_tracking_password = ", login.password, "\n",
        )
    )


def s3_credentials(artifacts: S3Artifacts) -> pulumi.Output[str]:
    """An AWS shared credentials file (boto3 reads it through AWS_SHARED_CREDENTIALS_FILE)."""
    return pulumi.Output.secret(
        pulumi.Output.concat(
            "[default]\naws_access_key_id = ", artifacts.access_key_id,
            "\naws_secret_access_key = ", artifacts.secret_access_key, "\n",
        )
    )


def s3_env(artifacts: S3Artifacts) -> dict[str, str]:
    """Where boto3 finds the store and the key: no key in the env, only the path of the file."""
    return {
        "MLFLOW_ARTIFACTS_DESTINATION": artifacts.destination,
        "MLFLOW_S3_ENDPOINT_URL": artifacts.endpoint_url,
        "AWS_DEFAULT_REGION": artifacts.region,
        "AWS_SHARED_CREDENTIALS_FILE": secret_path(S3_CREDENTIALS_FILE),
        # Nothing else of boto3's chain: no config file, no instance metadata service.
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_EC2_METADATA_DISABLED": "true",
        # Path-style requests (http://store:port/bucket/key): S3-compatible stores need no DNS per bucket.
        "MLFLOW_BOTO_CLIENT_ADDRESSING_STYLE": "path",
    }


def _server_env(service: str, config: MLflowConfig, public_host: str) -> dict[str, str]:
    return {
        "MLFLOW_ARTIFACTS_DESTINATION": ARTIFACTS_DIR,
        "MLFLOW_SERVER_ALLOWED_HOSTS": ",".join(
            allowed_hosts(service, public_host, config.port, tuple(config.extra_allowed_hosts))
        ),
        "MLFLOW_SERVER_CORS_ALLOWED_ORIGINS": ",".join(browser_origins(public_host, config.port)),
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "DO_NOT_TRACK": "true",
        "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "true" if config.background_jobs else "false",
    }


def mlflow_spec(
    service: str,
    image: pulumi.Input[str],
    config: MLflowConfig,
    public_host: str,
    backend_store_uri: pulumi.Input[str],
    artifacts_volume: pulumi.Input[str] | None,
    auth: AuthSettings | None = None,
    s3: S3Artifacts | None = None,
) -> ContainerSpec:
    """The tracking server container.

    MLflow reads its backend URI (which holds the password) and Flask key only
    from env or flags, so a shell wrapper exports them from secret files at
    start: they never appear in the container's configured env or command.
    """
    args = ["--host", "0.0.0.0", "--port", str(PORT), "--workers", str(config.workers), "--serve-artifacts"]
    env = _server_env(service, config, public_host)
    files: dict[str, pulumi.Input[str]] = {BACKEND_URI_FILE: backend_store_uri}
    uploads: tuple[Upload, ...] = ()
    volumes: tuple[VolumeMount, ...] = ()
    if s3 is not None:
        env.update(s3_env(s3))
        files[S3_CREDENTIALS_FILE] = s3_credentials(s3)
    elif artifacts_volume is not None:
        volumes = (VolumeMount(container_path=ARTIFACTS_DIR, volume=artifacts_volume),)
    else:
        raise ValueError(f"{service}: artifacts need a volume or an S3 bucket")
    if auth is not None:
        args += ["--app-name", "basic-auth"]
        env["MLFLOW_AUTH_CONFIG_PATH"] = AUTH_CONFIG_PATH
        files[FLASK_SECRET_FILE] = auth.flask_secret_key
        uploads = (Upload(AUTH_CONFIG_PATH, auth_config(auth.admin_password, auth.auth_db_url), secret=True),)
    exports = "".join(
        f'export {var}="$(cat {secret_path(name)})"; '
        for var, name in (("MLFLOW_BACKEND_STORE_URI", BACKEND_URI_FILE),
                          ("MLFLOW_FLASK_SERVER_SECRET_KEY", FLASK_SECRET_FILE))
        if name in files
    )
    return ContainerSpec(
        service=service,
        image=image,
        command=("sh", "-c", exports + 'exec mlflow server "$@"', "mlflow-server", *args),
        env=env,
        secret_files=files,
        secrets_owner=MLFLOW_USER,
        healthcheck=HEALTHCHECK,
        internal_port=PORT,
        host_port=config.port,
        volumes=volumes,
        uploads=uploads,
        limits=config.limits,
        # `mlflow server` forwards SIGTERM to its uvicorn workers, which finish their requests.
        stop=Stop("SIGTERM", 30),
    )


def init_script(auth: AuthSettings | None) -> str:
    """Migrate the tracking schema; with auth, make the users match the stack. Stops at the first failure."""
    lines = ["set -eu", f"python {INIT_SCRIPT_PATH} upgrade --uri-file {secret_path(BACKEND_URI_FILE)}"]
    if auth is not None:
        users = [f"--user {ADMIN_USER}:{secret_path(ADMIN_PASSWORD_FILE)}:admin"]
        users += [f"--user {name}:{secret_path(user_password_file(name))}:user" for name in sorted(auth.users)]
        grants = [f"--grant {u.username}:experiment:{e}" for u in auth.grants for e in u.experiments]
        grants += [f"--grant {u.username}:registered_model:{m}" for u in auth.grants for m in u.registered_models]
        tracking = [f"--tracking-uri-file {secret_path(BACKEND_URI_FILE)}"] if grants else []
        lines.append(" ".join([f"python {INIT_SCRIPT_PATH} users", *users, *grants, *tracking]))
    return "\n".join(lines) + "\n"


def init_spec(
    service: str,
    image: pulumi.Input[str],
    backend_store_uri: pulumi.Input[str],
    auth: AuthSettings | None,
    limits: Limits | None = None,
) -> ContainerSpec:
    """The job that runs before the server on every deploy: `mlflow db upgrade`, and the basic-auth users.

    MLflow does not migrate its schema on start (it refuses an old one), and sets the admin's
    password only when it first creates the admin; this makes both follow the stack.
    """
    files: dict[str, pulumi.Input[str]] = {BACKEND_URI_FILE: backend_store_uri}
    uploads: tuple[Upload, ...] = ()
    env: dict[str, str] = {"MLFLOW_DISABLE_TELEMETRY": "true", "DO_NOT_TRACK": "true"}
    if auth is not None:
        files[ADMIN_PASSWORD_FILE] = auth.admin_password
        files.update({user_password_file(name): password for name, password in auth.users.items()})
        uploads = (Upload(AUTH_CONFIG_PATH, auth_config(auth.admin_password, auth.auth_db_url), secret=True),)
        env["MLFLOW_AUTH_CONFIG_PATH"] = AUTH_CONFIG_PATH
    return ContainerSpec(
        service=service,
        image=image,
        command=("sh", "-c", init_script(auth)),
        env=env,
        secret_files=files,
        secrets_owner=MLFLOW_USER,
        uploads=uploads,
        limits=limits or Limits(),
        one_shot=True,
        rerun_every_deploy=True,
    )


@dataclass
class MLflowServerArgs:
    """Inputs of the MLflowServer component."""

    config: MLflowConfig
    """The stack's ``mlflow`` settings."""
    python_base_image: str
    """Pinned Python image the server image is built on."""
    context: StackContext
    """Network, bind address and naming shared by the stack."""
    database: ConnectionInfo
    """The ``mlflow`` role's connection (backend store, and auth database when auth is on)."""
    protect_data: bool = False
    """Protect the artifacts volume from deletion."""
    s3_artifacts: S3Artifacts | None = None
    """Keep artifacts in this S3 bucket instead of a volume (no volume is declared then)."""
    client_users: Sequence[ClientUser] = ()
    """Non-admin users to create when auth is on (each gets a generated password)."""
    depends_on: Sequence[pulumi.Resource] = ()
    """Containers (the database) that must be healthy before the server starts."""


class MLflowServer(PlatformComponent):
    """MLflow tracking server with the model registry and proxied artifact storage."""

    TYPE = "mlplatform:index:MLflowServer"
    DEFAULT_NAME = "mlflow"

    url: str
    """Browser URL on the bind address."""
    tracking_uri: str
    """In-network tracking URI for other containers."""
    admin_username: str | None
    """Basic-auth admin (None when auth is off)."""
    admin_password: pulumi.Output[str] | None
    """Secret; None when auth is off."""
    user_passwords: dict[str, pulumi.Output[str]]
    """Generated passwords of the client users, by name (empty when auth is off)."""
    init_succeeded: pulumi.Output[bool]
    """Resolves only when the init job (schema upgrade, users) exited 0 (fails the deploy otherwise)."""
    artifacts_destination: str
    """Where the server keeps artifacts: a directory of its volume, or s3://bucket/prefix."""
    container: docker.Container

    def __init__(self, name: str, args: MLflowServerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        child = self.child_opts()
        ctx, config = args.context, args.config
        image = python_image(self.child_name("image"), "mlflow", args.python_base_image, child)
        s3 = args.s3_artifacts
        # With S3 no volume is declared: a protected one from an earlier deploy stops the update until it is
        # moved (docs/object-store.md), instead of leaving old runs pointing at artifacts the bucket lacks.
        volume = None if s3 else data_volume(self.child_name("artifacts"), name, ctx, self, args.protect_data)
        auth = None
        self.admin_username, self.admin_password, self.user_passwords = None, None, {}
        if config.auth:
            self.admin_username = ADMIN_USER
            logins = ctx.rotation.logins
            self.admin_password = secrets.password(self.child_name("admin"), child, generation=logins)
            self.user_passwords = {
                user.username: secrets.password(self.child_name(f"user-{user.username}"), child, generation=logins)
                for user in args.client_users
            }
            auth_db = ConnectionInfo(
                args.database.host, args.database.port, args.database.user, AUTH_DATABASE, args.database.password
            )
            auth = AuthSettings(
                self.admin_password, secrets.hex_secret(self.child_name("flask-secret"), 32, child), auth_db.url(),
                users=self.user_passwords, grants=tuple(args.client_users),
            )
        backend_uri = args.database.url()
        init = declare_container(
            init_spec(self.child_name("init"), image.image_id, backend_uri, auth, config.limits), ctx,
            self.child_opts(depends_on=list(args.depends_on)),
        )
        self.init_succeeded = job_succeeded(init, self.child_name("init"))
        spec = mlflow_spec(name, image.image_id, config, ctx.public_host, backend_uri,
                           volume.name if volume else None, auth, s3)
        store = list(s3.depends_on) if s3 else []
        self.container = declare_container(spec, ctx, self.child_opts(depends_on=[*args.depends_on, *store, init]))
        self.artifacts_destination = s3.destination if s3 else ARTIFACTS_DIR
        self.url = ctx.browser_url(config.port)
        self.tracking_uri = tracking_uri(name)
        self.register_outputs({"url": self.url, "tracking_uri": self.tracking_uri, "container": self.container.name,
                               "init_succeeded": self.init_succeeded})
