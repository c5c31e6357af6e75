"""What the repo's pipelines (dags/) are called in MLflow, read from their own settings module.

The platform gives the pipelines' MLflow user EDIT on these when they already exist
(created by an admin, e.g. before the pipelines had a user of their own), so the names
live once, in dags/mlpipelines/settings.py, and are read from there.
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass
from functools import cache

from config.versions import REPO_ROOT

SETTINGS = REPO_ROOT / "dags" / "mlpipelines" / "settings.py"


@dataclass(frozen=True)
class PipelineNames:
    experiments: tuple[str, ...]
    registered_models: tuple[str, ...]


@cache
def pipeline_names() -> PipelineNames:
    spec = importlib.util.spec_from_file_location("mlplatform_pipeline_settings", SETTINGS)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {SETTINGS}")
    settings = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = settings  # dataclasses in it look their module up there
    spec.loader.exec_module(settings)
    return PipelineNames(
        experiments=(str(settings.EXPERIMENT_NAME), str(settings.SMOKE_EXPERIMENT_NAME)),
        registered_models=(str(settings.REGISTERED_MODEL_NAME),),
    )
