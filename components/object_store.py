"""An S3-compatible object store for MLflow's artifacts: Garage, one node, one protected volume.

Why Garage (docs/object-store.md): MinIO's community edition ships no images any more,
and Garage's native model is what least privilege needs: a key has rights on the
buckets it is granted and nothing else, and keys can be imported with values Pulumi
generates. Its secrets (RPC secret, admin and metrics tokens) are read from files.

An init job runs on every deploy (components/scripts/objectstore_init.py, Python
standard library on the pinned Python image, as nobody): it gives the node its layout
role, creates the bucket, imports MLflow's key and limits it to read and write on that
bucket; a rotated key replaces the old one. The store's admin API stays inside the
stack network; the S3 API is published on the bind address only when configured.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components import secrets
from components.base import PlatformComponent
from components.images import pulled_image
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
from config.models import Limits
from config.models import ObjectStore as ObjectStoreConfig
from config.versions import REPO_ROOT

S3_PORT = 3900
RPC_PORT = 3901
ADMIN_PORT = 3903
#: The region the store signs for; clients (MLflow) must use the same.
REGION = "us-east-1"
CONFIG_PATH = "/etc/garage.toml"
DATA_DIR = "/var/lib/garage"
#: Garage's image is FROM scratch with one static binary and no USER: it runs as root and reads its files as root.
STORE_USER = FileOwner(uid=0, gid=0)
#: The init job runs on the pinned Python image as nobody.
INIT_USER = FileOwner(uid=65534, gid=65534)
INIT_SCRIPT_PATH = "/opt/mlplatform/objectstore_init.py"
INIT_SCRIPT = REPO_ROOT / "components" / "scripts" / "objectstore_init.py"
#: The name of MLflow's key in the store (a rotated key of this name is deleted).
MLFLOW_KEY_NAME = "mlflow"

RPC_SECRET_FILE = "objectstore-rpc-secret"
ADMIN_TOKEN_FILE = "objectstore-admin-token"
METRICS_TOKEN_FILE = "objectstore-metrics-token"
KEY_ID_FILE = "objectstore-mlflow-key-id"
KEY_SECRET_FILE = "objectstore-mlflow-key-secret"

HEALTHCHECK = HealthCheck(
    # The image has no shell or HTTP client; `garage status` asks the running node over RPC (with the RPC
    # secret from the config), so it proves the daemon is up and answering, layout or not.
    test=("CMD", "/garage", "status"),
    interval_s=10,
    timeout_s=5,
    retries=6,
    start_period_s=20,
)


def garage_config() -> str:
    """/etc/garage.toml: one node, metadata and data on the volume, every secret read from a file."""
    return f"""\
# mlplatform: a single-node Garage (replication 1); secrets are files under /run/secrets.
metadata_dir = "{DATA_DIR}/meta"
data_dir = "{DATA_DIR}/data"
db_engine = "lmdb"
replication_factor = 1
rpc_bind_addr = "0.0.0.0:{RPC_PORT}"
rpc_public_addr = "127.0.0.1:{RPC_PORT}"
rpc_secret_file = "{secret_path(RPC_SECRET_FILE)}"

[s3_api]
s3_region = "{REGION}"
api_bind_addr = "0.0.0.0:{S3_PORT}"

[admin]
api_bind_addr = "0.0.0.0:{ADMIN_PORT}"
admin_token_file = "{secret_path(ADMIN_TOKEN_FILE)}"
metrics_token_file = "{secret_path(METRICS_TOKEN_FILE)}"
"""


@dataclass(frozen=True)
class StoreSecrets:
    rpc_secret: pulumi.Input[str]
    admin_token: pulumi.Input[str]
    metrics_token: pulumi.Input[str]
    key_id: pulumi.Input[str]
    key_secret: pulumi.Input[str]


def store_spec(service: str, image: pulumi.Input[str], config: ObjectStoreConfig, volume: pulumi.Input[str],
               secrets_: StoreSecrets) -> ContainerSpec:
    return ContainerSpec(
        service=service,
        image=image,
        command=("/garage", "server"),
        env={"RUST_LOG": "garage=info"},
        uploads=(Upload(CONFIG_PATH, garage_config()),),
        secret_files={
            RPC_SECRET_FILE: secrets_.rpc_secret,
            ADMIN_TOKEN_FILE: secrets_.admin_token,
            METRICS_TOKEN_FILE: secrets_.metrics_token,
        },
        secrets_owner=STORE_USER,
        healthcheck=HEALTHCHECK,
        internal_port=S3_PORT if config.port is not None else None,
        host_port=config.port,
        volumes=(VolumeMount(DATA_DIR, volume=volume),),
        limits=config.limits,
        # Garage finishes its requests and flushes its metadata database on SIGTERM.
        stop=Stop("SIGTERM", 30),
    )


def init_spec(service: str, store_service: str, image: pulumi.Input[str], config: ObjectStoreConfig,
              secrets_: StoreSecrets, limits: Limits | None = None) -> ContainerSpec:
    command = (
        "python", INIT_SCRIPT_PATH,
        "--admin-url", f"http://{store_service}:{ADMIN_PORT}",
        "--token-file", secret_path(ADMIN_TOKEN_FILE),
        "--bucket", config.bucket,
        "--key-name", MLFLOW_KEY_NAME,
        "--key-id-file", secret_path(KEY_ID_FILE),
        "--key-secret-file", secret_path(KEY_SECRET_FILE),
        "--capacity-gb", str(config.capacity_gb),
    )
    return ContainerSpec(
        service=service,
        image=image,
        command=command,
        user=f"{INIT_USER.uid}:{INIT_USER.gid}",
        uploads=(Upload(INIT_SCRIPT_PATH, INIT_SCRIPT.read_text()),),
        secret_files={
            ADMIN_TOKEN_FILE: secrets_.admin_token,
            KEY_ID_FILE: secrets_.key_id,
            KEY_SECRET_FILE: secrets_.key_secret,
        },
        secrets_owner=INIT_USER,
        limits=limits or Limits(),
        one_shot=True,
        rerun_every_deploy=True,
    )


def garage_key_id(hex24: str) -> str:
    """A Garage access key id: ``GK`` and 12 hex-encoded bytes."""
    return f"GK{hex24}"


@dataclass
class ObjectStoreArgs:
    """Inputs of the ObjectStore component."""

    config: ObjectStoreConfig
    """The stack's ``object_store`` settings."""
    image: str
    """Pinned store image (Garage)."""
    python_image: str
    """Pinned Python image the init job runs on."""
    context: StackContext
    """Network, bind address and naming shared by the stack."""
    protect_data: bool = False
    """Protect the data volume from deletion."""


class ObjectStore(PlatformComponent):
    """Garage with one bucket and a key for MLflow limited to it."""

    TYPE = "mlplatform:index:ObjectStore"
    DEFAULT_NAME = "objectstore"

    url: str | None
    """S3 API on the bind address (None when unpublished)."""
    internal_url: str
    """S3 API for containers on the stack network."""
    admin_url: str
    """Admin API inside the stack network (bearer ``admin_token``)."""
    bucket: str
    region: str
    admin_token: pulumi.Output[str]
    """Secret: the store's root credential (admin API)."""
    mlflow_access_key_id: pulumi.Output[str]
    """Secret: MLflow's key, read and write on ``bucket`` only."""
    mlflow_secret_access_key: pulumi.Output[str]
    init_succeeded: pulumi.Output[bool]
    """Resolves only when the init job exited 0 (fails the deploy otherwise)."""
    container: docker.Container
    init: docker.Container

    def __init__(self, name: str, args: ObjectStoreArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        child = self.child_opts()
        ctx, config = args.context, args.config
        # The root token and MLflow's key rotate with the logins (the init job swaps the key, deleting the old one);
        # the RPC secret and the metrics token never leave the store's network and are not rotated.
        logins = ctx.rotation.logins
        self.admin_token = secrets.hex_secret(self.child_name("admin-token"), 32, child, generation=logins)
        self.mlflow_access_key_id = pulumi.Output.secret(
            secrets.hex_secret(self.child_name("mlflow-key-id"), 12, child, generation=logins).apply(garage_key_id)
        )
        self.mlflow_secret_access_key = secrets.hex_secret(self.child_name("mlflow-key-secret"), 32, child,
                                                           generation=logins)
        store_secrets = StoreSecrets(
            rpc_secret=secrets.hex_secret(self.child_name("rpc-secret"), 32, child),
            admin_token=self.admin_token,
            metrics_token=secrets.hex_secret(self.child_name("metrics-token"), 32, child),
            key_id=self.mlflow_access_key_id,
            key_secret=self.mlflow_secret_access_key,
        )
        image = pulled_image(self.child_name("image"), args.image, child)
        volume = data_volume(self.child_name("data"), name, ctx, self, args.protect_data)
        self.container = declare_container(store_spec(name, image.image_id, config, volume.name, store_secrets),
                                           ctx, child)
        init_image = pulled_image(self.child_name("init-image"), args.python_image, child)
        self.init = declare_container(
            init_spec(self.child_name("init"), name, init_image.image_id, config, store_secrets, config.limits),
            ctx, self.child_opts(depends_on=[self.container]),
        )
        self.init_succeeded = job_succeeded(self.init, self.child_name("init"))
        self.url = None if config.port is None else ctx.browser_url(config.port)
        self.internal_url = f"http://{name}:{S3_PORT}"
        self.admin_url = f"http://{name}:{ADMIN_PORT}"
        self.bucket = config.bucket
        self.region = REGION
        self.register_outputs({"url": self.url, "internal_url": self.internal_url, "bucket": self.bucket,
                               "init_succeeded": self.init_succeeded})
