"""A second `pulumi up` on the realised stack: only what changed is touched, data and passwords survive.

Runs after the functional and UI checks (file order) on the same stack.
"""

from __future__ import annotations

import contextlib

import docker
import pytest

from testing.realiser import E2E_LABEL, RealiseError, labelled
from tests.e2e.conftest import Stack

# Update semantics are the realiser's, the same for every shape: proven once, on the dev shape.
pytestmark = pytest.mark.shapes("dev")

EXPERIMENT = "anomaly-detection"
TRAINING_DAG = "train_anomaly_model"


def _containers(stack: Stack) -> list:
    return stack.containers()


def _every_deploy_jobs(stack: Stack) -> dict[str, str]:
    """The jobs the program re-runs on every deploy (a replacement trigger unique per run): replaced each time."""
    return {f"Container/{r.name}": "replace" for r in stack.run.of_type("Container") if r.replacement_trigger}


def test_an_unchanged_redeploy_touches_only_the_every_deploy_jobs(stack: Stack):
    ids_before = {c.name: c.id for c in _containers(stack)}
    jobs = _every_deploy_jobs(stack)
    assert set(jobs) == {"Container/airflow-init", "Container/mlflow-init"}
    touched = stack.redeploy().touched()
    assert touched == jobs, touched
    ids_after = {c.name: c.id for c in _containers(stack)}
    changed = {name for name in ids_after if ids_before.get(name) != ids_after[name]}
    assert changed == {f"mlplatform-{stack.name}-{job.split('/')[1]}" for job in jobs}
    stack.figures["unchanged_redeploy_touched"] = sorted(touched)


def test_one_changed_env_var_replaces_only_that_container(stack: Stack):
    before = {c.name: c.id for c in _containers(stack)}
    touched = stack.redeploy(mlflow={"extra_allowed_hosts": ["mlflow.e2e.internal"]}).touched()
    assert touched == {"Container/mlflow": "replace", **_every_deploy_jobs(stack)}, touched
    mlflow = stack.container("mlflow")
    assert mlflow.id != before[mlflow.name]
    assert any("mlflow.e2e.internal" in e for e in mlflow.attrs["Config"]["Env"])
    untouched = {c.name for c in _containers(stack) if before.get(c.name) == c.id}
    assert (
        f"mlplatform-{stack.name}-airflow-scheduler" in untouched and f"mlplatform-{stack.name}-postgres" in untouched
    )
    assert stack.client.api.inspect_container(mlflow.id)["State"]["Health"]["Status"] == "healthy"


def test_a_changed_memory_limit_updates_the_running_container_in_place(stack: Stack):
    before = stack.container("mlflow").id
    touched = stack.redeploy(
        mlflow={"extra_allowed_hosts": ["mlflow.e2e.internal"], "limits": {"memory_mb": 1536}}
    ).touched()
    assert touched["Container/mlflow"] == "update", touched
    mlflow = stack.container("mlflow")
    assert mlflow.id == before and mlflow.attrs["HostConfig"]["Memory"] == 1536 * 2**20
    assert mlflow.attrs["HostConfig"]["MemorySwap"] == 1536 * 2**20


def test_the_realiser_refuses_to_take_over_a_container_it_did_not_create(stack: Stack):
    name = f"mlplatform-{stack.name}-mlflow"
    stack.container("mlflow").remove(force=True)
    image = stack.realisation.images[next(n for n in stack.realisation.images if n.startswith("mlplatform/mlflow"))]
    # Not the e2e's: its label is not "true" (an image's labels cannot be removed, only overridden).
    squatter = stack.client.containers.create(image, name=name, command=["sleep", "600"], labels={E2E_LABEL: "no"})
    try:
        assert squatter.labels[E2E_LABEL] == "no"
        with pytest.raises(RealiseError, match="without the label"):
            stack.redeploy(
                refresh=True, mlflow={"extra_allowed_hosts": ["mlflow.e2e.internal"], "limits": {"memory_mb": 1536}}
            )
        assert stack.client.containers.get(name).id == squatter.id
    finally:
        squatter.remove(force=True)
    stack.redeploy(refresh=True, mlflow={"extra_allowed_hosts": ["mlflow.e2e.internal"], "limits": {"memory_mb": 1536}})


def test_teardown_selects_only_what_carries_the_e2e_label(stack: Stack):
    """`make e2e-down` removes exactly what `labelled` selects; a look-alike without the label is not in it."""
    bystander = stack.client.volumes.create(
        f"mlplatform-{stack.name}-bystander", labels={"org.mlplatform.stack": stack.name}
    )
    try:
        selected = {v.name for v in labelled(stack.client, stack.name)["volumes"]}
        assert bystander.name not in selected
        assert f"mlplatform-{stack.name}-pgdata" in selected
    finally:
        with contextlib.suppress(docker.errors.NotFound):
            bystander.remove(force=True)
