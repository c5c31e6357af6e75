"""Feature preparation shared by training and batch scoring.

Stateless on purpose: the only baseline (each sensor's median per hour of the
week) is computed from the frame being prepared, so the registered model needs
no fitted preprocessing state and scoring applies exactly the same function.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

FEATURE_COLUMNS = [
    "vehicle_count",
    "avg_speed_kmh",
    "occupancy_pct",
    "hour_sin",
    "hour_cos",
    "is_weekend",
    "count_log_ratio",
    "speed_delta",
    "occupancy_delta",
]
ID_COLUMNS = ["timestamp", "sensor_id"]
LABEL_COLUMNS = ["is_anomaly", "anomaly_type"]
HOLDOUT_SHARE = 0.25


def prepare_features(frame: pd.DataFrame, holdout_share: float = HOLDOUT_SHARE) -> pd.DataFrame:
    """Model features plus ids, labels (when present) and a time-based train/holdout split."""
    df = frame.copy()
    df["timestamp"] = pd.to_datetime(df["timestamp"], utc=True)
    df = df.sort_values(["timestamp", "sensor_id"], ignore_index=True)
    hour = df["timestamp"].dt.hour
    hour_of_week = df["timestamp"].dt.dayofweek * 24 + hour
    df["hour_sin"] = np.sin(2 * np.pi * hour / 24.0)
    df["hour_cos"] = np.cos(2 * np.pi * hour / 24.0)
    df["is_weekend"] = (df["timestamp"].dt.dayofweek >= 5).astype(float)

    # Medians are robust to the anomalies themselves, unlike means.
    baseline = df.groupby([df["sensor_id"], hour_of_week])[["vehicle_count", "avg_speed_kmh", "occupancy_pct"]]
    typical = baseline.transform("median")
    df["count_log_ratio"] = np.log1p(df["vehicle_count"]) - np.log1p(typical["vehicle_count"])
    df["speed_delta"] = df["avg_speed_kmh"] - typical["avg_speed_kmh"]
    df["occupancy_delta"] = df["occupancy_pct"] - typical["occupancy_pct"]
    df[FEATURE_COLUMNS] = df[FEATURE_COLUMNS].astype(float)

    cutoff = df["timestamp"].quantile(1.0 - holdout_share)
    df["split"] = np.where(df["timestamp"] >= cutoff, "holdout", "train")
    columns = ID_COLUMNS + FEATURE_COLUMNS + [c for c in LABEL_COLUMNS if c in df.columns] + ["split"]
    return df[columns]


def read_features(path) -> pd.DataFrame:
    """Read a prepared feature CSV back with the dtypes the model expects."""
    df = pd.read_csv(path)
    df["timestamp"] = pd.to_datetime(df["timestamp"], utc=True)
    df[FEATURE_COLUMNS] = df[FEATURE_COLUMNS].astype(float)
    return df
