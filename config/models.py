"""Typed model of one stack's ``mlplatform:platform`` config object.

Every model forbids unknown keys and has defaults that let a minimal stack file
work. Cross-field rules (host-port clashes, executor vs worker count) live on
``PlatformConfig`` so one validation pass reports every problem at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from config.types import (
    MAX_CPUS,
    MAX_MEMORY_MB,
    MIN_CPUS,
    BucketName,
    Executor,
    HostAndPort,
    HostName,
    IPAddress,
    PinnedImage,
    Port,
    S3Endpoint,
    cross_field_error,
    parse_address,
    shown,
)
from config.versions import DEFAULT_IMAGES, baked_connectors


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Limits(_Model):
    """Resource limits applied to a container."""

    memory_mb: int | None = Field(default=None, ge=64, le=MAX_MEMORY_MB)
    """Hard memory limit in MiB (64 to 262144); unset means no limit."""
    cpus: float | None = Field(default=None, ge=MIN_CPUS, le=MAX_CPUS)
    """CPU quota (1.5 = one and a half cores; 0.01 to 256); unset means no limit."""

    @field_validator("memory_mb", mode="before")
    @classmethod
    def _memory_in_range(cls, value: object) -> object:
        # Checked before parsing: a huge number would otherwise fail as "not an integer", not as out of range.
        if isinstance(value, int | float) and not isinstance(value, bool) and not 64 <= value <= MAX_MEMORY_MB:
            raise ValueError(f"must be 64-{MAX_MEMORY_MB} MiB, got {shown(value)}")
        return value


class Images(_Model):
    """Pinned image references and build options."""

    postgres: PinnedImage = DEFAULT_IMAGES["postgres"]
    """PostgreSQL server image."""
    redis: PinnedImage = DEFAULT_IMAGES["redis"]
    """Redis image, the Celery broker (CeleryExecutor only)."""
    airflow_base: PinnedImage = DEFAULT_IMAGES["airflow_base"]
    """Official Airflow image the platform's Airflow image is derived from."""
    python_base: PinnedImage = DEFAULT_IMAGES["python_base"]
    """Python image the platform's MLflow image is derived from."""
    grafana: PinnedImage = DEFAULT_IMAGES["grafana"]
    """Grafana image."""
    object_store: PinnedImage = DEFAULT_IMAGES["object_store"]
    """S3-compatible object store image (Garage)."""
    extra_ca_bundle: Path | None = None
    """PEM file of extra CA certificates trusted by pip during image builds (TLS-intercepting proxies)."""

    @model_validator(mode="after")
    def _ca_bundle_exists(self) -> Images:
        if self.extra_ca_bundle is not None and not self.extra_ca_bundle.is_file():
            raise cross_field_error([f"extra_ca_bundle: file not found: {self.extra_ca_bundle}"])
        return self


class Pooler(_Model):
    """PgBouncer between Airflow's services and PostgreSQL (transaction pooling)."""

    enabled: bool = False
    """Put PgBouncer in front of PostgreSQL for Airflow (on in staging and prod)."""
    pool_size: int = Field(default=10, ge=3, le=200)
    """Server connections per pooled database (Airflow's migrations alone need 3)."""
    limits: Limits = Limits()
    """Container limits."""


class Database(_Model):
    """The shared PostgreSQL server."""

    port: Port | None = None
    """Host port to publish PostgreSQL on (bind address only); unset keeps it inside the network."""
    pooler: Pooler = Pooler()
    """PgBouncer for Airflow."""
    limits: Limits = Limits()
    """Container limits."""


class ObjectStore(_Model):
    """S3-compatible object store (Garage, config/versions.py) holding MLflow's artifacts."""

    enabled: bool = False
    """Deploy the object store (on in staging and prod)."""
    bucket: BucketName = "mlflow-artifacts"
    """Bucket MLflow's artifacts go to (created by the init job, MLflow's key limited to it)."""
    capacity_gb: int = Field(default=100, ge=1, le=1_000_000)
    """Capacity given to the node in the store's layout (GB); a share of the disk, not a quota."""
    port: Port | None = None
    """Publish the S3 API (signed requests only) on this host port; unset keeps it inside the network. The
    store has no web console: manage it with its CLI in the container (docs/object-store.md)."""
    limits: Limits = Limits()
    """Container limits."""


class ExternalArtifacts(_Model):
    """An existing S3 endpoint and bucket for MLflow's artifacts (``mlflow.artifacts: external``).

    The key comes from secret config: ``pulumi config set --secret mlplatform:artifactsAccessKeyId ...`` and
    ``mlplatform:artifactsSecretAccessKey``.
    """

    endpoint_url: S3Endpoint
    """S3 API URL, e.g. https://s3.example.com (http only inside a trusted network)."""
    bucket: BucketName
    """Existing bucket; the key needs read, write, list and delete on it."""
    prefix: str = Field(default="mlflow", pattern=r"^[A-Za-z0-9][A-Za-z0-9._/-]{0,200}$")
    """Key prefix under the bucket (no leading slash)."""
    region: str = Field(default="us-east-1", pattern=r"^[a-z0-9-]{1,40}$")
    """Region the store signs requests for."""


class MLflow(_Model):
    """MLflow tracking server and model registry."""

    port: Port = 5000
    """Host port of the MLflow UI and API."""
    workers: int = Field(default=2, ge=1, le=32)
    """Server worker processes."""
    auth: bool = False
    """Turn on MLflow basic auth (generated admin password)."""
    background_jobs: bool = False
    """MLflow 3's GenAI job runner (scorers, trace jobs): about 1.5 GB of worker processes; off unless used."""
    extra_allowed_hosts: list[HostAndPort] = []
    """Host names (optionally host:port) browsers use besides the bind address, e.g. a DNS name; no wildcard."""
    artifacts: Literal["volume", "object_store", "external"] = "volume"
    """Where artifacts live: a volume of the server, the stack's object store, or an existing S3 bucket.
    The server proxies them in every mode (clients need no store credentials)."""
    external_artifacts: ExternalArtifacts | None = None
    """The existing S3 bucket (``artifacts: external`` only)."""
    limits: Limits = Limits()
    """Container limits."""


class Airflow(_Model):
    """Apache Airflow 3 cluster."""

    port: Port = 8080
    """Host port of the Airflow UI and REST API (api-server)."""
    executor: Executor = "LocalExecutor"
    """LocalExecutor (tasks run in the scheduler) or CeleryExecutor (Redis broker and workers)."""
    workers: int = Field(default=1, ge=1, le=200)
    """Celery worker containers (CeleryExecutor only)."""
    parallelism: int | None = Field(default=None, ge=1, le=1024)
    """Tasks running at once in the whole cluster. LocalExecutor forks this many worker processes in the
    scheduler when it starts (default 4, about 20 MB each); CeleryExecutor defaults to Airflow's 32."""
    dags: Literal["mount", "bake"] = "bake"
    """mount: bind-mount the repo's dags/ (fast iteration); bake: copy them into the image."""
    admin_username: str = Field(default="admin", pattern=r"^[a-z][a-z0-9_.-]{2,63}$")
    """Name of the Airflow admin user whose password is generated."""
    limits: Limits = Limits()
    """Limits for each Airflow service container (api-server, scheduler, ...)."""
    worker_limits: Limits = Limits()
    """Limits for each Celery worker."""


class Grafana(_Model):
    """Grafana with provisioned MLflow dashboards."""

    enabled: bool = True
    """Deploy Grafana."""
    port: Port = 3000
    """Host port of the Grafana UI."""
    limits: Limits = Limits()
    """Container limits."""


class Airbyte(_Model):
    """Airbyte data ingestion (last Docker-native release)."""

    enabled: bool = False
    """Deploy Airbyte."""
    port: Port = 8000
    """Host port of the Airbyte UI/API proxy."""
    api_port: Port = 8001
    """Host port of the Airbyte API proxy."""
    connection_id: str | None = Field(default=None, pattern=r"^[0-9a-fA-F-]{36}$")
    """Airbyte connection (UUID) the ingest DAG syncs."""
    limits: Limits = Limits()
    """Limits for each Airbyte container."""


#: Where the ingest DAG drops the bundled traffic data set for the default source to read (the Airflow data volume).
BUNDLED_LANDING_FILE = "/opt/airflow/data/landing/traffic_hourly.csv"
#: Warehouse schemas the platform owns itself: a source may not land in them.
WAREHOUSE_OWN_SCHEMAS = ("public", "analytics")
SourceName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,30}$")]
ConfigKey = Annotated[str, Field(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,62}$")]


class IngestSource(_Model):
    """One Airbyte connector the ingest DAG runs (PyAirbyte) into the warehouse schema named after it."""

    name: SourceName
    """Source name, and the warehouse schema its streams land in (one table per stream)."""
    connector: str
    """Airbyte connector baked into the Airflow image (images/airflow/connectors/), e.g. source-file."""
    version: str | None = None
    """The connector version the stack expects; must be the baked one (unset: whatever is baked)."""
    config: dict[str, Any] = {}
    """The connector's config (its spec), without secrets."""
    secret_config: dict[str, ConfigKey] = {}
    """Connector config fields set from Pulumi secrets: dotted field path -> secret config key
    (`pulumi config set --secret mlplatform:<key> <value>`)."""
    streams: tuple[str, ...] | None = None
    """Streams to read; unset reads every stream."""

    @model_validator(mode="after")
    def _baked(self) -> IngestSource:
        baked = baked_connectors()
        if self.connector not in baked:
            raise cross_field_error([f"connector: unknown connector {shown(self.connector)}; baked into the "
                                     f"Airflow image: {', '.join(baked)} (images/airflow/connectors/)"])
        if self.version is not None and self.version != baked[self.connector]:
            raise cross_field_error([f"version: {self.connector} is baked at {baked[self.connector]}, got "
                                     f"{shown(self.version)} (change images/airflow/connectors/{self.connector}.txt "
                                     "to deploy another)"])
        if self.name in WAREHOUSE_OWN_SCHEMAS or self.name.startswith("pg_"):
            raise cross_field_error([f"name: {shown(self.name)} is a warehouse schema the platform owns; "
                                     "choose another source name"])
        for path in self.secret_config:
            if not all(part.strip() for part in path.split(".")):
                raise cross_field_error([f"secret_config: {shown(path)} is not a dotted field path"])
        return self


def _bundled_source() -> IngestSource:
    return IngestSource(
        name="landing",
        connector="source-file",
        config={
            "dataset_name": "traffic_hourly",
            "format": "csv",
            "url": BUNDLED_LANDING_FILE,
            "provider": {"storage": "local"},
        },
    )


class Ingestion(_Model):
    """What the ingest DAG loads into the warehouse database, and which table the training chain reads."""

    sources: tuple[IngestSource, ...] = Field(default_factory=lambda: (_bundled_source(),))
    """Connectors run in order by the ingest DAG (default: source-file over the bundled traffic data set)."""
    traffic_table: str = Field(default="landing.traffic_hourly", pattern=r"^[a-z][a-z0-9_]*\.[A-Za-z0-9_]+$")
    """``<source>.<stream>``: the ingested table transform_data reads."""

    @model_validator(mode="after")
    def _table_is_ingested(self) -> Ingestion:
        problems = []
        names = [source.name for source in self.sources]
        for name in sorted({n for n in names if names.count(n) > 1}):
            problems.append(f"sources: the name {name!r} is used twice (each source lands in its own schema)")
        schema, stream = self.traffic_table.split(".", 1)
        by_name = {source.name: source for source in self.sources}
        if schema not in by_name:
            problems.append(f"traffic_table: {shown(self.traffic_table)} names no declared source; "
                            f"sources: {', '.join(names) or 'none'}")
        else:
            streams = by_name[schema].streams
            if streams is not None and stream not in streams:
                problems.append(f"traffic_table: stream {stream!r} is not among {schema}'s streams")
        if problems:
            raise cross_field_error(problems)
        return self


class Rotation(_Model):
    """Generations of the generated secrets: raising one replaces those secrets on the next deploy
    (`make rotate` does it, and re-asserts everything with the new values)."""

    database: int = Field(default=0, ge=0)
    """The PostgreSQL superuser's and every role's password."""
    logins: int = Field(default=0, ge=0)
    """Every generated login: the Airflow, MLflow and Grafana admins, the platform's service users, the object
    store's admin token and MLflow's key to its bucket."""
    airflow_keys: int = Field(default=0, ge=0)
    """Airflow's API secret key and JWT secret (signs sessions and task tokens)."""
    redis: int = Field(default=0, ge=0)
    """The Celery broker's password."""
    fernet: int = Field(default=0, ge=0)
    """Airflow's Fernet key (encrypts connections and variables)."""
    fernet_previous: int | None = Field(default=None, ge=0)
    """A Fernet generation still accepted for decryption while Airflow re-encrypts with the new one."""

    @model_validator(mode="after")
    def _previous_is_older(self) -> Rotation:
        if self.fernet_previous is not None and self.fernet_previous >= self.fernet:
            raise cross_field_error([f"fernet_previous: must be older than fernet ({self.fernet}), "
                                     f"got {self.fernet_previous}"])
        return self
class ModelServer(_Model):
    """REST scoring of the registered model's ``champion`` version, following the alias."""

    enabled: bool = False
    """Deploy the model server (on in staging and prod)."""
    port: Port | None = 5001
    """Host port of the scoring API (no auth: must be unset when expose is on); unset keeps it in the network."""
    poll_seconds: int = Field(default=30, ge=5, le=3600)
    """How often the alias is checked: a new champion is served within this plus its load time."""
    limits: Limits = Limits()
    """Container limits."""


class ModelApp(_Model):
    """Streamlit app over the champion, the latest batch scores and the model server."""

    enabled: bool = False
    """Deploy the app (needs model_server; on in staging and prod)."""
    port: Port | None = 8501
    """Host port of the app (no auth: must be unset when expose is on)."""
    limits: Limits = Limits()
    """Container limits."""


class Notebooks(_Model):
    """JupyterHub: multi-user notebooks that log to MLflow (DockerSpawner, one container per user)."""

    enabled: bool = False
    """Deploy JupyterHub (on in staging and prod)."""
    port: Port = 8888
    """Host port of the hub (its login page and every user's server)."""
    admin_username: str = Field(default="admin", pattern=r"^[a-z][a-z0-9_-]{2,31}$")
    """The hub's admin: approves sign-ups and resets passwords (password generated, a stack output)."""
    cull_idle_after_s: int = Field(default=3600, ge=600, le=7 * 86400)
    """A user's server idle this long is stopped (its files stay on the user's volume)."""
    limits: Limits = Limits()
    """Limits of the hub container."""
    server_limits: Limits = Limits()
    """Limits of each user's notebook server."""


class Superset(_Model):
    """Apache Superset: BI over MLflow's data and the warehouse, read-only."""

    enabled: bool = False
    """Deploy Superset (on in staging and prod)."""
    port: Port = 8088
    """Host port of the Superset UI."""
    workers: int = Field(default=2, ge=1, le=16)
    """Gunicorn worker processes (each idles at about 300 MB)."""
    limits: Limits = Limits()
    """Container limits."""


class PlatformConfig(_Model):
    """The whole platform for one environment (one Pulumi stack)."""

    environment: str = Field(pattern=r"^[a-z][a-z0-9-]{0,30}$")
    """Environment name; defaults to the stack name."""
    bind_address: IPAddress = "127.0.0.1"
    """Host address every published port binds to; anything but loopback needs ``expose: true``."""
    expose: bool = False
    """Publish on a non-loopback bind address: allowed only with auth on every published service and
    PostgreSQL unpublished."""
    public_host: HostName | None = None
    """Host name (or address) clients use to reach the stack; required when binding every interface."""
    protect_data: bool = False
    """Protect data volumes from `pulumi destroy` (Pulumi protect); volumes are always retained on delete."""
    wait_timeout_s: int = Field(default=300, ge=30, le=3600)
    """How long `pulumi up` waits for each service to become healthy."""
    images: Images = Images()
    database: Database = Database()
    mlflow: MLflow = MLflow()
    airflow: Airflow = Airflow()
    grafana: Grafana = Grafana()
    airbyte: Airbyte = Airbyte()
    ingestion: Ingestion = Ingestion()
    """Airbyte connectors (PyAirbyte) into the warehouse database, and the table the training chain reads."""
    rotation: Rotation = Rotation()
    """Secret generations (`make rotate`)."""
    object_store: ObjectStore = ObjectStore()
    model_server: ModelServer = ModelServer()
    model_app: ModelApp = ModelApp()
    notebooks: Notebooks = Notebooks()
    superset: Superset = Superset()

    @model_validator(mode="after")
    def _cross_checks(self) -> PlatformConfig:
        problems = []
        published = self.published_ports()
        seen: dict[int, str] = {}
        for key, port in published.items():
            if port in seen:
                problems.append(
                    f"{key}: host port {port} on {self.bind_address} is already used by {seen[port]}"
                )
            else:
                seen[port] = key
        problems += self._exposure_problems()
        if self.airflow.executor == "LocalExecutor" and self.airflow.workers != 1:
            problems.append(
                f"airflow.workers: only CeleryExecutor runs workers; LocalExecutor needs 1, got {self.airflow.workers}"
            )
        problems += self._artifact_problems()
        if self.model_app.enabled and not self.model_server.enabled:
            problems.append("model_app.enabled: the app scores through the model server; "
                            "set model_server.enabled: true")
        if problems:
            raise cross_field_error(problems)
        return self

    def _artifact_problems(self) -> list[str]:
        mode = self.mlflow.artifacts
        if mode == "object_store" and not self.object_store.enabled:
            return ["mlflow.artifacts: object_store needs object_store.enabled: true"]
        if mode == "external" and self.mlflow.external_artifacts is None:
            return ["mlflow.external_artifacts: required with artifacts: external (endpoint_url, bucket)"]
        if mode != "external" and self.mlflow.external_artifacts is not None:
            return [f"mlflow.external_artifacts: only used with artifacts: external (artifacts is {mode})"]
        return []

    def _exposure_problems(self) -> list[str]:
        """Leaving loopback is an explicit choice, and then nothing published may be unauthenticated."""
        address = parse_address(self.bind_address)
        if address.is_loopback:
            return []
        if not self.expose:
            return [f"bind_address: {self.bind_address} is reachable from other hosts; set expose: true to publish "
                    "on it (every published service then needs auth and PostgreSQL stays unpublished), or use "
                    "127.0.0.1"]
        problems = []
        if address.is_unspecified and self.public_host is None:
            problems.append(f"public_host: required with bind_address {self.bind_address} (every interface): the "
                            "host name clients use, for the endpoints and MLflow's allowed hosts")
        if self.database.port is not None:
            problems.append("database.port: must be unset when expose is on (PostgreSQL stays inside the network)")
        if not self.mlflow.auth:
            problems.append("mlflow.auth: must be true when expose is on (MLflow would be open to the network)")
        if self.model_server.enabled and self.model_server.port is not None:
            problems.append("model_server.port: must be unset when expose is on (the scoring API has no auth; it "
                            "stays inside the network, where the app reaches it)")
        if self.model_app.enabled and self.model_app.port is not None:
            problems.append("model_app.port: must be unset when expose is on (the Streamlit app has no auth), or "
                            "turn the app off")
        return problems

    def published_ports(self) -> dict[str, int]:
        """Host ports this config publishes, keyed by config path."""
        ports = {"mlflow.port": self.mlflow.port, "airflow.port": self.airflow.port}
        if self.database.port is not None:
            ports["database.port"] = self.database.port
        if self.grafana.enabled:
            ports["grafana.port"] = self.grafana.port
        if self.airbyte.enabled:
            ports["airbyte.port"] = self.airbyte.port
            ports["airbyte.api_port"] = self.airbyte.api_port
        optional = {
            "object_store.port": (self.object_store.enabled, self.object_store.port),
            "model_server.port": (self.model_server.enabled, self.model_server.port),
            "model_app.port": (self.model_app.enabled, self.model_app.port),
            "notebooks.port": (self.notebooks.enabled, self.notebooks.port),
            "superset.port": (self.superset.enabled, self.superset.port),
        }
        ports.update({key: port for key, (enabled, port) in optional.items() if enabled and port is not None})
        return ports
