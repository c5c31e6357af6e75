"""Run the declared Airbyte connectors with PyAirbyte into the warehouse.

Runs inside PyAirbyte's own virtualenv (the ingest DAG's ``@task.external_python``),
so it imports nothing but the standard library and ``airbyte``. Each connector
runs from the virtualenv baked for it (no registry lookup, no install); each
source lands in its own warehouse schema, one table per stream, replaced as a
whole on every run.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path
from typing import Any


def _read_json(variable: str) -> dict[str, Any]:
    path = os.environ.get(variable, "").strip()
    if not path:
        raise RuntimeError(f"{variable} is not set: the platform mounts it on the containers that run tasks")
    return json.loads(Path(path).read_text())


def run_source(source: dict[str, Any], login: dict[str, Any], work_dir: str) -> dict[str, Any]:
    """One connector: check its config, read its streams, write them to ``<source name>.<stream>``."""
    import airbyte as ab
    from airbyte.caches import PostgresCache

    started = time.monotonic()
    connector = ab.get_source(
        source["connector"],
        config=source["config"],
        local_executable=source["executable"],
        install_if_missing=False,
    )
    connector.check()
    if source.get("streams"):
        connector.select_streams(source["streams"])
    else:
        connector.select_all_streams()
    cache = PostgresCache(
        host=login["host"],
        port=login["port"],
        username=login["user"],
        password=login["password"],
        database=login["database"],
        schema_name=source["name"],
        cache_dir=Path(work_dir) / source["name"],
    )
    result = connector.read(cache=cache, write_strategy="replace", force_full_refresh=True)
    return {
        "source": source["name"],
        "connector": source["connector"],
        "version": source["version"],
        "records": int(result.processed_records),
        "tables": sorted(f"{source['name']}.{stream}" for stream in result.streams),
        "seconds": round(time.monotonic() - started, 1),
    }


def run_declared_sources() -> list[dict[str, Any]]:
    """Every source in MLPLATFORM_INGEST_SOURCES_FILE, in order, as the ingest role (MLPLATFORM_WAREHOUSE_FILE)."""
    sources = _read_json("MLPLATFORM_INGEST_SOURCES_FILE")["sources"]
    login = _read_json("MLPLATFORM_WAREHOUSE_FILE")
    with tempfile.TemporaryDirectory(prefix="mlplatform-ingest-") as work_dir:
        return [run_source(source, login, work_dir) for source in sources]
