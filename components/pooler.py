"""PgBouncer between Airflow's long-running services and PostgreSQL (seed stack 4's pooler).

Transaction pooling, as Airflow's own Helm chart runs it: many Airflow processes share
a few server connections. What makes that work with Airflow 3.3 (see
components/airflow_cluster.py): the sync driver (psycopg2) and the Celery result
backend need nothing; the API server's async engine must not use server-side prepared
statements (PgBouncer 1.18 cannot keep them), and `airflow db migrate` holds a
session advisory lock, so the init job goes to PostgreSQL directly.

The auth file holds the pooled roles' generated passwords in plain text (PgBouncer then
does SCRAM with both the client and the server); it and the health check's passfile are
secret files readable by the pgbouncer user only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components.base import PlatformComponent
from components.database import ConnectionInfo
from components.images import built_image
from components.service import (
    ContainerSpec,
    FileOwner,
    HealthCheck,
    StackContext,
    Stop,
    Upload,
    declare_container,
    secret_path,
)
from config.models import Pooler as PoolerConfig
from config.versions import REPO_ROOT

PORT = 6432
CONFIG_PATH = "/etc/pgbouncer/pgbouncer.ini"
USERLIST_FILE = "pgbouncer-userlist"
PASSFILE = "pgbouncer-pgpass"
#: The pgbouncer user of images/pgbouncer/Dockerfile (fixed uid: uploads are owned by number).
PGBOUNCER_USER = FileOwner(uid=10010, gid=10010)
#: SIGINT is the safe shutdown: in transaction mode PgBouncer waits for open transactions, then exits 0.
PGBOUNCER_STOP = Stop("SIGINT", 60)


def _quoted(value: str) -> str:
    """A userlist field: double quotes doubled (generated passwords have none, but a rule is a rule)."""
    return '"' + value.replace('"', '""') + '"'


def pgbouncer_ini(databases: Sequence[ConnectionInfo], pool_size: int) -> str:
    """The config: one pooled database per connection, transaction pooling, logins checked with SCRAM."""
    lines = ["[databases]"]
    lines += [f"{db.database} = host={db.host} port={db.port} dbname={db.database}" for db in databases]
    lines += [
        "",
        "[pgbouncer]",
        "listen_addr = 0.0.0.0",
        f"listen_port = {PORT}",
        "unix_socket_dir =",
        "auth_type = scram-sha-256",
        f"auth_file = {secret_path(USERLIST_FILE)}",
        "pool_mode = transaction",
        f"default_pool_size = {pool_size}",
        "max_client_conn = 500",
        # psycopg2 sends it at connect; PgBouncer would refuse the login otherwise (as Airflow's chart sets).
        "ignore_startup_parameters = extra_float_digits",
        "server_login_retry = 5",
        "logfile =",
        "pidfile =",
        "log_connections = 0",
        "log_disconnections = 0",
    ]
    return "\n".join(lines) + "\n"


def userlist(databases: Sequence[ConnectionInfo]) -> pulumi.Output[str]:
    """The auth file: each pooled role with its generated password (secret)."""
    entries = {db.user: db.password for db in databases}
    lines = [pulumi.Output.concat(_quoted(user), " ", pulumi.Output.from_input(pw).apply(_quoted), "\n")
             for user, pw in sorted(entries.items())]
    return pulumi.Output.secret(pulumi.Output.concat(*lines))


def passfile(probe: ConnectionInfo) -> pulumi.Output[str]:
    """libpq passfile for the health check's login through the pooler."""
    return pulumi.Output.secret(
        pulumi.Output.concat(f"127.0.0.1:{PORT}:{probe.database}:{probe.user}:", probe.password, "\n")
    )


def pooler_spec(
    service: str,
    image: pulumi.Input[str],
    config: PoolerConfig,
    databases: Sequence[ConnectionInfo],
) -> ContainerSpec:
    """The PgBouncer container; healthy only when a role can log in through it and run a query."""
    probe = databases[0]
    check = (
        f"timeout 10 psql \"host=127.0.0.1 port={PORT} dbname={probe.database} user={probe.user} "
        f"passfile={secret_path(PASSFILE)} connect_timeout=3\" -XAtqc 'SELECT 1' | grep -qx 1"
    )
    return ContainerSpec(
        service=service,
        image=image,
        command=(CONFIG_PATH,),
        uploads=(Upload(CONFIG_PATH, pgbouncer_ini(databases, config.pool_size)),),
        secret_files={USERLIST_FILE: userlist(databases), PASSFILE: passfile(probe)},
        secrets_owner=PGBOUNCER_USER,
        user=f"{PGBOUNCER_USER.uid}:{PGBOUNCER_USER.gid}",
        healthcheck=HealthCheck(test=("CMD-SHELL", check), interval_s=10, timeout_s=12, retries=6, start_period_s=20),
        limits=config.limits,
        stop=PGBOUNCER_STOP,
    )


@dataclass
class PoolerArgs:
    """Inputs of the Pooler component."""

    config: PoolerConfig
    """The stack's ``database.pooler`` settings."""
    debian_base_image: str
    """Pinned Debian (bookworm) image the PgBouncer image is built on."""
    context: StackContext
    """Network, bind address and naming shared by the stack."""
    databases: Sequence[ConnectionInfo]
    """The direct connections to pool (one pooled database per entry, reached with the same role)."""
    depends_on: Sequence[pulumi.Resource] = ()
    """The PostgreSQL container."""


class Pooler(PlatformComponent):
    """PgBouncer in transaction mode, in front of the platform's PostgreSQL."""

    TYPE = "mlplatform:index:Pooler"
    DEFAULT_NAME = "pgbouncer"

    host: str
    """In-network host name clients connect to."""
    port: int
    connections: dict[str, ConnectionInfo]
    """Per role: the same database and credentials, reached through the pooler."""
    container: docker.Container

    def __init__(self, name: str, args: PoolerArgs, opts: pulumi.ResourceOptions | None = None):
        super().__init__(name, opts)
        if not args.databases:
            raise ValueError("the pooler needs at least one database to pool")
        image = built_image(
            self.child_name("image"),
            repository="mlplatform/pgbouncer",
            dockerfile="images/pgbouncer/Dockerfile",
            inputs=[REPO_ROOT / "images/pgbouncer"],
            build_args={"DEBIAN_BASE": args.debian_base_image},
            opts=self.child_opts(),
        )
        spec = pooler_spec(name, image.image_id, args.config, args.databases)
        self.container = declare_container(spec, args.context, self.child_opts(depends_on=list(args.depends_on)))
        self.host, self.port = name, PORT
        self.connections = {db.user: pooled(db, name) for db in args.databases}
        self.register_outputs({"host": self.host, "port": self.port, "container": self.container.name})


def pooled(connection: ConnectionInfo, host: str) -> ConnectionInfo:
    """``connection`` reached through the pooler at ``host``."""
    return ConnectionInfo(host, PORT, connection.user, connection.database, connection.password)

