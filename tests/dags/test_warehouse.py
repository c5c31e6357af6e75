"""The chain's warehouse steps against a real PostgreSQL bootstrapped as the platform does it.

The ingested table is written the way PyAirbyte's PostgreSQL cache writes a CSV
stream (text timestamps, NUMERIC numbers, ``_airbyte_*`` bookkeeping columns);
the e2e runs the real connector into the real container.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator

import pandas as pd
import psycopg2
import pytest

from components.database import bootstrap_sql
from components.ingestion import WAREHOUSE_DATABASE, WAREHOUSE_ROLE, warehouse_consumer
from components.platform import dashboards_reader
from config.loader import parse_platform
from mlpipelines import datasets, warehouse
from mlpipelines.generator import generate_traffic
from testing.postgres import PostgresServer, run_bootstrap, start_postgres

CONFIG = parse_platform({}, "dev")
READER = dashboards_reader(CONFIG)


@pytest.fixture(scope="module")
def server() -> Iterator[PostgresServer]:
    yield from start_postgres()


@pytest.fixture(scope="module")
def passwords(server, tmp_path_factory) -> dict[str, str]:
    passwords = {role: secrets.token_urlsafe(24) for role in (WAREHOUSE_ROLE, "mlflow", READER.role)}
    consumers = [warehouse_consumer(CONFIG.ingestion)]
    from components.database import Consumer

    consumers.append(Consumer("mlflow", ("mlflow",)))
    run_bootstrap(server, tmp_path_factory.mktemp("secrets"), lambda d: bootstrap_sql(consumers, READER, d),
                  passwords)
    return passwords


@pytest.fixture(scope="module")
def login(server, passwords) -> warehouse.WarehouseLogin:
    return warehouse.WarehouseLogin(server.host, server.port, WAREHOUSE_ROLE, WAREHOUSE_DATABASE,
                                    passwords[WAREHOUSE_ROLE])


def land_like_pyairbyte(login: warehouse.WarehouseLogin, table: str = "landing.traffic_hourly") -> int:
    frame = generate_traffic().astype({"timestamp": str})
    for column in ("vehicle_count", "avg_speed_kmh", "occupancy_pct", "temperature_c", "is_anomaly"):
        frame[column] = frame[column].astype(str)
    frame["_airbyte_raw_id"] = [f"id-{i}" for i in range(len(frame))]
    frame["_airbyte_meta"] = "{}"
    schema, name = table.split(".")
    engine = login.engine()
    with engine.begin() as connection:
        frame.to_sql(name, connection, schema=schema, if_exists="replace", index=False, method="multi",
                     chunksize=5000)
        for column in ("vehicle_count", "avg_speed_kmh", "occupancy_pct", "temperature_c", "is_anomaly"):
            connection.exec_driver_sql(f'ALTER TABLE {table} ALTER COLUMN "{column}" TYPE numeric(38,9) '
                                       f'USING "{column}"::numeric')
    return len(frame)


def test_transform_reads_the_ingested_table_and_writes_the_training_table(login):
    rows = land_like_pyairbyte(login)

    report = datasets.build_training_table(login.engine(), "landing.traffic_hourly")

    assert report["table"] == warehouse.TRAINING_TABLE == "analytics.traffic_training"
    assert report["source"] == "warehouse:landing.traffic_hourly" and report["rows"] == rows
    training = warehouse.read_table(login.engine(), warehouse.TRAINING_TABLE)
    assert len(training) == rows
    assert not [c for c in training.columns if c.startswith("_airbyte_")]
    assert pd.api.types.is_numeric_dtype(training["vehicle_count"])


def test_transform_names_the_missing_table(login):
    with pytest.raises(RuntimeError, match="warehouse table landing.nothing_here does not exist"):
        datasets.build_training_table(login.engine(), "landing.nothing_here")


def test_the_training_dag_loads_the_training_table_from_the_warehouse(login, tmp_path, monkeypatch):
    land_like_pyairbyte(login)
    datasets.build_training_table(login.engine(), "landing.traffic_hourly")
    login_file = tmp_path / "warehouse.json"
    login_file.write_text(json.dumps(login.__dict__))
    monkeypatch.setenv("MLPLATFORM_WAREHOUSE_FILE", str(login_file))

    loaded = datasets.ensure_training_dataset(tmp_path)

    assert loaded["source"] == "warehouse:analytics.traffic_training"
    assert len(pd.read_csv(loaded["path"])) == loaded["rows"] > 6000


def test_the_dashboards_role_reads_every_warehouse_schema_and_writes_none(server, login, passwords):
    land_like_pyairbyte(login)
    datasets.build_training_table(login.engine(), "landing.traffic_hourly")
    with psycopg2.connect(host=server.host, port=server.port, dbname=WAREHOUSE_DATABASE, user=READER.role,
                          password=passwords[READER.role]) as conn, conn.cursor() as cur:
        for table in ("landing.traffic_hourly", "analytics.traffic_training"):
            cur.execute(f"SELECT count(*) FROM {table}")
            assert cur.fetchone()[0] > 6000
        with pytest.raises(psycopg2.Error, match="read-only transaction"):
            cur.execute("DELETE FROM analytics.traffic_training")
