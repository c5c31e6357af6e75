"""Register each trained model and move the ``champion`` alias only when it is better.

Comparison: ``holdout_average_precision`` (settings.CHAMPION_METRIC), higher is
better, strictly greater wins (a tie keeps the current champion). The champion is
re-scored on the challenger's holdout so both numbers come from the same data;
only when that fails (e.g. the champion expects other feature columns) does the
champion's own recorded metric stand in, and the tag says so. Without two
comparable numbers (e.g. unlabelled data) the current champion stays. The
decision is written as tags (champion_decision, champion_decision_reason) on the
new model version and on its training run.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from mlpipelines import settings

log = logging.getLogger(__name__)

DECISION_TAG = "champion_decision"
REASON_TAG = "champion_decision_reason"


@dataclass(frozen=True)
class PromotionDecision:
    promote: bool
    reason: str


def decide_promotion(
    challenger: float | None,
    champion: float | None,
    metric: str = settings.CHAMPION_METRIC,
    champion_exists: bool | None = None,
) -> PromotionDecision:
    """Pure rule: no champion yet, or strictly better on the metric. Without two comparable
    numbers the current champion stays (the alias moves only on proof of improvement)."""
    if champion_exists is None:
        champion_exists = champion is not None
    if not champion_exists:
        return PromotionDecision(True, f"no current champion; {metric}={_fmt(challenger)}")
    if challenger is None:
        return PromotionDecision(False, f"new version has no {metric} (unlabelled holdout); champion kept")
    if champion is None:
        return PromotionDecision(False, f"champion has no comparable {metric}; champion kept")
    if challenger > champion:
        return PromotionDecision(True, f"{metric} {challenger:.4f} > champion {champion:.4f}")
    return PromotionDecision(False, f"{metric} {challenger:.4f} <= champion {champion:.4f}")


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def current_champion_version(client, name: str = settings.REGISTERED_MODEL_NAME) -> str | None:
    aliases = client.get_registered_model(name).aliases or {}
    version = aliases.get(settings.CHAMPION_ALIAS)
    return str(version) if version is not None else None


def register_and_promote(run_id: str, model_uri: str, features_path: str | Path) -> dict:
    """Register the run's model as a new version; move ``champion`` to it only if it wins."""
    import mlflow
    from mlflow import MlflowClient

    from mlpipelines.training import champion_score_on, require_tracking_uri

    require_tracking_uri()
    client = MlflowClient()
    name = settings.REGISTERED_MODEL_NAME
    metric = settings.CHAMPION_METRIC
    challenger_score = client.get_run(run_id).data.metrics.get(metric)
    # Idempotent under task retries: a run that already has a version is not registered twice.
    existing = client.search_model_versions(f"name='{name}' and run_id='{run_id}'")
    if existing:
        new_version = str(existing[0].version)
    else:
        new_version = str(mlflow.register_model(model_uri, name, tags={"training_run_id": run_id}).version)

    champion_version = current_champion_version(client, name)
    if champion_version == new_version:  # a retry after the alias already moved
        return {
            "version": new_version,
            "promoted": True,
            "reason": client.get_model_version(name, new_version).tags.get(REASON_TAG, "already champion"),
            "previous_champion_version": None,
            "champion_version": new_version,
        }
    champion_score = None
    basis = "none"
    if champion_version is not None:
        try:
            champion_score = champion_score_on(features_path, f"models:/{name}@{settings.CHAMPION_ALIAS}")
            basis = "rescored on this holdout"
        except Exception as exc:  # incompatible champion: fall back to what it recorded
            log.warning(
                "Could not re-score champion v%s on this holdout (%s); using its recorded metric", champion_version, exc
            )
            champion_run = client.get_model_version(name, champion_version).run_id
            champion_score = client.get_run(champion_run).data.metrics.get(metric)
            basis = "champion's recorded metric"

    decision = decide_promotion(challenger_score, champion_score, metric, champion_exists=champion_version is not None)
    outcome = "promoted" if decision.promote else "kept_current_champion"
    reason = (
        f"{decision.reason} (champion v{champion_version}, basis: {basis})" if champion_version else decision.reason
    )
    if decision.promote:
        client.set_registered_model_alias(name, settings.CHAMPION_ALIAS, new_version)
    for key, value in {DECISION_TAG: outcome, REASON_TAG: reason, metric: _fmt(challenger_score)}.items():
        client.set_model_version_tag(name, new_version, key, value)
    client.set_tag(run_id, DECISION_TAG, outcome)
    client.set_tag(run_id, REASON_TAG, reason)
    client.set_tag(run_id, "registered_model_version", str(new_version))
    log.info("Model %s v%s: %s (%s)", name, new_version, outcome, reason)
    return {
        "version": new_version,
        "promoted": decision.promote,
        "reason": reason,
        "previous_champion_version": champion_version,
        "champion_version": new_version if decision.promote else champion_version,
    }
