"""The realiser plans each resource as `pulumi up` would: same, update in place, or replace."""

from __future__ import annotations

import copy
from typing import Any

from testing.mocks import Recorded
from testing.program import shipped
from testing.realiser import plan_action, reverse_dependency_order
from testing.schema import provider_schema


def _container(service: str = "mlflow") -> Recorded:
    return copy.deepcopy(shipped("dev").container(service))


def _state(r: Recorded) -> dict[str, Any]:
    return {"inputs": copy.deepcopy(r.inputs), "trigger": r.replacement_trigger}


def _plan(r: Recorded, old: dict[str, Any] | None) -> str:
    return plan_action(r, r.inputs, old, provider_schema().replaces(r.typ))


def test_a_new_resource_is_created():
    assert _plan(_container(), None) == "create"


def test_an_unchanged_resource_is_left_alone():
    c = _container()
    assert _plan(c, _state(c)) == "same"


def test_a_changed_env_var_replaces_the_container():
    c = _container()
    old = _state(c)
    c.inputs["envs"] = [*c.inputs["envs"], "EXTRA=1"]
    assert _plan(c, old) == "replace"


def test_a_changed_memory_limit_updates_in_place():
    c = _container()
    old = _state(c)
    c.inputs["memory"] = 1024
    assert _plan(c, old) == "update"


def test_a_changed_health_check_replaces_because_the_program_asks_for_it():
    c = _container()
    old = _state(c)
    c.inputs["healthcheck"] = {**c.inputs["healthcheck"], "retries": 99}
    assert "healthcheck" in c.replace_on_changes
    assert _plan(c, old) == "replace"


def test_a_job_with_a_new_replacement_trigger_is_replaced_even_unchanged():
    job = _container("airflow-init")
    old = _state(job)
    old["trigger"] = "an earlier deploy"
    assert _plan(job, old) == "replace"


def test_a_volume_whose_labels_change_is_replaced():
    volume = copy.deepcopy(shipped("dev").of_type("Volume")[0])
    old = _state(volume)
    volume.inputs["labels"] = [*volume.inputs["labels"], {"label": "x", "value": "y"}]
    assert _plan(volume, old) == "replace"


def test_dependents_are_deleted_before_what_they_depend_on():
    resources = {"net": {"dependencies": []}, "vol": {"dependencies": []}, "app": {"dependencies": ["net", "vol"]},
                 "job": {"dependencies": ["net", "app"]}}
    order = reverse_dependency_order(list(resources), resources)
    assert order.index("job") < order.index("app") < order.index("net")
    assert order.index("app") < order.index("vol")
