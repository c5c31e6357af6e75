"""Airbyte 0.63.19 as upstream ships it: container names, ports, paths, feature flags, Temporal config.

Everything here comes from upstream's ``docker-compose.yaml``/``.env``/``flags.yml``
of the 0.63 line (airbytehq/airbyte-platform); the container specs are in ``specs.py``.
"""

from __future__ import annotations

import json

from components.database import Consumer
from components import docker_api_proxy
from config.versions import AIRBYTE_VERSION

# -- names and ports (upstream .env of 0.63.18/19) --------------------------------
BOOTLOADER = "airbyte-bootloader"
TEMPORAL = "airbyte-temporal"
SERVER = "airbyte-server"
WORKER = "airbyte-worker"
CRON = "airbyte-cron"
CONNECTOR_BUILDER = "airbyte-connector-builder-server"
WEBAPP = "airbyte-webapp"
PROXY = "airbyte-proxy"
API_PROXY = "airbyte-api-proxy"
DOCKER_PROXY = "airbyte-docker-proxy"

SERVER_PORT = 8001
WEBAPP_PORT = 8080
CONNECTOR_BUILDER_PORT = 8080
TEMPORAL_PORT = 7233
WORKER_HEARTBEAT_PORT = 9000
CRON_PORT = 9001
PROXY_WEB_PORT = 8000
PROXY_API_PORT = 8001
DOCKER_PROXY_PORT = docker_api_proxy.PORT

WORKSPACE_ROOT = "/tmp/workspace"
LOCAL_ROOT = "/tmp/airbyte_local"
CONFIG_ROOT = "/data"
FLAGS_PATH = "/flags"
TEMPORAL_DYNAMIC_CONFIG = "/etc/temporal/config/dynamicconfig/development.yaml"
DOCKER_SOCKET = docker_api_proxy.DOCKER_SOCKET

#: The role and databases Airbyte owns on the platform's PostgreSQL.
AIRBYTE_ROLE, AIRBYTE_DATABASE = "airbyte", "airbyte"
TEMPORAL_ROLE, TEMPORAL_DATABASE, TEMPORAL_VISIBILITY_DATABASE = "temporal", "temporal", "temporal_visibility"

BASIC_AUTH_USERNAME = "airbyte"
PUBLIC_API_PATH = "/api/public/v1"
#: What containers on the stack network (Airflow) call: the server directly, no proxy, no basic auth.
INTERNAL_API_URL = f"http://{SERVER}:{SERVER_PORT}{PUBLIC_API_PATH}"


#: Upstream's deployment feature flags (flags.yml, mounted at /flags; FEATURE_FLAG_CLIENT=config).
UPSTREAM_FLAGS = (
    ("performance.backgroundJsonSchemaValidation", False),
    ("heartbeat.failSync", True),
    ("connectors.versionOverridesEnabled", True),
    ("billing.newTrialPolicy", False),
    ("heartbeat-max-seconds-between-messages", "10800"),
    ("use-new-notification-workflow", False),
    ("validation.removeValidationLimit", False),
    ("autopropagation.enabled", True),
    ("connection.columnSelection", True),
    ("refreshSchema.period.hours", 24),
    ("concurrent.source.stream.read", False),
    ("platform.add-scheduling-jitter", False),
    ("connectors.apm-enabled", False),
    ("platform.use-new-schema-update-notification", False),
)

#: Upstream's temporal/dynamicconfig/development.yaml settings (persistence QPS, retry policies, blob limits).
TEMPORAL_DYNAMIC_SETTINGS = {
    "frontend.enableClientVersionCheck": True,
    "history.persistenceMaxQPS": 3000,
    "frontend.persistenceMaxQPS": 3000,
    "frontend.historyMgrNumConns": 30,
    "frontend.throttledLogRPS": 20,
    "frontend.enableUpdateWorkflowExecution": True,
    "frontend.enableUpdateWorkflowExecutionAsyncAccepted": True,
    "history.historyMgrNumConns": 50,
    "system.advancedVisibilityWritingMode": "off",
    "history.defaultActivityRetryPolicy": {
        "InitialIntervalInSeconds": 1,
        "MaximumIntervalCoefficient": 100.0,
        "BackoffCoefficient": 2.0,
        "MaximumAttempts": 0,
    },
    "history.defaultWorkflowRetryPolicy": {
        "InitialIntervalInSeconds": 1,
        "MaximumIntervalCoefficient": 100.0,
        "BackoffCoefficient": 2.0,
        "MaximumAttempts": 0,
    },
    "limit.blobSize.error": 15728640,
    "limit.blobSize.warn": 10485760,
}


def image_refs() -> dict[str, str]:
    """Every image the deployment pulls, keyed by short name; Airbyte tags follow AIRBYTE_VERSION. (The Docker
    API proxy is built: images/dockerapi-proxy.)"""
    airbyte = ("bootloader", "temporal", "server", "worker", "cron", "connector-builder-server", "webapp", "proxy")
    return {name: f"airbyte/{name}:{AIRBYTE_VERSION}" for name in airbyte}


def airbyte_consumers() -> list[Consumer]:
    """Roles and databases to add to the platform's Database when Airbyte is on.

    Temporal's databases are created here because the airbyte/temporal
    entrypoint has no switch to skip creating them (upstream's auto-setup
    ``SKIP_DB_CREATE`` is not honoured by Airbyte's wrapper script): its
    ``temporal-sql-tool create`` then fails harmlessly (the role has no
    CREATEDB, the script does not stop on errors) and the schema is set up
    in the databases that already exist.
    """
    return [
        Consumer(AIRBYTE_ROLE, (AIRBYTE_DATABASE,)),
        Consumer(TEMPORAL_ROLE, (TEMPORAL_DATABASE, TEMPORAL_VISIBILITY_DATABASE)),
    ]


def _yaml(value: object) -> str:
    """JSON is valid YAML; enough for config files read by YAML parsers."""
    return json.dumps(value, indent=2) + "\n"


def flags_file() -> str:
    return _yaml({"flags": [{"name": name, "serve": serve} for name, serve in UPSTREAM_FLAGS]})


def temporal_dynamic_config() -> str:
    return _yaml({key: [{"value": value, "constraints": {}}] for key, value in TEMPORAL_DYNAMIC_SETTINGS.items()})
