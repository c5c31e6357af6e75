"""A Streamlit app over the champion model (images/modelapp/): what the trading-bot stack's app did, for ours.

It shows the champion's version and metrics (MLflow's REST API, as its own read-only MLflow
user when auth is on: the MLflow client's credentials file, never env), the latest
batch-scoring anomalies with a chart, and scores a row or an uploaded CSV through the
ModelServer. The batch scores are read where the training DAG writes them, Airflow's data
volume, mounted read-only: the app shows exactly what the DAG produced and cannot change
it (docs/model-serving.md). Streamlit has no auth: published on the bind address only, and
refused when the stack is exposed.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Sequence

import pulumi
import pulumi_docker as docker

from components.base import PlatformComponent
from components.images import python_image
from components.mlflow_server import MLflowLogin, mlflow_credentials
from components.service import (
    ContainerSpec,
    FileOwner,
    HealthCheck,
    StackContext,
    Stop,
    Upload,
    VolumeMount,
    declare_container,
)
from config.models import ModelApp as ModelAppConfig

PORT = 8501
DATA_DIR = "/data"
#: The modelapp user of the image (images/modelapp/Dockerfile).
APP_USER = FileOwner(uid=1000, gid=1000)
MLFLOW_CREDENTIALS_PATH = "/home/modelapp/.mlflow/credentials"

HEALTHCHECK = HealthCheck(
    # Streamlit's own health route: 200 "ok" once its runtime is ready (503 before).
    test=("CMD", "python", "-c",
          f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{PORT}/_stcore/health', timeout=4)"),
    interval_s=10,
    timeout_s=6,
    retries=6,
    start_period_s=30,
)


def model_app_spec(
    service: str,
    image: pulumi.Input[str],
    config: ModelAppConfig,
    tracking_uri: str,
    model_server_url: str,
    model_name: str,
    alias: str,
    scores_volume: pulumi.Input[str],
    login: MLflowLogin | None,
) -> ContainerSpec:
    uploads = (Upload(MLFLOW_CREDENTIALS_PATH, mlflow_credentials(login), secret=True),) if login else ()
    return ContainerSpec(
        service=service,
        image=image,
        command=(
            "streamlit", "run", "/opt/modelapp/app/app.py",
            "--server.address", "0.0.0.0", "--server.port", str(PORT), "--server.headless", "true",
            "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
            "--client.toolbarMode", "viewer",
        ),
        env={
            "MLFLOW_TRACKING_URI": tracking_uri,
            "MODEL_SERVER_URL": model_server_url,
            "MODEL_NAME": model_name,
            "MODEL_ALIAS": alias,
            "MLPLATFORM_DATA_DIR": DATA_DIR,
        },
        uploads=uploads,
        secrets_owner=APP_USER if login else None,
        user=f"{APP_USER.uid}:{APP_USER.gid}",
        healthcheck=HEALTHCHECK,
        internal_port=PORT,
        host_port=config.port,
        volumes=(VolumeMount(DATA_DIR, volume=scores_volume, read_only=True),),
        limits=config.limits,
        stop=Stop("SIGTERM", 10),
    )


@dataclass
class ModelAppArgs:
    """Inputs of the ModelApp component."""

    config: ModelAppConfig
    """The stack's ``model_app`` settings."""
    python_base_image: str
    """Pinned Python image the app image is built on."""
    context: StackContext
    """Network, bind address and naming shared by the stack."""
    tracking_uri: str
    """MLflow's in-network URI."""
    model_server_url: str
    """The ModelServer's in-network URL."""
    model_name: str
    scores_volume: pulumi.Input[str]
    """Airflow's data volume, where batch scoring writes (mounted read-only)."""
    alias: str = "champion"
    login: MLflowLogin | None = None
    """The app's MLflow user when MLflow auth is on."""
    depends_on: Sequence[pulumi.Resource] = ()


class ModelApp(PlatformComponent):
    """Streamlit app: champion, latest anomalies, scoring through the ModelServer."""

    TYPE = "mlplatform:index:ModelApp"
    DEFAULT_NAME = "modelapp"

    url: str | None
    internal_url: str
    container: docker.Container

    def __init__(self, name: str, args: ModelAppArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        ctx, config = args.context, args.config
        image = python_image(self.child_name("image"), "modelapp", args.python_base_image, self.child_opts())
        spec = model_app_spec(name, image.image_id, config, args.tracking_uri, args.model_server_url,
                              args.model_name, args.alias, args.scores_volume, args.login)
        self.container = declare_container(spec, ctx, self.child_opts(depends_on=list(args.depends_on)))
        self.url = None if config.port is None else ctx.browser_url(config.port)
        self.internal_url = f"http://{name}:{PORT}"
        self.register_outputs({"url": self.url, "internal_url": self.internal_url})
