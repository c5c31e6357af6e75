"""Ingestion wiring: the warehouse database and what the ingest DAG is told about its sources.

The connectors themselves are baked into the Airflow image (images/airflow/connectors/, one virtualenv
each); the DAGs read the sources and the warehouse login from secret files, never from the env.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

import pulumi

from components.database import Consumer, ConnectionInfo, ReadGrant
from config.models import WAREHOUSE_OWN_SCHEMAS, Ingestion, IngestSource
from config.versions import PYAIRBYTE_VENV, baked_connectors

WAREHOUSE_ROLE = "warehouse"
WAREHOUSE_DATABASE = "warehouse"
#: The Airflow image's virtualenvs (images/airflow/Dockerfile): PyAirbyte's and one per connector.
VENVS_DIR = "/opt/mlplatform/venvs"
PYAIRBYTE_PYTHON = f"{VENVS_DIR}/{PYAIRBYTE_VENV}/bin/python"
WAREHOUSE_FILE = "warehouse-connection"
SOURCES_FILE = "ingest-sources"


def warehouse_schemas(ingestion: Ingestion) -> tuple[str, ...]:
    """Every schema of the warehouse: one per source, and the platform's own (``analytics``: training tables)."""
    return (*WAREHOUSE_OWN_SCHEMAS, *(source.name for source in ingestion.sources))


def warehouse_consumer(ingestion: Ingestion) -> Consumer:
    """The ingest role owns the warehouse; the non-public schemas exist before any connector runs, so the
    dashboards' grants on them hold from the first deploy."""
    schemas = tuple(s for s in warehouse_schemas(ingestion) if s != "public")
    return Consumer(WAREHOUSE_ROLE, (WAREHOUSE_DATABASE,), schemas)


def warehouse_read_grant(ingestion: Ingestion) -> ReadGrant:
    return ReadGrant(WAREHOUSE_DATABASE, WAREHOUSE_ROLE, warehouse_schemas(ingestion))


def _set_path(document: dict[str, Any], path: str, value: str) -> None:
    *parents, leaf = path.split(".")
    for part in parents:
        document = document.setdefault(part, {})
        if not isinstance(document, dict):
            raise ValueError(f"secret_config {path!r}: {part!r} is not an object in the connector config")
    document[leaf] = value


def source_entry(source: IngestSource, secret_values: Mapping[str, str]) -> dict[str, Any]:
    """What the ingest task needs for one source: the connector's executable, its full config, its streams."""
    config = json.loads(json.dumps(source.config))
    for path, key in source.secret_config.items():
        _set_path(config, path, secret_values[key])
    return {
        "name": source.name,
        "connector": source.connector,
        "version": baked_connectors()[source.connector],
        "executable": f"{VENVS_DIR}/{source.connector}/bin/{source.connector}",
        "config": config,
        "streams": list(source.streams) if source.streams is not None else None,
    }


def sources_document(ingestion: Ingestion, secrets: Mapping[str, pulumi.Output[str]]) -> pulumi.Output[str]:
    """The sources file (secret: connector configs may carry credentials)."""
    keys = sorted(secrets)
    return pulumi.Output.secret(
        pulumi.Output.all(*(secrets[key] for key in keys)).apply(
            lambda values: json.dumps(
                {"sources": [source_entry(s, dict(zip(keys, values, strict=True))) for s in ingestion.sources]},
                indent=2,
            )
        )
    )


def warehouse_document(connection: ConnectionInfo) -> pulumi.Output[str]:
    """The ingest role's login as a file (secret), for PyAirbyte's cache and the transform step."""
    return pulumi.Output.secret(
        pulumi.Output.from_input(connection.password).apply(
            lambda password: json.dumps({
                "host": connection.host,
                "port": connection.port,
                "user": connection.user,
                "database": connection.database,
                "password": password,
            })
        )
    )
