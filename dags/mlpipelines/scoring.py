"""Batch scoring with whatever model holds the ``champion`` alias.

Loads by alias (``models:/anomaly-detector@champion``), never by run id, so
scoring always uses the promoted model even when the latest training lost.
"""

from __future__ import annotations

import logging
from pathlib import Path

from mlpipelines import settings

log = logging.getLogger(__name__)

SCORES_FILE = "anomaly_scores.csv"
SUMMARY_FILE = "anomaly_scores_summary.txt"
OUTPUT_COLUMNS = [
    "timestamp",
    "sensor_id",
    "vehicle_count",
    "avg_speed_kmh",
    "occupancy_pct",
    "anomaly_score",
    "is_predicted_anomaly",
]


def champion_uri() -> str:
    return f"models:/{settings.REGISTERED_MODEL_NAME}@{settings.CHAMPION_ALIAS}"


def batch_score(features_path: str | Path, out_dir: Path | None = None) -> dict:
    """Score the newest period (the holdout split) and write CSV, charts and a summary."""
    import mlflow.sklearn
    from mlflow import MlflowClient

    from mlpipelines.datasets import write_csv_atomic
    from mlpipelines.features import read_features
    from mlpipelines.plots import write_plots
    from mlpipelines.training import model_threshold, require_tracking_uri, score_frame, summary_text

    require_tracking_uri()
    out_dir = out_dir or settings.scores_dir()
    version = MlflowClient().get_model_version_by_alias(settings.REGISTERED_MODEL_NAME, settings.CHAMPION_ALIAS).version
    model = mlflow.sklearn.load_model(champion_uri())
    features = read_features(features_path)
    batch = features[features["split"] == "holdout"]
    scored = score_frame(model, batch)
    scored["model_version"] = str(version)
    columns = OUTPUT_COLUMNS + ["model_version"] + [c for c in ("is_anomaly", "anomaly_type") if c in scored.columns]
    path = write_csv_atomic(scored[columns], out_dir / SCORES_FILE)
    threshold = model_threshold(model)
    write_plots(scored, threshold, out_dir)
    flagged = int(scored["is_predicted_anomaly"].sum())
    summary = {"rows": len(scored), "flagged": flagged, "anomaly_rate": flagged / max(len(scored), 1)}
    (out_dir / SUMMARY_FILE).write_text(
        summary_text(summary, scored, threshold, f"Batch scores from {settings.REGISTERED_MODEL_NAME} v{version}")
    )
    log.info(
        "Scored %d rows with %s v%s: %d flagged -> %s",
        len(scored),
        settings.REGISTERED_MODEL_NAME,
        version,
        flagged,
        path,
    )
    return {"path": str(path), "model_version": str(version), **summary}
