"""Landing, transforming and loading the traffic data set on the shared data dir.

Every step can fall back to the bundled generator, so the training DAG also
works on a fresh platform where ingest never ran; the fallback is logged, never
silent.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pandas as pd

from mlpipelines import settings, warehouse
from mlpipelines.generator import generate_traffic
from mlpipelines.validation import LABEL_COLUMN, NUMERIC_RANGES, REQUIRED_COLUMNS, validate_traffic_frame

log = logging.getLogger(__name__)

OPTIONAL_COLUMNS = ("is_anomaly", "anomaly_type")


def write_csv_atomic(frame: pd.DataFrame, path: Path) -> Path:
    """Write then rename, so a reader on the shared volume never sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    frame.to_csv(tmp, index=False)
    os.replace(tmp, path)
    return path


def land_bundled_raw_data(base: Path | None = None) -> Path:
    """Ingest without a warehouse: write the generator's data where a sync would land it."""
    path = write_csv_atomic(generate_traffic(), settings.raw_dataset_path(base))
    log.info("Landed bundled traffic data set at %s", path)
    return path


def seed_landing_file(base: Path | None = None) -> dict:
    """Put the bundled data set in the landing folder, for the default source-file connector to read; a file
    already there (one you dropped in) is left as it is."""
    path = settings.landing_file_path(base)
    if path.exists():
        log.info("Landing file %s is already there: the connectors read it as it is", path)
        return {"path": str(path), "seeded": False}
    write_csv_atomic(generate_traffic(), path)
    log.info("Seeded the landing folder with the bundled traffic data set: %s", path)
    return {"path": str(path), "seeded": True}


def read_traffic_csv(path: Path) -> pd.DataFrame:
    return pd.read_csv(path)


def load_raw_frame(base: Path | None = None) -> tuple[pd.DataFrame, str]:
    """Raw data from the data dir, or from the generator when nothing was landed yet."""
    path = settings.raw_dataset_path(base)
    if path.exists():
        log.info("Reading raw traffic data from %s", path)
        return read_traffic_csv(path), str(path)
    log.warning("Raw data set %s not found: building it from the bundled generator instead", path)
    return generate_traffic(), "bundled-generator"


def normalise(frame: pd.DataFrame) -> pd.DataFrame:
    """Known columns only, UTC timestamps, stable row order."""
    columns = [*REQUIRED_COLUMNS, *(c for c in OPTIONAL_COLUMNS if c in frame.columns)]
    out = frame[columns].copy()
    out["timestamp"] = pd.to_datetime(out["timestamp"], utc=True)
    return out.sort_values(["timestamp", "sensor_id"], ignore_index=True)


def from_warehouse(frame: pd.DataFrame) -> pd.DataFrame:
    """Connector tables keep a CSV's numbers as NUMERIC (Decimals in pandas): back to plain numbers."""
    out = frame.copy()
    for column in (*NUMERIC_RANGES, LABEL_COLUMN):
        if column in out.columns:
            out[column] = pd.to_numeric(out[column], errors="coerce")
    if LABEL_COLUMN in out.columns and out[LABEL_COLUMN].notna().all():
        out[LABEL_COLUMN] = out[LABEL_COLUMN].astype(int)
    return out


def build_training_dataset(base: Path | None = None) -> dict:
    """Transform step: validate the raw data and write the training data set (the warehouse's training
    table when there is a warehouse, else the data dir's training file)."""
    login = warehouse.login()
    if login is not None:
        return build_training_table(login.engine(), warehouse.traffic_table())
    frame, source = load_raw_frame(base)
    report = validate_traffic_frame(frame)
    path = write_csv_atomic(normalise(frame), settings.training_dataset_path(base))
    log.info("Wrote training data set %s (%d rows from %s)", path, report.rows, source)
    return {"path": str(path), "source": source, **report.as_dict()}


def build_training_table(engine, ingested_table: str) -> dict:
    """Read what the connectors ingested, validate it, write the training table back."""
    if not warehouse.table_exists(engine, ingested_table):
        raise RuntimeError(
            f"warehouse table {ingested_table} does not exist: ingest_data has not landed it (is "
            "ingestion.traffic_table one of the declared sources' streams?)"
        )
    frame = from_warehouse(warehouse.read_table(engine, ingested_table))
    report = validate_traffic_frame(frame)
    rows = warehouse.replace_table(engine, normalise(frame), warehouse.TRAINING_TABLE)
    log.info("Training table %s: %d rows from %s", warehouse.TRAINING_TABLE, rows, ingested_table)
    return {"table": warehouse.TRAINING_TABLE, "source": f"warehouse:{ingested_table}", **report.as_dict()}


def load_training_table(engine, path: Path) -> dict | None:
    """The warehouse's training table as the training DAG's file, or None when transform never wrote it."""
    if not warehouse.table_exists(engine, warehouse.TRAINING_TABLE):
        return None
    frame = from_warehouse(warehouse.read_table(engine, warehouse.TRAINING_TABLE))
    write_csv_atomic(frame, path)
    log.info("Using warehouse table %s (%d rows)", warehouse.TRAINING_TABLE, len(frame))
    return {"path": str(path), "source": f"warehouse:{warehouse.TRAINING_TABLE}", "rows": len(frame)}


def ensure_training_dataset(base: Path | None = None) -> dict:
    """Training DAG's load step: the transformed data set, or one built from the generator."""
    path = settings.training_dataset_path(base)
    login = warehouse.login()
    if login is not None:
        loaded = load_training_table(login.engine(), path)
        if loaded is not None:
            return loaded
    if path.exists():
        log.info("Using training data set %s", path)
        return {"path": str(path), "source": "transform_data"}
    log.warning(
        "Training data set %s not found (ingest/transform have not run yet): "
        "building it from the bundled generator",
        path,
    )
    write_csv_atomic(normalise(generate_traffic()), path)
    return {"path": str(path), "source": "bundled-generator"}
