"""The Airbyte component: volumes, generated proxy password, pulled images and the containers of ``specs``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components import secrets
from components.airbyte.specs import TOPOLOGY, AirbyteSettings, AirbyteVolumes, airflow_connection
from components.airbyte.upstream import (
    AIRBYTE_ROLE,
    BASIC_AUTH_USERNAME,
    BOOTLOADER,
    INTERNAL_API_URL,
    PUBLIC_API_PATH,
    TEMPORAL_ROLE,
    image_refs,
)
from components.base import PlatformComponent
from components.database import ConnectionInfo
from components.images import built_image, pulled_image
from components.service import StackContext, data_volume, declare_container, job_succeeded
from config.models import Airbyte as AirbyteConfig
from config.versions import REPO_ROOT

@dataclass
class AirbyteArgs:
    """Inputs of the Airbyte component."""

    config: AirbyteConfig
    """The stack's ``airbyte`` settings."""
    context: StackContext
    """Network, bind address and naming shared by the stack."""
    databases: dict[str, ConnectionInfo]
    """Connections for the roles of ``airbyte_consumers()`` (``airbyte``, ``temporal``)."""
    debian_base_image: str
    """Pinned Debian-based image the Docker API proxy is built on (``images.python_base``)."""
    depends_on: Sequence[pulumi.Resource] = ()
    """Resources to wait for first (the PostgreSQL container)."""
    protect_data: bool = False
    """Protect the volumes from deletion (prod)."""


class Airbyte(PlatformComponent):
    """Airbyte's Docker deployment (last Docker-native release) on the stack network.

    Its containers keep upstream's names (the images' defaults refer to them), so a
    stack holds one instance: a second is refused by the duplicate-service check.
    """

    TYPE = "mlplatform:index:Airbyte"
    DEFAULT_NAME = "airbyte"

    url: str
    """Browser URL of the UI (through the basic-auth proxy)."""
    api_url: str
    """Browser/host URL of the public API (basic-auth proxy on ``api_port``)."""
    internal_api_url: str
    """Public API URL for containers on the stack network (Airflow)."""
    airflow_connection: pulumi.Output[str]
    """Secret JSON for ``AIRFLOW_CONN_AIRBYTE_DEFAULT``."""
    basic_auth_username: str
    basic_auth_password: pulumi.Output[str]
    """Secret, generated."""
    init_succeeded: pulumi.Output[bool]
    """Resolves only if the bootloader exited 0 (fails `pulumi up` otherwise)."""
    containers: dict[str, docker.Container]
    docker_api_network: docker.Network
    """Internal network of the Docker API proxy; only the worker joins it besides the proxy."""

    def __init__(self, name: str, args: AirbyteArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        child = self.child_opts()
        ctx = args.context
        missing = {AIRBYTE_ROLE, TEMPORAL_ROLE} - set(args.databases)
        if missing:
            raise ValueError(f"Airbyte needs database connections for roles {sorted(missing)}")

        volumes = {
            kind: data_volume(self.child_name(kind), name, ctx, self, args.protect_data)
            for kind in ("workspace", "local", "data")
        }
        self.basic_auth_username = BASIC_AUTH_USERNAME
        self.basic_auth_password = secrets.password(self.child_name("basic-auth"), child,
                                                    generation=ctx.rotation.logins)
        self.url = ctx.browser_url(args.config.port)
        self.api_url = ctx.browser_url(args.config.api_port, PUBLIC_API_PATH)
        self.internal_api_url = INTERNAL_API_URL
        # The Docker API proxy's own network: internal (no route out), joined by the proxy and the worker only.
        self.docker_api_network = docker.Network(
            self.child_name("docker-api"),
            name=ctx.container_name("airbyte-docker-api"),
            driver="bridge",
            internal=True,
            labels=[docker.NetworkLabelArgs(label=k, value=v) for k, v in ctx.stack_labels().items()],
            opts=child,
        )
        images = {
            key: pulled_image(self.child_name(f"{key}-image"), ref, child).image_id for key, ref in image_refs().items()
        }
        images["docker-proxy"] = built_image(
            self.child_name("docker-proxy-image"),
            repository="mlplatform/dockerapi-proxy",
            dockerfile="images/dockerapi-proxy/Dockerfile",
            inputs=[REPO_ROOT / "images/dockerapi-proxy"],
            build_args={"DEBIAN_BASE": args.debian_base_image},
            opts=child,
        ).image_id
        settings = AirbyteSettings(
            images=images,
            database=args.databases[AIRBYTE_ROLE],
            temporal=args.databases[TEMPORAL_ROLE],
            volumes=AirbyteVolumes(**{kind: vol.name for kind, vol in volumes.items()}),
            webapp_url=self.url + "/",
            basic_auth_password=self.basic_auth_password,
            docker_api_network=self.docker_api_network.name,
            limits=args.config.limits,
            config=args.config,
        )

        self.containers = {}
        for spec_fn, waits_for in TOPOLOGY:
            spec = spec_fn(settings)
            deps = [*args.depends_on, *(self.containers[s] for s in waits_for)]
            self.containers[spec.service] = declare_container(spec, ctx, self.child_opts(depends_on=deps))

        self.init_succeeded = job_succeeded(self.containers[BOOTLOADER], BOOTLOADER)
        self.airflow_connection = pulumi.Output.secret(airflow_connection())
        self.register_outputs(
            {
                "url": self.url,
                "api_url": self.api_url,
                "internal_api_url": self.internal_api_url,
                "init_succeeded": self.init_succeeded,
            }
        )
