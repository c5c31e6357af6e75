"""The Assets that chain ingest_data -> transform_data -> train_anomaly_model (URIs: settings)."""

from __future__ import annotations

from airflow.sdk import Asset

from mlpipelines import settings

RAW_TRAFFIC_DATA = Asset(name="traffic_raw", uri=settings.RAW_ASSET_URI, group="traffic")
TRAINING_TRAFFIC_DATA = Asset(name="traffic_training", uri=settings.TRAINING_ASSET_URI, group="traffic")
