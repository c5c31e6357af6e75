"""Grafana with a read-only PostgreSQL data source on MLflow's database and
provisioned MLflow dashboards.

No secret reaches the container as an environment variable (``docker inspect``
shows those to anyone with Docker access, and every process in the container
inherits them): the admin password and the signing key are files read through
Grafana's ``GF_<KEY>__FILE`` convention, and the data source password is a
file read through the provisioning expander ``$__file{...}``. The files are
uploads whose content is a secret Output, so they are secret in Pulumi state.
"""

from __future__ import annotations

import json
from typing import Any
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Mapping

import pulumi
import pulumi_docker as docker
import yaml

from components import secrets
from components.base import PlatformComponent
from components.database import ConnectionInfo
from components.images import pulled_image
from components.service import (
    ContainerSpec,
    FileOwner,
    HealthCheck,
    StackContext,
    Upload,
    VolumeMount,
    data_volume,
    declare_container,
)
from config.models import Grafana as GrafanaConfig
from config.versions import REPO_ROOT

PORT = 3000
ADMIN_USER = "admin"
#: The grafana/grafana image's user (uid 472, group root): it reads the admin password and keys.
GRAFANA_USER = FileOwner(uid=472, gid=0)
DATA_DIR = "/var/lib/grafana"
PROVISIONING_DIR = "/etc/grafana/provisioning"
DASHBOARDS_DIR = "/etc/grafana/dashboards/mlflow"
SECRETS_DIR = "/etc/grafana/mlplatform"
ADMIN_PASSWORD_FILE = f"{SECRETS_DIR}/admin-password"
SECRET_KEY_FILE = f"{SECRETS_DIR}/secret-key"
DATASOURCE_PASSWORD_FILE = f"{SECRETS_DIR}/datasource-password"
DATASOURCE_FILE = f"{PROVISIONING_DIR}/datasources/mlflow.yaml"
DASHBOARD_PROVIDER_FILE = f"{PROVISIONING_DIR}/dashboards/mlflow.yaml"

#: Where the dashboard JSON files live in the repo (one file per dashboard).
DASHBOARDS_SOURCE = REPO_ROOT / "grafana" / "dashboards"
DATASOURCE_TYPE = "grafana-postgresql-datasource"
#: Fixed so dashboard JSON can reference the data source by uid.
DATASOURCE_UID = "mlflow-postgres"
#: The warehouse database (ingested data, training tables), through the same read-only role.
WAREHOUSE_DATASOURCE_UID = "warehouse-postgres"
#: Grafana's PostgreSQL version setting only picks query-builder functions; 1500 is the highest it offers.
POSTGRES_VERSION = 1500
DASHBOARD_FOLDER = "MLflow"

#: Grafana sets the admin password from GF_SECURITY_ADMIN_PASSWORD__FILE only when it first creates the admin;
#: on a kept volume the generated password is re-asserted before the server starts (read from the file on
#: stdin, never a command line). The official image's entrypoint (/run.sh) then starts the server as usual.
ENTRYPOINT_SCRIPT = f"""\
set -eu
if [ -f "$GF_PATHS_DATA/grafana.db" ]; then
  grafana cli --homepath "$GF_PATHS_HOME" --config "$GF_PATHS_CONFIG" \\
    admin reset-admin-password --password-from-stdin < {ADMIN_PASSWORD_FILE}
fi
exec /run.sh "$@"
"""

HEALTHCHECK = HealthCheck(
    # curl is installed in both the Alpine and the Ubuntu variants of grafana/grafana (upstream Dockerfile);
    # /api/health answers 503 until Grafana's own database is usable.
    test=("CMD", "curl", "--fail", "--silent", "--show-error", "--max-time", "4", f"http://127.0.0.1:{PORT}/api/health"),
    interval_s=10,
    timeout_s=6,
    retries=12,
    start_period_s=60,
)


def dashboard_files(directory: Path = DASHBOARDS_SOURCE) -> dict[str, str]:
    """Dashboard JSON by file name; fails the preview on invalid JSON or duplicate uids rather than in the browser."""
    files: dict[str, str] = {}
    uids: dict[str, str] = {}
    for path in sorted(directory.glob("*.json")):
        text = path.read_text()
        try:
            uid = json.loads(text)["uid"]
        except (json.JSONDecodeError, KeyError) as error:
            raise ValueError(f"{path}: not a dashboard with a uid: {error}") from None
        if uid in uids:
            raise ValueError(f"{path}: dashboard uid {uid!r} is also used by {uids[uid]}")
        uids[uid] = path.name
        files[path.name] = text
    if not files:
        raise ValueError(f"no dashboards in {directory}")
    return files


def datasource_provisioning(datasource: ConnectionInfo, warehouse_database: str | None = None) -> str:
    """Data source YAML: MLflow's database (the default) and, when given, the warehouse, both as the read-only
    role. The password is read from a file at provisioning time, so this text holds no secret."""

    def source(name: str, uid: str, database: str, default: bool) -> dict[str, Any]:
        return {
            "name": name,
            "uid": uid,
            "type": DATASOURCE_TYPE,
            "access": "proxy",
            "url": f"{datasource.host}:{datasource.port}",
            "user": datasource.user,
            "isDefault": default,
            "editable": False,
            "jsonData": {
                "database": database,
                "sslmode": "disable",
                "postgresVersion": POSTGRES_VERSION,
                "timescaledb": False,
            },
            "secureJsonData": {"password": f"$__file{{{DATASOURCE_PASSWORD_FILE}}}"},
        }

    sources = [source("MLflow", DATASOURCE_UID, datasource.database, True)]
    if warehouse_database is not None:
        sources.append(source("Warehouse", WAREHOUSE_DATASOURCE_UID, warehouse_database, False))
    return yaml.safe_dump({"apiVersion": 1, "datasources": sources}, sort_keys=False)


def dashboards_provisioning() -> str:
    """Dashboard provider YAML: every JSON file in ``DASHBOARDS_DIR``, read-only in the UI."""
    document = {
        "apiVersion": 1,
        "providers": [
            {
                "name": "mlplatform-mlflow",
                "orgId": 1,
                "folder": DASHBOARD_FOLDER,
                "type": "file",
                "disableDeletion": True,
                "allowUiUpdates": False,
                "updateIntervalSeconds": 60,
                "options": {"path": DASHBOARDS_DIR, "foldersFromFilesStructure": False},
            }
        ],
    }
    return yaml.safe_dump(document, sort_keys=False)


def _provisionable_password(value: str) -> str:
    # Grafana runs os.ExpandEnv over the value $__file{} returned, so a '$' would be silently mangled.
    if "$" in value:
        raise ValueError("the dashboards reader password contains '$', which Grafana provisioning would expand")
    return value


def grafana_spec(
    service: str,
    image: pulumi.Input[str],
    config: GrafanaConfig,
    browser_url: str,
    datasource: ConnectionInfo,
    admin_password: pulumi.Input[str],
    secret_key: pulumi.Input[str],
    volume: pulumi.Input[str],
    dashboards: Mapping[str, str],
    warehouse_database: str | None = None,
) -> ContainerSpec:
    """The Grafana container: logins only, no phoning home, data sources and dashboards provisioned."""
    datasource_password = pulumi.Output.from_input(datasource.password).apply(_provisionable_password)
    uploads = [
        Upload(ADMIN_PASSWORD_FILE, admin_password, secret=True),
        Upload(SECRET_KEY_FILE, secret_key, secret=True),
        Upload(DATASOURCE_PASSWORD_FILE, datasource_password, secret=True),
        Upload(DATASOURCE_FILE, datasource_provisioning(datasource, warehouse_database)),
        Upload(DASHBOARD_PROVIDER_FILE, dashboards_provisioning()),
    ]
    uploads += [Upload(f"{DASHBOARDS_DIR}/{name}", text) for name, text in sorted(dashboards.items())]
    return ContainerSpec(
        service=service,
        image=image,
        entrypoint=("/bin/sh", "-c", ENTRYPOINT_SCRIPT, "grafana"),
        env={
            "GF_SERVER_ROOT_URL": browser_url.rstrip("/") + "/",
            "GF_SECURITY_ADMIN_USER": ADMIN_USER,
            # The image's run.sh reads GF_<KEY>__FILE into GF_<KEY> inside the container only.
            "GF_SECURITY_ADMIN_PASSWORD__FILE": ADMIN_PASSWORD_FILE,
            # Encrypts data source secrets in Grafana's database; the built-in default is public.
            "GF_SECURITY_SECRET_KEY__FILE": SECRET_KEY_FILE,
            "GF_SECURITY_DISABLE_GRAVATAR": "true",
            "GF_AUTH_ANONYMOUS_ENABLED": "false",
            "GF_USERS_ALLOW_SIGN_UP": "false",
            "GF_USERS_ALLOW_ORG_CREATE": "false",
            "GF_ANALYTICS_REPORTING_ENABLED": "false",
            "GF_ANALYTICS_CHECK_FOR_UPDATES": "false",
            "GF_ANALYTICS_CHECK_FOR_PLUGIN_UPDATES": "false",
            "GF_ANALYTICS_FEEDBACK_LINKS_ENABLED": "false",
            "GF_NEWS_NEWS_FEED_ENABLED": "false",
            # Otherwise Grafana downloads plugins from grafana.com on every start.
            "GF_PLUGINS_PREINSTALL_DISABLED": "true",
            # Otherwise "Publish snapshot" uploads dashboard data to snapshots.raintank.io.
            "GF_SNAPSHOTS_EXTERNAL_ENABLED": "false",
        },
        secrets_owner=GRAFANA_USER,
        healthcheck=HEALTHCHECK,
        internal_port=PORT,
        host_port=config.port,
        volumes=(VolumeMount(container_path=DATA_DIR, volume=volume),),
        uploads=tuple(uploads),
        limits=config.limits,
    )


@dataclass
class GrafanaArgs:
    """Inputs of the Grafana component."""

    config: GrafanaConfig
    """The stack's ``grafana`` settings (host port, limits)."""
    image: str
    """Pinned Grafana image reference (``images.grafana``)."""
    context: StackContext
    """Network, bind address and naming shared by the stack."""
    datasource: ConnectionInfo
    """The read-only role's connection to MLflow's database (``Database.connections[MLFLOW_READER.role]``)."""
    warehouse_database: str | None = None
    """The warehouse database the same role reads: provisioned as a second data source."""
    protect_data: bool = False
    """Protect the data volume (users, preferences, annotations) from deletion."""


class Grafana(PlatformComponent):
    """Grafana with MLflow dashboards over a read-only PostgreSQL role."""

    TYPE = "mlplatform:index:Grafana"
    DEFAULT_NAME = "grafana"

    url: str
    """Browser URL, on the stack's bind address."""
    internal_url: str
    """URL inside the stack network."""
    admin_username: str
    admin_password: pulumi.Output[str]
    """Secret. Applied when Grafana first creates its admin user (see docs/grafana.md)."""
    container: docker.Container
    volume: docker.Volume

    def __init__(self, name: str, args: GrafanaArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        child = self.child_opts()
        ctx = args.context
        self.volume = data_volume(self.child_name("data"), name, ctx, self, args.protect_data)
        self.admin_password = secrets.password(self.child_name("admin"), child, generation=ctx.rotation.logins)
        secret_key = secrets.password(self.child_name("secret-key"), child, length=40)
        image = pulled_image(self.child_name("image"), args.image, child)
        self.url = ctx.browser_url(args.config.port)
        self.internal_url = f"http://{name}:{PORT}"
        self.admin_username = ADMIN_USER
        spec = grafana_spec(
            name,
            image.image_id,
            args.config,
            self.url,
            args.datasource,
            self.admin_password,
            secret_key,
            self.volume.name,
            dashboard_files(),
            args.warehouse_database,
        )
        self.container = declare_container(spec, ctx, child)
        self.register_outputs(
            {
                "url": self.url,
                "internal_url": self.internal_url,
                "admin_username": self.admin_username,
                "admin_password": self.admin_password,
                "container": self.container.name,
                "volume": self.volume.name,
            }
        )
