"""Train and evaluate the IsolationForest anomaly detector, recording everything in MLflow.

The detector is unsupervised (as in the stack it replaces); the generator's
labels are used only to evaluate it on a time-based holdout, and to train a
cheap supervised classifier as a reference for what labels would buy.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

import pandas as pd

from mlpipelines import settings
from mlpipelines.features import FEATURE_COLUMNS, prepare_features, read_features
from mlpipelines.validation import validate_traffic_frame

log = logging.getLogger(__name__)

MODEL_ARTIFACT_NAME = "model"


@dataclass(frozen=True)
class TrainingParams:
    n_estimators: int = 200
    max_samples: int = 512
    contamination: float = 0.02
    random_state: int = 42


def require_tracking_uri() -> str:
    """Fail early and clearly instead of logging into a local ./mlruns inside a worker."""
    uri = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    if not uri:
        raise RuntimeError(
            "MLFLOW_TRACKING_URI is not set: the platform must set it on every Airflow "
            "container (e.g. http://mlflow:5000)."
        )
    return uri


def _use_experiment() -> str:
    import mlflow

    require_tracking_uri()
    experiment = mlflow.set_experiment(settings.EXPERIMENT_NAME)
    # MLflow 3's UI opens untagged experiments as GenAI (traces); this one is model training.
    if experiment.tags.get("mlflow.experimentKind") != "custom_model_development":
        mlflow.MlflowClient().set_experiment_tag(
            experiment.experiment_id, "mlflow.experimentKind", "custom_model_development"
        )
    return experiment.experiment_id


def validate_dataset(path: str | Path) -> dict:
    """Validation step of the training DAG; raises DataValidationError on bad data."""
    return validate_traffic_frame(pd.read_csv(path)).as_dict()


def build_features(dataset_path: str | Path, out_path: Path | None = None) -> dict:
    from mlpipelines.datasets import write_csv_atomic

    features = prepare_features(pd.read_csv(dataset_path))
    path = write_csv_atomic(features, out_path or settings.features_path())
    counts = features["split"].value_counts()
    return {"path": str(path), "train_rows": int(counts.get("train", 0)), "holdout_rows": int(counts.get("holdout", 0))}


def log_training_data(train: pd.DataFrame, dataset: dict | None) -> None:
    """Record which data the run trained on: an MLflow dataset input (name, digest, schema) and tags."""
    import mlflow
    import mlflow.data

    source = (dataset or {}).get("source") or "unknown"
    mlflow.set_tags({"dataset.source": source, "dataset.rows": str((dataset or {}).get("rows", len(train)))})
    mlflow.log_input(mlflow.data.from_pandas(train, name=source.removeprefix("warehouse:")), context="training")


def train_model(features_path: str | Path, params: TrainingParams | None = None, dataset: dict | None = None) -> dict:
    """Fit on the train split; log params, tags, the training data (``dataset``: where it came from, from the
    load step) and the model (signature + input example)."""
    import mlflow
    import mlflow.sklearn
    from mlflow.models import infer_signature
    from sklearn.ensemble import IsolationForest

    params = params or TrainingParams()
    features = read_features(features_path)
    train = features[features["split"] == "train"]
    x_train = train[FEATURE_COLUMNS]
    experiment_id = _use_experiment()

    with mlflow.start_run(experiment_id=experiment_id, run_name="isolation-forest") as run:
        mlflow.set_tags(
            {
                "pipeline": "train_anomaly_model",
                "model_family": "IsolationForest",
                "environment": settings.deployment_environment(),
            }
        )
        log_training_data(train, dataset)
        mlflow.log_params(
            {
                **asdict(params),
                "features": ",".join(FEATURE_COLUMNS),
                "train_rows": len(train),
                "train_start": str(train["timestamp"].min()),
                "train_end": str(train["timestamp"].max()),
            }
        )
        model = IsolationForest(
            n_estimators=params.n_estimators,
            max_samples=min(params.max_samples, len(train)),
            contamination=params.contamination,
            random_state=params.random_state,
            n_jobs=1,
        ).fit(x_train)
        example = x_train.head(5)
        info = mlflow.sklearn.log_model(
            model,
            name=MODEL_ARTIFACT_NAME,
            signature=infer_signature(example, model.predict(example)),
            input_example=example,
            # Pickle, not MLflow's default skops: skops would still have to be told
            # to trust sklearn's Tree (its main risk) for any forest, and its type
            # scan over sys.modules costs ~10 s per save/load inside an Airflow
            # worker. Models are only ever loaded from our own MLflow registry.
            serialization_format=mlflow.sklearn.SERIALIZATION_FORMAT_PICKLE,
            # Explicit requirements skip MLflow's slow subprocess-based inference.
            pip_requirements=mlflow.sklearn.get_default_pip_requirements(),
        )
    log.info("Trained IsolationForest in run %s, model %s", run.info.run_id, info.model_uri)
    return {"run_id": run.info.run_id, "model_uri": info.model_uri}


def score_frame(model, frame: pd.DataFrame) -> pd.DataFrame:
    """anomaly_score: higher = more anomalous; is_predicted_anomaly from the model's own threshold."""
    x = frame[FEATURE_COLUMNS]
    scored = frame.copy()
    scored["anomaly_score"] = -model.score_samples(x)
    scored["is_predicted_anomaly"] = (model.predict(x) == -1).astype(int)
    return scored


def model_threshold(model) -> float:
    """Score above which IsolationForest.predict flags a row (in anomaly_score units)."""
    return float(-model.offset_)


def holdout_metrics(scored: pd.DataFrame) -> dict[str, float]:
    from sklearn.metrics import average_precision_score, precision_recall_fscore_support, roc_auc_score

    labels = scored["is_anomaly"].astype(int)
    precision, recall, f1, _ = precision_recall_fscore_support(
        labels, scored["is_predicted_anomaly"], average="binary", zero_division=0
    )
    metrics = {
        "holdout_average_precision": float(average_precision_score(labels, scored["anomaly_score"])),
        "holdout_roc_auc": float(roc_auc_score(labels, scored["anomaly_score"])),
        "holdout_precision": float(precision),
        "holdout_recall": float(recall),
        "holdout_f1": float(f1),
        "anomaly_rate": float(scored["is_predicted_anomaly"].mean()),
        "true_anomaly_rate": float(labels.mean()),
    }
    if "anomaly_type" in scored.columns:
        for kind, group in scored[labels == 1].groupby("anomaly_type"):
            metrics[f"holdout_recall_{kind}"] = float(group["is_predicted_anomaly"].mean())
    return metrics


def supervised_reference_metrics(features: pd.DataFrame) -> dict[str, float]:
    """A gradient-boosted classifier trained on the labels: the ceiling the detector is compared to."""
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import average_precision_score, f1_score
    from threadpoolctl import threadpool_limits

    train = features[features["split"] == "train"]
    holdout = features[features["split"] == "holdout"]
    if train["is_anomaly"].nunique() < 2:
        return {}
    # One OpenMP thread: on a busy 2-core worker, thread spin-waits cost more than they save.
    with threadpool_limits(limits=1):
        classifier = HistGradientBoostingClassifier(max_iter=100, random_state=0).fit(
            train[FEATURE_COLUMNS], train["is_anomaly"]
        )
    probability = classifier.predict_proba(holdout[FEATURE_COLUMNS])[:, 1]
    return {
        "supervised_holdout_average_precision": float(average_precision_score(holdout["is_anomaly"], probability)),
        "supervised_holdout_f1": float(f1_score(holdout["is_anomaly"], probability >= 0.5, zero_division=0)),
    }


def summary_text(metrics: dict[str, float], scored: pd.DataFrame, threshold: float, title: str) -> str:
    lines = [title, "=" * len(title), f"rows scored: {len(scored)}", f"threshold (anomaly_score): {threshold:.4f}"]
    lines += [
        f"{name}: {value:.4f}" if isinstance(value, float) else f"{name}: {value}"
        for name, value in sorted(metrics.items())
    ]
    lines += ["", "top 10 anomalies:"]
    top = scored.nlargest(10, "anomaly_score")
    cols = [
        c
        for c in (
            "timestamp",
            "sensor_id",
            "vehicle_count",
            "avg_speed_kmh",
            "occupancy_pct",
            "anomaly_score",
            "is_anomaly",
            "anomaly_type",
        )
        if c in top.columns
    ]
    lines.append(top[cols].to_string(index=False))
    return "\n".join(lines) + "\n"


def evaluate_model(run_id: str, model_uri: str, features_path: str | Path) -> dict[str, float]:
    """Score the holdout; log metrics, the four PNG charts and a text summary to the training run."""
    import mlflow
    import mlflow.sklearn

    from mlpipelines.plots import write_plots

    require_tracking_uri()
    features = read_features(features_path)
    holdout = features[features["split"] == "holdout"]
    model = mlflow.sklearn.load_model(model_uri)
    scored = score_frame(model, holdout)
    threshold = model_threshold(model)
    labelled = "is_anomaly" in holdout.columns and holdout["is_anomaly"].nunique() == 2
    metrics = holdout_metrics(scored) if labelled else {"anomaly_rate": float(scored["is_predicted_anomaly"].mean())}
    if labelled:
        metrics.update(supervised_reference_metrics(features))
    metrics["holdout_rows"] = float(len(holdout))
    metrics["anomaly_threshold"] = threshold

    with mlflow.start_run(run_id=run_id), tempfile.TemporaryDirectory() as tmp:
        mlflow.log_metrics(metrics)
        for path in write_plots(scored, threshold, Path(tmp) / "plots"):
            mlflow.log_artifact(str(path), artifact_path="plots")
        summary = Path(tmp) / "summary.txt"
        summary.write_text(summary_text(metrics, scored, threshold, f"Holdout evaluation of run {run_id}"))
        mlflow.log_artifact(str(summary))
    log.info("Holdout metrics: %s", {k: round(v, 4) for k, v in metrics.items()})
    return metrics


def champion_score_on(features_path: str | Path, model_uri: str) -> float:
    """Re-score another model (the champion) on this run's holdout so both are compared on equal data."""
    import mlflow.sklearn

    holdout = read_features(features_path)
    holdout = holdout[holdout["split"] == "holdout"]
    scored = score_frame(mlflow.sklearn.load_model(model_uri), holdout)
    return holdout_metrics(scored)[settings.CHAMPION_METRIC]
