"""Compose the platform's components for one stack from its validated config."""

from __future__ import annotations

import dataclasses
import uuid
from dataclasses import dataclass, field
from typing import Any

import pulumi_docker as docker

from components.airbyte import Airbyte, AirbyteArgs, airbyte_consumers
from components.airflow_cluster import AirflowCluster, AirflowClusterArgs, AirflowWiring, IngestWiring
from components.database import Consumer, Database, DatabaseArgs, ReadOnlyAccess
from components.ingestion import (
    WAREHOUSE_DATABASE,
    WAREHOUSE_ROLE,
    sources_document,
    warehouse_consumer,
    warehouse_document,
    warehouse_read_grant,
)
from components.grafana import Grafana, GrafanaArgs
from components.images import stage_ca_bundle
from components.mlflow_server import (
    AUTH_DATABASE,
    ClientUser,
    MLflowLogin,
    MLflowServer,
    MLflowServerArgs,
    S3Artifacts,
)
from components.model_app import ModelApp, ModelAppArgs
from components.model_server import ModelServer, ModelServerArgs
from components.object_store import ObjectStore, ObjectStoreArgs
from components.pipelines import pipeline_names
from components.pooler import Pooler, PoolerArgs
from components.service import LABEL_PROJECT, LABEL_STACK, StackContext
from config.loader import external_artifacts_credentials, ingest_secret_config
from config.models import PlatformConfig

#: The MLflow user Airflow's DAGs log in as (MLflow auth on): not the admin.
PIPELINES_MLFLOW_USER = "airflow"
#: The MLflow users the model server and the model app read the registry as (MLflow auth on): read-only.
MODEL_SERVER_MLFLOW_USER = "modelserver"
MODEL_APP_MLFLOW_USER = "modelapp"
#: The MLflow user every notebook server logs runs as (MLflow auth on): creates its own experiments, not the admin.
NOTEBOOKS_MLFLOW_USER = "notebooks"
#: Where MLflow's artifacts go in the stack's object store bucket.
OBJECT_STORE_PREFIX = "artifacts"
CHAMPION_ALIAS = "champion"
#: The dashboards' read-only role on MLflow's database (and, see dashboards_reader, the warehouse).
MLFLOW_READER = ReadOnlyAccess(role="mlflow_reader", database="mlflow", owner="mlflow")


def dashboards_reader(config: PlatformConfig) -> ReadOnlyAccess:
    """The read-only role: MLflow's data by default, and every warehouse schema."""
    return dataclasses.replace(MLFLOW_READER, also_reads=(warehouse_read_grant(config.ingestion),))


def database_consumers(config: PlatformConfig) -> list[Consumer]:
    """Which services get their own role and database."""
    mlflow_databases = ("mlflow", AUTH_DATABASE) if config.mlflow.auth else ("mlflow",)
    consumers = [Consumer("airflow", ("airflow",)), Consumer("mlflow", mlflow_databases),
                 warehouse_consumer(config.ingestion)]
    if config.airbyte.enabled:
        consumers += airbyte_consumers()
    if config.notebooks.enabled:
        consumers.append(Consumer("jupyterhub", ("jupyterhub",)))
    if config.superset.enabled:
        consumers.append(Consumer("superset", ("superset",)))
    return consumers


def mlflow_client_users(config: PlatformConfig) -> list[ClientUser]:
    """Non-admin MLflow users: the pipelines' (EDIT on their experiments and model), and read-only ones for the
    model server and the app (MLflow's default permission is READ)."""
    names = pipeline_names()
    users = [ClientUser(PIPELINES_MLFLOW_USER, names.experiments, names.registered_models)]
    if config.model_server.enabled:
        users.append(ClientUser(MODEL_SERVER_MLFLOW_USER))
    if config.model_app.enabled:
        users.append(ClientUser(MODEL_APP_MLFLOW_USER))
    if config.notebooks.enabled:
        users.append(ClientUser(NOTEBOOKS_MLFLOW_USER))
    return users


def s3_artifacts(config: PlatformConfig, store: ObjectStore | None) -> S3Artifacts | None:
    """Where MLflow keeps artifacts when not on its volume: the stack's store, or an existing bucket."""
    if config.mlflow.artifacts == "object_store":
        assert store is not None  # the config refuses object_store artifacts without the store
        return S3Artifacts(store.internal_url, store.bucket, OBJECT_STORE_PREFIX, store.region,
                           store.mlflow_access_key_id, store.mlflow_secret_access_key, depends_on=[store.init])
    external = config.mlflow.external_artifacts
    if config.mlflow.artifacts == "external" and external is not None:
        key_id, secret = external_artifacts_credentials()
        return S3Artifacts(external.endpoint_url, external.bucket, external.prefix, external.region, key_id, secret)
    return None


@dataclass
class Platform:
    """What ``__main__`` exports."""

    endpoints: dict[str, Any] = field(default_factory=dict)
    """Per service: browser URL (or None) and in-network URL."""
    credentials: dict[str, Any] = field(default_factory=dict)
    """Per service: user names and generated passwords (exported as one secret)."""
    checks: dict[str, Any] = field(default_factory=dict)
    """Deploy-time checks (e.g. one-shot jobs exited 0); resolving them fails `pulumi up` when they fail."""

    def expose(self, service: str, url: Any, internal_url: Any, login: tuple[Any, Any] | None = None,
               **more_urls: Any) -> None:
        """Record a service's endpoints and, when it has one, its (username, password) login."""
        self.endpoints[service] = {"url": url, **more_urls, "internal_url": internal_url}
        if login is not None:
            self.login(service, *login)

    def login(self, name: str, username: Any, password: Any) -> None:
        self.credentials[name] = {"username": username, "password": password}


def build_platform(config: PlatformConfig, project: str, stack: str, deploy_id: str | None = None) -> Platform:
    """Declare every resource of the stack and return its endpoints and credentials."""
    # Secret config is looked up first: a missing key fails the deploy before any resource exists.
    ingest_secrets = ingest_secret_config(
        sorted({key for source in config.ingestion.sources for key in source.secret_config.values()})
    )
    stage_ca_bundle(config.images.extra_ca_bundle)
    network = docker.Network(
        "network",
        name=f"{project}-{stack}",
        driver="bridge",
        labels=[docker.NetworkLabelArgs(label=LABEL_PROJECT, value=project),
                docker.NetworkLabelArgs(label=LABEL_STACK, value=stack)],
    )
    ctx = StackContext(
        project=project,
        stack=stack,
        network=network,
        network_name=network.name,
        bind_address=config.bind_address,
        public_host=config.public_host or config.bind_address,
        wait_timeout_s=config.wait_timeout_s,
        deploy_id=deploy_id or uuid.uuid4().hex,
        rotation=config.rotation,
    )
    platform = Platform()

    database = Database(
        Database.DEFAULT_NAME,
        DatabaseArgs(
            config=config.database,
            image=config.images.postgres,
            context=ctx,
            consumers=database_consumers(config),
            reader=dashboards_reader(config),
            protect_data=config.protect_data,
        ),
    )
    platform.expose(
        "postgres",
        None if config.database.port is None else ctx.browser_url(config.database.port, scheme="postgresql"),
        f"postgresql://{database.host}:{database.port}",
        login=("postgres", database.superuser_password),
    )
    platform.login("dashboards_reader", MLFLOW_READER.role, database.connections[MLFLOW_READER.role].password)
    # The ingest role: what an Airbyte destination (or any loader) writes the warehouse as.
    platform.login("warehouse", WAREHOUSE_ROLE, database.connections[WAREHOUSE_ROLE].password)

    store = None
    if config.object_store.enabled:
        store = ObjectStore(
            ObjectStore.DEFAULT_NAME,
            ObjectStoreArgs(
                config=config.object_store,
                image=config.images.object_store,
                python_image=config.images.python_base,
                context=ctx,
                protect_data=config.protect_data,
            ),
        )
        platform.expose("object_store", store.url, store.internal_url, bucket=store.bucket, region=store.region)
        platform.credentials["object_store"] = {
            "admin_token": store.admin_token,
            "mlflow_access_key_id": store.mlflow_access_key_id,
            "mlflow_secret_access_key": store.mlflow_secret_access_key,
        }
        platform.checks["object_store_init_succeeded"] = store.init_succeeded

    names = pipeline_names()
    mlflow = MLflowServer(
        MLflowServer.DEFAULT_NAME,
        MLflowServerArgs(
            config=config.mlflow,
            python_base_image=config.images.python_base,
            context=ctx,
            database=database.connections["mlflow"],
            protect_data=config.protect_data,
            s3_artifacts=s3_artifacts(config, store),
            client_users=mlflow_client_users(config),
            depends_on=[database.container],
        ),
    )
    mlflow_login = None if mlflow.admin_password is None else (mlflow.admin_username, mlflow.admin_password)
    platform.expose("mlflow", mlflow.url, mlflow.tracking_uri, login=mlflow_login)
    platform.checks["mlflow_init_succeeded"] = mlflow.init_succeeded
    pipelines_login = None
    if PIPELINES_MLFLOW_USER in mlflow.user_passwords:
        pipelines_login = MLflowLogin(PIPELINES_MLFLOW_USER, mlflow.user_passwords[PIPELINES_MLFLOW_USER])
        platform.login("mlflow_pipelines", pipelines_login.username, pipelines_login.password)

    pooler = None
    if config.database.pooler.enabled:
        pooler = Pooler(
            Pooler.DEFAULT_NAME,
            PoolerArgs(
                config=config.database.pooler,
                debian_base_image=config.images.python_base,
                context=ctx,
                databases=[database.connections["airflow"]],
                depends_on=[database.container],
            ),
        )
        platform.expose("pgbouncer", None, f"postgresql://{pooler.host}:{pooler.port}")

    if config.grafana.enabled:
        grafana = Grafana(
            Grafana.DEFAULT_NAME,
            GrafanaArgs(
                config=config.grafana,
                image=config.images.grafana,
                context=ctx,
                datasource=database.connections[MLFLOW_READER.role],
                warehouse_database=WAREHOUSE_DATABASE,
                protect_data=config.protect_data,
            ),
        )
        platform.expose(
            "grafana", grafana.url, grafana.internal_url, login=(grafana.admin_username, grafana.admin_password)
        )

    airbyte = None
    if config.airbyte.enabled:
        airbyte = Airbyte(
            Airbyte.DEFAULT_NAME,
            AirbyteArgs(
                config=config.airbyte,
                context=ctx,
                databases={role: database.connections[role] for role in ("airbyte", "temporal")},
                debian_base_image=config.images.python_base,
                depends_on=[database.container],
                protect_data=config.protect_data,
            ),
        )
        platform.expose(
            "airbyte",
            airbyte.url,
            airbyte.internal_api_url,
            login=(airbyte.basic_auth_username, airbyte.basic_auth_password),
            api_url=airbyte.api_url,
        )
        platform.checks["airbyte_init_succeeded"] = airbyte.init_succeeded

    airflow = AirflowCluster(
        AirflowCluster.DEFAULT_NAME,
        AirflowClusterArgs(
            config=config.airflow,
            base_image=config.images.airflow_base,
            redis_image=config.images.redis,
            context=ctx,
            database_container=database.container,
            wiring=AirflowWiring(
                database=database.connections["airflow"],
                pooled_database=pooler.connections["airflow"] if pooler else None,
                mlflow_tracking_uri=mlflow.tracking_uri,
                environment=config.environment,
                mlflow_login=pipelines_login,
                airbyte_connection=airbyte.airflow_connection if airbyte else None,
                airbyte_connection_id=config.airbyte.connection_id,
                ingestion=IngestWiring(
                    warehouse=warehouse_document(database.connections[WAREHOUSE_ROLE]),
                    sources=sources_document(config.ingestion, ingest_secrets),
                    traffic_table=config.ingestion.traffic_table,
                ),
            ),
            protect_data=config.protect_data,
            depends_on=[mlflow.container, *([pooler.container] if pooler else [])],
        ),
    )
    platform.expose(
        "airflow", airflow.url, airflow.internal_url, login=(airflow.admin_username, airflow.admin_password)
    )
    platform.checks["airflow_init_succeeded"] = airflow.init_succeeded

    def registry_login(user: str) -> MLflowLogin | None:
        return MLflowLogin(user, mlflow.user_passwords[user]) if user in mlflow.user_passwords else None

    if config.model_server.enabled:
        model_server = ModelServer(
            ModelServer.DEFAULT_NAME,
            ModelServerArgs(
                config=config.model_server,
                python_base_image=config.images.python_base,
                context=ctx,
                tracking_uri=mlflow.tracking_uri,
                model_name=names.registered_models[0],
                alias=CHAMPION_ALIAS,
                login=registry_login(MODEL_SERVER_MLFLOW_USER),
                depends_on=[mlflow.container],
            ),
        )
        platform.expose("model_server", model_server.url, model_server.internal_url)
        if config.model_app.enabled:
            app = ModelApp(
                ModelApp.DEFAULT_NAME,
                ModelAppArgs(
                    config=config.model_app,
                    python_base_image=config.images.python_base,
                    context=ctx,
                    tracking_uri=mlflow.tracking_uri,
                    model_server_url=model_server.internal_url,
                    model_name=names.registered_models[0],
                    scores_volume=airflow.data_volume,
                    alias=CHAMPION_ALIAS,
                    login=registry_login(MODEL_APP_MLFLOW_USER),
                    depends_on=[model_server.container],
                ),
            )
            platform.expose("model_app", app.url, app.internal_url)
    return platform
