"""The one way every component declares a Docker container.

Components describe a container as a ``ContainerSpec`` (plain data that tests
can inspect without Pulumi) and hand it to ``declare_container``, which adds
what every mlplatform container must have: a network alias on the stack's
network, ports published on the bind address only, health check, restart
policy, limits, labels, ``wait`` until healthy and the image passed by id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from collections.abc import Mapping, Sequence

import pulumi
import pulumi_docker as docker

from config.models import Limits, Rotation

LABEL_PREFIX = "org.mlplatform"
LABEL_PROJECT = f"{LABEL_PREFIX}.project"
LABEL_STACK = f"{LABEL_PREFIX}.stack"
LABEL_SERVICE = f"{LABEL_PREFIX}.service"
LABEL_ROLE = f"{LABEL_PREFIX}.role"
#: Where ``secret_files`` are written in a container (Docker's usual place for secrets).
SECRETS_DIR = "/run/secrets"


def url_host(host: str) -> str:
    """A host as it stands in a URL or a Host header: IPv6 addresses in brackets."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host


def secret_path(name: str) -> str:
    """Path of the secret file ``name`` inside a container."""
    return f"{SECRETS_DIR}/{name}"


@dataclass(frozen=True)
class HealthCheck:
    """A Docker health check; ``test`` is the Docker form, e.g. ``("CMD-SHELL", "...")``."""

    test: tuple[str, ...]
    interval_s: int = 10
    timeout_s: int = 5
    retries: int = 6
    start_period_s: int = 30


@dataclass(frozen=True)
class VolumeMount:
    """A named volume (``volume``) or a host directory (``host_path``) mounted at ``container_path``."""

    container_path: str
    volume: pulumi.Input[str] | None = None
    host_path: str | None = None
    read_only: bool = False


@dataclass(frozen=True)
class Upload:
    """A file written into the container before it starts.

    A ``secret`` upload is a secret Output, owned by the spec's ``secrets_owner``
    and readable by it alone.
    """

    path: str
    content: pulumi.Input[str]
    executable: bool = False
    secret: bool = False


@dataclass(frozen=True)
class FileOwner:
    """The user (and group) of the process that reads a container's secret files, and their mode.

    Numeric ids: pulumi-docker resolves names on the host that runs `pulumi up`, not in the image.
    ``0400`` lets that user alone read; ``0440`` also its group (for a second process of the group).
    """

    uid: int
    gid: int = 0
    mode: str = "0400"

    def __post_init__(self) -> None:
        if self.mode not in ("0400", "0440"):
            raise ValueError(f"secret files are 0400 or 0440, not {self.mode}")


@dataclass(frozen=True)
class Stop:
    """How the engine stops the container (replace, destroy, restart): the signal its process shuts down
    cleanly on, and how long it may take before it is killed."""

    signal: str = "SIGTERM"
    grace_s: int = 30


@dataclass(frozen=True)
class ContainerSpec:
    """Everything specific to one service container."""

    service: str
    """Service name: network alias, container name suffix and label."""
    image: pulumi.Input[str]
    """Image id (sha256) of a RemoteImage, so updates do not replace needlessly."""
    command: Sequence[str] = ()
    entrypoint: Sequence[str] = ()
    env: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Plain settings."""
    secret_env: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Secrets the software can only read from env (visible to `docker inspect`); wrapped as secret Outputs."""
    secret_files: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Secrets written to ``secret_path(name)`` before start: preferred, they stay out of `docker inspect`."""
    secrets_owner: FileOwner | None = None
    """Who reads the secret files and secret uploads (required when there are any)."""
    healthcheck: HealthCheck | None = None
    internal_port: int | None = None
    host_port: int | None = None
    """Publish ``internal_port`` on this host port, on the stack's bind address only."""
    volumes: Sequence[VolumeMount] = ()
    uploads: Sequence[Upload] = ()
    limits: Limits = Limits()
    user: str | None = None
    hostname: str | None = None
    one_shot: bool = False
    """A job that runs to completion (init, migrations): attached, not restarted, not waited on for health."""
    rerun_every_deploy: bool = False
    """Replace (so re-run) this job on every `pulumi up`, e.g. to re-assert generated passwords."""
    stop: Stop = Stop()
    """Stop signal and grace period (long-running services)."""
    on_stack_network: bool = True
    """Join the stack network (every service does, except one confined to ``extra_networks``)."""
    extra_networks: Sequence[pulumi.Input[str]] = ()
    """Further networks (by name) the container joins under its service alias."""

    def __post_init__(self) -> None:
        overlap = set(self.env) & set(self.secret_env)
        if overlap:
            raise ValueError(f"{self.service}: env keys both plain and secret: {sorted(overlap)}")
        if self.host_port is not None and self.internal_port is None:
            raise ValueError(f"{self.service}: host_port needs internal_port")
        if not self.on_stack_network and not self.extra_networks:
            raise ValueError(f"{self.service}: a container needs a network")
        if not self.on_stack_network and self.host_port is not None:
            raise ValueError(f"{self.service}: a confined container publishes no port")
        if not self.one_shot and self.healthcheck is None:
            raise ValueError(f"{self.service}: a long-running service needs a health check")
        if (self.secret_files or any(u.secret for u in self.uploads)) and self.secrets_owner is None:
            raise ValueError(f"{self.service}: secret files need secrets_owner (the uid that reads them)")


#: ``KEY=value`` env entries already built, by (key, id of the value, secret).
EnvCache = dict[tuple[str, int, bool], tuple[object, pulumi.Output[str]]]


@dataclass(frozen=True)
class StackContext:
    """What every container of one stack shares."""

    project: str
    stack: str
    network: docker.Network
    network_name: pulumi.Input[str]
    bind_address: str
    public_host: str
    """The host clients use: the stack's ``public_host``, else its bind address."""
    wait_timeout_s: int
    deploy_id: str
    """Unique per program run; the replacement trigger of jobs that re-run on every deploy."""
    rotation: Rotation = Rotation()
    """Generations of the generated secrets (``rotation`` in the stack config)."""
    env_cache: EnvCache = field(default_factory=dict, compare=False, repr=False)
    """``KEY=value`` Outputs shared by containers with the same setting (N workers cost ~1)."""
    services: dict[str, str] = field(default_factory=dict, compare=False, repr=False)
    """Service names declared so far, each with the Pulumi name of its container."""

    def claim_service(self, service: str, resource_name: str) -> None:
        """Refuse a second container with the same service name (network alias and container name)."""
        if service in self.services:
            raise ValueError(
                f"two containers named {service!r} in stack {self.stack!r} ({self.services[service]!r} and "
                f"{resource_name!r}): give the second component instance a different name"
            )
        self.services[service] = resource_name

    def browser_url(self, port: int, path: str = "", scheme: str = "http") -> str:
        """URL a client uses for a port published on the bind address."""
        return f"{scheme}://{url_host(self.public_host)}:{port}{path}"

    def container_name(self, service: str) -> str:
        return f"{self.project}-{self.stack}-{service}"

    def stack_labels(self) -> dict[str, str]:
        return {LABEL_PROJECT: self.project, LABEL_STACK: self.stack}

    def labels(self, service: str, role: str) -> dict[str, str]:
        return {**self.stack_labels(), LABEL_SERVICE: service, LABEL_ROLE: role}


def _seconds(value: int) -> str:
    return f"{value}s"


def env_list(spec: ContainerSpec, cache: EnvCache | None = None) -> list[pulumi.Input[str]]:
    """``KEY=value`` entries, secret values kept secret.

    With ``cache``, an entry built from the same value object is built once and
    shared, so many containers with the same settings stay cheap to declare.
    """
    cache = {} if cache is None else cache

    def entry(key: str, value: pulumi.Input[str], secret: bool) -> pulumi.Input[str]:
        if not secret and not isinstance(value, pulumi.Output):
            return f"{key}={value}"
        cache_key = (key, id(value), secret)
        if cache_key not in cache:
            built = pulumi.Output.concat(key, "=", value)
            # Keep `value` referenced so its id cannot be reused by another object.
            cache[cache_key] = (value, pulumi.Output.secret(built) if secret else built)
        return cache[cache_key][1]

    return [entry(k, v, False) for k, v in sorted(spec.env.items())] + [
        entry(k, v, True) for k, v in sorted(spec.secret_env.items())
    ]


def _upload(upload: Upload, owner: FileOwner | None) -> docker.ContainerUploadArgs:
    if not upload.secret:
        return docker.ContainerUploadArgs(file=upload.path, content=upload.content, executable=upload.executable)
    assert owner is not None  # ContainerSpec refuses secret files without an owner
    return docker.ContainerUploadArgs(
        file=upload.path,
        content=pulumi.Output.secret(upload.content),
        owner=str(owner.uid),
        group=str(owner.gid),
        permissions=owner.mode,
    )


def declare_container(
    spec: ContainerSpec,
    ctx: StackContext,
    opts: pulumi.ResourceOptions | None = None,
) -> docker.Container:
    """Declare ``spec`` as a container on the stack's network with the platform's defaults."""
    ctx.claim_service(spec.service, spec.service)
    healthcheck = None
    if spec.healthcheck is not None:
        hc = spec.healthcheck
        healthcheck = docker.ContainerHealthcheckArgs(
            tests=list(hc.test),
            interval=_seconds(hc.interval_s),
            timeout=_seconds(hc.timeout_s),
            retries=hc.retries,
            start_period=_seconds(hc.start_period_s),
        )
    ports = None
    if spec.host_port is not None and spec.internal_port is not None:
        ports = [docker.ContainerPortArgs(internal=spec.internal_port, external=spec.host_port, ip=ctx.bind_address)]
    job = spec.one_shot
    role = "job" if job else "service"
    # Health check changes are stored but not applied by pulumi-docker: replace instead.
    # Container names are fixed, so the old container must go before its replacement starts.
    options = pulumi.ResourceOptions.merge(
        pulumi.ResourceOptions(
            replace_on_changes=["healthcheck"],
            delete_before_replace=True,
            replacement_trigger=ctx.deploy_id if spec.rerun_every_deploy else None,
        ),
        opts,
    )
    return docker.Container(
        spec.service,
        name=ctx.container_name(spec.service),
        image=spec.image,
        command=list(spec.command) or None,
        entrypoints=list(spec.entrypoint) or None,
        envs=env_list(spec, ctx.env_cache),
        healthcheck=healthcheck,
        networks_advanced=[
            docker.ContainerNetworksAdvancedArgs(name=network, aliases=[spec.service])
            for network in ([ctx.network_name] if spec.on_stack_network else []) + list(spec.extra_networks)
        ],
        ports=ports,
        volumes=[
            docker.ContainerVolumeArgs(
                container_path=v.container_path, volume_name=v.volume, host_path=v.host_path, read_only=v.read_only
            )
            for v in spec.volumes
        ]
        or None,
        uploads=[_upload(u, spec.secrets_owner) for u in spec.uploads]
        + [
            _upload(Upload(secret_path(name), content, secret=True), spec.secrets_owner)
            for name, content in sorted(spec.secret_files.items())
        ]
        or None,
        memory=spec.limits.memory_mb,
        # Swap as large as the limit means no swap: the limit is what the container gets, and the engine
        # accepts a raised limit in place (it refuses one above an implicit swap limit of twice the old one).
        memory_swap=spec.limits.memory_mb,
        cpus=None if spec.limits.cpus is None else str(spec.limits.cpus),
        labels=[docker.ContainerLabelArgs(label=k, value=v) for k, v in ctx.labels(spec.service, role).items()],
        user=spec.user,
        hostname=spec.hostname,
        stop_signal=None if job else spec.stop.signal,
        stop_timeout=None if job else spec.stop.grace_s,
        # What `pulumi destroy` and a replacement give the container before killing it (the provider's default is 0).
        destroy_grace_seconds=None if job else spec.stop.grace_s,
        opts=options,
        # A job is attached (the deploy waits for its exit and keeps its logs), a service is waited on until healthy.
        attach=True if job else None,
        logs=True if job else None,
        must_run=not job,
        restart="no" if job else "unless-stopped",
        wait=not job,
        wait_timeout=None if job else ctx.wait_timeout_s,
    )


def data_volume(
    resource_name: str,
    service: str,
    ctx: StackContext,
    parent: pulumi.Resource,
    protect: bool = False,
    physical_name: str | None = None,
    was: str | None = None,
) -> docker.Volume:
    """A named volume for a service's data: kept when deleted from the stack, protected on request.

    The Docker volume is ``<project>-<stack>-<physical_name or resource_name>``; ``was``
    is the Pulumi name an earlier release gave it (an alias, so nothing is replaced).
    """
    return docker.Volume(
        resource_name,
        name=f"{ctx.project}-{ctx.stack}-{physical_name or resource_name}",
        labels=[docker.VolumeLabelArgs(label=k, value=v) for k, v in ctx.labels(service, "data").items()],
        opts=pulumi.ResourceOptions(
            parent=parent, retain_on_delete=True, protect=protect, aliases=[pulumi.Alias(name=was)] if was else None
        ),
    )


def job_succeeded(job: docker.Container, service: str) -> pulumi.Output[bool]:
    """Fail the deployment when a one-shot job exits non-zero.

    pulumi-docker records the exit code of an attached container but does not
    fail on it; a failed init must not look like a successful deploy.
    """

    def check(code: int | None) -> bool:
        if code not in (None, 0) and not pulumi.runtime.is_dry_run():
            raise pulumi.RunError(
                f"{service} exited with code {code}; read its output with `docker logs <stack>-{service}`"
            )
        return code in (None, 0)

    return job.exit_code.apply(check)
