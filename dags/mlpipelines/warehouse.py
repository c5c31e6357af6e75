"""The warehouse database: where the ingest DAG's connectors land data and the training table is written.

The platform gives the task runners the ingest role's login as a secret file
(MLPLATFORM_WAREHOUSE_FILE); without it (a DAG test, a bare Airflow) the chain
works on the data dir alone, and says so.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pandas and SQLAlchemy are imported where they are used: the DAG files stay light to parse
    import pandas as pd
    from sqlalchemy.engine import Engine

log = logging.getLogger(__name__)

#: Where transform_data writes the training table (a schema the platform owns, readable by the dashboards).
TRAINING_TABLE = "analytics.traffic_training"
#: Columns the connectors add to every table (PyAirbyte's bookkeeping), not part of the data.
AIRBYTE_COLUMN_PREFIX = "_airbyte_"


@dataclass(frozen=True)
class WarehouseLogin:
    host: str
    port: int
    user: str
    database: str
    password: str

    def engine(self) -> Engine:
        from sqlalchemy import create_engine
        from sqlalchemy.engine import URL

        url = URL.create("postgresql+psycopg2", username=self.user, password=self.password, host=self.host,
                         port=self.port, database=self.database)
        return create_engine(url, pool_pre_ping=True)


def login(environ: dict[str, str] | None = None) -> WarehouseLogin | None:
    """The ingest role's login from the file the platform mounts, or None when there is no warehouse."""
    env = os.environ if environ is None else environ
    path = (env.get("MLPLATFORM_WAREHOUSE_FILE") or "").strip()
    if not path:
        return None
    return WarehouseLogin(**json.loads(Path(path).read_text()))


def traffic_table(environ: dict[str, str] | None = None) -> str:
    """``<schema>.<table>`` the ingest connectors fill with traffic data (ingestion.traffic_table)."""
    env = os.environ if environ is None else environ
    return (env.get("MLPLATFORM_TRAFFIC_TABLE") or "landing.traffic_hourly").strip()


def split_table(qualified: str) -> tuple[str, str]:
    schema, _, table = qualified.partition(".")
    if not schema or not table:
        raise ValueError(f"not a <schema>.<table> name: {qualified!r}")
    return schema, table


def table_exists(engine: Engine, qualified: str) -> bool:
    from sqlalchemy import inspect

    schema, table = split_table(qualified)
    return inspect(engine).has_table(table, schema=schema)


def read_table(engine: Engine, qualified: str) -> pd.DataFrame:
    """A whole table without the connectors' bookkeeping columns."""
    import pandas as pd
    from sqlalchemy import MetaData, Table, select

    schema, table = split_table(qualified)
    source = Table(table, MetaData(), schema=schema, autoload_with=engine)
    with engine.connect() as connection:
        frame = pd.read_sql(select(source), connection)
    return frame[[c for c in frame.columns if not c.startswith(AIRBYTE_COLUMN_PREFIX)]]


def replace_table(engine: Engine, frame: pd.DataFrame, qualified: str) -> int:
    """Replace the table in one transaction: a reader sees the old rows or the new, never none or half."""
    schema, table = split_table(qualified)
    with engine.begin() as connection:
        frame.to_sql(table, connection, schema=schema, if_exists="replace", index=False, chunksize=5000,
                     method="multi")
    log.info("Wrote %d rows to warehouse table %s", len(frame), qualified)
    return len(frame)
