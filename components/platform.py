"""Compose the platform's components for one stack from its validated config."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pulumi
import pulumi_docker as docker

from components.database import Consumer, Database, DatabaseArgs, ReadOnlyAccess
from components.service import StackContext
from config.models import PlatformConfig

#: The dashboards' read-only role on MLflow's database.
MLFLOW_READER = ReadOnlyAccess(role="mlflow_reader", database="mlflow", owner="mlflow")


def database_consumers(config: PlatformConfig) -> list[Consumer]:
    """Which services get their own role and database."""
    return [Consumer("airflow", ("airflow",)), Consumer("mlflow", ("mlflow",))]


@dataclass
class Platform:
    """What ``__main__`` exports."""

    endpoints: dict[str, Any] = field(default_factory=dict)
    """Per service: browser URL (or None) and in-network URL."""
    credentials: dict[str, Any] = field(default_factory=dict)
    """Per service: user names and generated passwords (exported as one secret)."""


def _browser_url(config: PlatformConfig, port: int, path: str = "") -> str:
    return f"http://{config.bind_address}:{port}{path}"


def build_platform(config: PlatformConfig, project: str, stack: str) -> Platform:
    """Declare every resource of the stack and return its endpoints and credentials."""
    labels = {"org.mlplatform.project": project, "org.mlplatform.stack": stack}
    network = docker.Network(
        "network",
        name=f"{project}-{stack}",
        driver="bridge",
        labels=[docker.NetworkLabelArgs(label=k, value=v) for k, v in labels.items()],
    )
    ctx = StackContext(
        project=project,
        stack=stack,
        network=network,
        network_name=network.name,
        bind_address=config.bind_address,
        wait_timeout_s=config.wait_timeout_s,
    )
    platform = Platform()

    database = Database(
        "database",
        DatabaseArgs(
            config=config.database,
            image=config.images.postgres,
            context=ctx,
            consumers=database_consumers(config),
            reader=MLFLOW_READER,
            protect_data=config.protect_data,
        ),
    )
    platform.endpoints["postgres"] = {
        "url": None if config.database.port is None else f"postgresql://{config.bind_address}:{config.database.port}",
        "internal_url": f"postgresql://{database.host}:{database.port}",
    }
    platform.credentials["postgres"] = {"username": "postgres", "password": database.superuser_password}
    platform.credentials["dashboards_reader"] = {
        "username": MLFLOW_READER.role,
        "password": database.connections[MLFLOW_READER.role].password,
    }
    return platform
