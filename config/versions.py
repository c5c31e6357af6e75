"""Pinned versions of everything mlplatform deploys.

Image tags live here and nowhere else; Python package versions live in
``constraints.txt`` and the Airflow base image tag is derived from it, so the
Airflow in the image and the Airflow the DAG tests run can never drift apart.
"""

from __future__ import annotations

import re
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
CONSTRAINTS_FILE = REPO_ROOT / "constraints.txt"

#: Python minor version of every Python image we build on (matches the test machines).
PYTHON_VERSION = "3.11"


def pinned_version(package: str, constraints: Path = CONSTRAINTS_FILE) -> str:
    """Return the ``==`` version pinned for ``package`` in constraints.txt."""
    pattern = re.compile(rf"^{re.escape(package)}==(\S+)\s*$", re.IGNORECASE)
    for line in constraints.read_text().splitlines():
        match = pattern.match(line.strip())
        if match:
            return match.group(1)
    raise LookupError(f"{package} is not pinned in {constraints}")


AIRFLOW_VERSION = pinned_version("apache-airflow")
MLFLOW_VERSION = pinned_version("mlflow")

#: Default image references; a stack may override any of them (still pinned).
DEFAULT_IMAGES = {
    "postgres": "postgres:16.11-bookworm",
    "redis": "redis:7.4.6-bookworm",
    "airflow_base": f"apache/airflow:{AIRFLOW_VERSION}-python{PYTHON_VERSION}",
    "python_base": f"python:{PYTHON_VERSION}.14-slim-bookworm",
    "grafana": "grafana/grafana:12.3.1",
    # The object store (docs/object-store.md): Garage, not MinIO, whose community images are gone.
    "object_store": "dxflrs/garage:v2.4.1",
}

#: The last Airbyte release with a Docker-native (compose) deployment; see docs/airbyte.md.
AIRBYTE_VERSION = "0.63.19"

#: PyAirbyte and the Airbyte connectors baked into the Airflow image, one full lock file each
#: (images/airflow/connectors/<venv>.txt): the ingest DAG runs them from their own virtualenvs.
CONNECTOR_LOCKS_DIR = REPO_ROOT / "images" / "airflow" / "connectors"
PYAIRBYTE_VENV = "pyairbyte"


def baked_connectors(locks: Path = CONNECTOR_LOCKS_DIR) -> dict[str, str]:
    """Connector name (``source-file``) -> the version its lock pins: the connectors a stack may declare."""
    return {
        lock.stem: pinned_version(f"airbyte-{lock.stem}", lock)
        for lock in sorted(locks.glob("*.txt"))
        if lock.stem != PYAIRBYTE_VENV
    }


PYAIRBYTE_VERSION = pinned_version("airbyte", CONNECTOR_LOCKS_DIR / f"{PYAIRBYTE_VENV}.txt")
