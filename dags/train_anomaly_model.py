"""Train the anomaly detector, register it, promote it only if better, batch-score.

Scheduled on the training-data Asset (emitted by transform_data) and safe to
trigger by hand on a fresh platform: load_dataset then builds the data set from
the bundled generator and says so in its log. Logic lives in mlpipelines.
"""

from __future__ import annotations

from airflow.sdk import dag, task

from mlpipelines.assets import TRAINING_TRAFFIC_DATA
from mlpipelines.dag_defaults import LOCAL_RETRIES, PLATFORM_DAG_ARGS, SERVICE_RETRIES


@dag(
    dag_id="train_anomaly_model",
    schedule=[TRAINING_TRAFFIC_DATA],
    max_active_runs=1,  # runs share the feature file and the champion decision
    **PLATFORM_DAG_ARGS,
    tags=["mlplatform", "ml"],
    doc_md=__doc__,
)
def train_anomaly_model():
    @task(**SERVICE_RETRIES)  # reads the warehouse
    def load_dataset() -> dict:
        """The warehouse's training table (or, without a warehouse, the training file) as a local file."""
        from mlpipelines.datasets import ensure_training_dataset

        return ensure_training_dataset()

    @task(**LOCAL_RETRIES)
    def validate_dataset(path: str) -> str:
        from mlpipelines.training import validate_dataset as validate

        validate(path)
        return path

    @task(**LOCAL_RETRIES)
    def prepare_features(path: str) -> str:
        from mlpipelines.training import build_features

        return build_features(path)["path"]

    @task(**SERVICE_RETRIES)
    def train_model(features_path: str, dataset: dict) -> dict:
        from mlpipelines.training import train_model as train

        return train(features_path, dataset=dataset)

    @task(**SERVICE_RETRIES)
    def evaluate_model(trained: dict, features_path: str) -> dict:
        from mlpipelines.training import evaluate_model as evaluate

        return evaluate(trained["run_id"], trained["model_uri"], features_path)

    @task(**SERVICE_RETRIES)
    def register_model(trained: dict, features_path: str) -> dict:
        from mlpipelines.registry import register_and_promote

        return register_and_promote(trained["run_id"], trained["model_uri"], features_path)

    @task(**SERVICE_RETRIES)
    def batch_score(features_path: str) -> dict:
        from mlpipelines.scoring import batch_score as score

        return score(features_path)

    dataset = load_dataset()
    features = prepare_features(validate_dataset(dataset["path"]))
    trained = train_model(features, dataset)
    evaluated = evaluate_model(trained, features)
    registered = register_model(trained, features)
    evaluated >> registered >> batch_score(features)


train_anomaly_model()
