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

from mlpipelines import settings
from mlpipelines.generator import generate_traffic
from mlpipelines.validation import REQUIRED_COLUMNS, validate_traffic_frame

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
    """Ingest without Airbyte: write the generator's data where a sync would land it."""
    path = write_csv_atomic(generate_traffic(), settings.raw_dataset_path(base))
    log.info("Landed bundled traffic data set at %s", path)
    return path


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


def build_training_dataset(base: Path | None = None) -> dict:
    """Transform step: validate the raw data and write the training data set."""
    frame, source = load_raw_frame(base)
    report = validate_traffic_frame(frame)
    path = write_csv_atomic(normalise(frame), settings.training_dataset_path(base))
    log.info("Wrote training data set %s (%d rows from %s)", path, report.rows, source)
    return {"path": str(path), "source": source, **report.as_dict()}


def ensure_training_dataset(base: Path | None = None) -> dict:
    """Training DAG's load step: the transformed data set, or one built from the generator."""
    path = settings.training_dataset_path(base)
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
