"""REST scoring of the registered anomaly model's ``champion`` version (images/modelserver/).

MLflow's own scoring protocol (``POST /invocations``, the model's signature enforced) behind
a small FastAPI app that checks the alias every ``poll_seconds`` and swaps the new version
in without a restart: a new champion is served within ``poll_seconds`` plus its load time
(a few seconds), and a version that fails to load leaves the previous one serving. The
image carries the training libraries at the lock's versions; nothing installs at start.
With MLflow auth on it reads the registry as its own non-admin user, whose password is the
MLflow client's credentials file (never env). The port has no auth: published on the bind
address only, and refused when the stack is exposed.
"""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Sequence

import pulumi
import pulumi_docker as docker

from components.base import PlatformComponent
from components.images import python_image
from components.mlflow_server import MLflowLogin, mlflow_credentials
from components.service import ContainerSpec, FileOwner, HealthCheck, StackContext, Stop, Upload, declare_container
from config.models import ModelServer as ModelServerConfig

PORT = 8080
#: The modelserver user of the image (images/modelserver/Dockerfile).
SERVER_USER = FileOwner(uid=1000, gid=1000)
#: The MLflow client reads this file when no MLFLOW_TRACKING_USERNAME/PASSWORD is set.
MLFLOW_CREDENTIALS_PATH = "/home/modelserver/.mlflow/credentials"

HEALTHCHECK = HealthCheck(
    # /health is 200 only while the registry answers (with the server's login) and the champion, if there is
    # one yet, is loaded; the image has no curl.
    test=("CMD", "python", "-c",
          f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{PORT}/health', timeout=4)"),
    interval_s=10,
    timeout_s=6,
    retries=6,
    start_period_s=60,
)


def model_server_spec(
    service: str,
    image: pulumi.Input[str],
    config: ModelServerConfig,
    tracking_uri: str,
    model_name: str,
    alias: str,
    login: MLflowLogin | None,
) -> ContainerSpec:
    uploads = (Upload(MLFLOW_CREDENTIALS_PATH, mlflow_credentials(login), secret=True),) if login else ()
    return ContainerSpec(
        service=service,
        image=image,
        command=("uvicorn", "champion_server:app", "--host", "0.0.0.0", "--port", str(PORT), "--workers", "1"),
        env={
            "MLFLOW_TRACKING_URI": tracking_uri,
            "MODEL_NAME": model_name,
            "MODEL_ALIAS": alias,
            "MODEL_POLL_SECONDS": str(config.poll_seconds),
            # A registry that is down must not hold the poller for minutes (MLflow retries 7 times by default).
            "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "2",
            "MLFLOW_HTTP_REQUEST_TIMEOUT": "30",
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "DO_NOT_TRACK": "true",
        },
        uploads=uploads,
        secrets_owner=SERVER_USER if login else None,
        user=f"{SERVER_USER.uid}:{SERVER_USER.gid}",
        healthcheck=HEALTHCHECK,
        internal_port=PORT,
        host_port=config.port,
        limits=config.limits,
        # uvicorn stops on SIGTERM after finishing the requests in flight.
        stop=Stop("SIGTERM", 30),
    )


@dataclass
class ModelServerArgs:
    """Inputs of the ModelServer component."""

    config: ModelServerConfig
    """The stack's ``model_server`` settings."""
    python_base_image: str
    """Pinned Python image the server image is built on."""
    context: StackContext
    """Network, bind address and naming shared by the stack."""
    tracking_uri: str
    """MLflow's in-network URI."""
    model_name: str
    """Registered model to serve."""
    alias: str = "champion"
    login: MLflowLogin | None = None
    """The server's MLflow user when MLflow auth is on."""
    depends_on: Sequence[pulumi.Resource] = ()
    """MLflow's container."""


class ModelServer(PlatformComponent):
    """The champion model over REST, following its alias."""

    TYPE = "mlplatform:index:ModelServer"
    DEFAULT_NAME = "modelserver"

    url: str | None
    """Browser/API URL on the bind address (None when unpublished)."""
    internal_url: str
    """URL for containers on the stack network."""
    container: docker.Container

    def __init__(self, name: str, args: ModelServerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        ctx, config = args.context, args.config
        image = python_image(self.child_name("image"), "modelserver", args.python_base_image, self.child_opts())
        spec = model_server_spec(name, image.image_id, config, args.tracking_uri, args.model_name, args.alias,
                                 args.login)
        self.container = declare_container(spec, ctx, self.child_opts(depends_on=list(args.depends_on)))
        self.url = None if config.port is None else ctx.browser_url(config.port)
        self.internal_url = f"http://{name}:{PORT}"
        self.register_outputs({"url": self.url, "internal_url": self.internal_url})
