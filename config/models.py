"""Typed model of one stack's ``mlplatform:platform`` config object.

Every model forbids unknown keys and has defaults that let a minimal stack file
work. Cross-field rules (host-port clashes, executor vs worker count) live on
``PlatformConfig`` so one validation pass reports every problem at once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from config.types import (
    MAX_CPUS,
    MAX_MEMORY_MB,
    MIN_CPUS,
    Executor,
    HostAndPort,
    HostName,
    IPAddress,
    PinnedImage,
    Port,
    cross_field_error,
    parse_address,
    shown,
)
from config.versions import DEFAULT_IMAGES


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


class Rotation(_Model):
    """Generations of the generated secrets: raising one replaces those secrets on the next deploy
    (`make rotate` does it, and re-asserts everything with the new values)."""

    database: int = Field(default=0, ge=0)
    """The PostgreSQL superuser's and every role's password."""
    logins: int = Field(default=0, ge=0)
    """Every generated login: the Airflow, MLflow and Grafana admins and the platform's service users."""
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
    rotation: Rotation = Rotation()
    """Secret generations (`make rotate`)."""

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
        if problems:
            raise cross_field_error(problems)
        return self

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
        return ports
