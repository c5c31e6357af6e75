"""Components: type tokens, children parented to them, and instances that do not collide."""

from __future__ import annotations

import pytest

from components.database import Consumer, Database, DatabaseArgs, ReadOnlyAccess
from components.mlflow_server import MLflowServer, MLflowServerArgs
from components.service import StackContext
from config.models import Database as DatabaseConfig
from config.models import MLflow as MLflowConfig
from config.versions import DEFAULT_IMAGES
from testing.program import ProgramRun, declare_component

TOKENS = {"mlplatform:index:Database", "mlplatform:index:MLflowServer", "mlplatform:index:AirflowCluster",
          "mlplatform:index:Grafana"}


def test_components_use_their_type_tokens(stack: ProgramRun):
    types = {r.typ for r in stack.resources if not r.custom}
    assert types >= TOKENS


def test_every_resource_but_the_network_is_a_child_of_a_component(stack: ProgramRun):
    components = {r.urn for r in stack.resources if not r.custom}
    for r in stack.resources:
        if r.custom and r.name != "network":
            assert r.parent in components, r.name


def _two(ctx: StackContext, make) -> dict:
    first, second = make(ctx, "one"), make(ctx, "two")
    return {"first": first.container.name, "second": second.container.name}


def _database(ctx: StackContext, name: str) -> Database:
    return Database(name, DatabaseArgs(
        config=DatabaseConfig(), image=DEFAULT_IMAGES["postgres"], context=ctx,
        consumers=[Consumer("mlflow", ("mlflow",))], reader=ReadOnlyAccess("reader", "mlflow", "mlflow")))


def test_two_databases_in_one_stack_do_not_collide():
    run = declare_component(lambda ctx: _two(ctx, _database))
    assert {run.value("first"), run.value("second")} == {"mlplatform-dev-one", "mlplatform-dev-two"}
    volumes = sorted(v.inputs["name"] for v in run.of_type("Volume"))
    assert volumes == ["mlplatform-dev-one-data", "mlplatform-dev-two-data"]


def test_two_mlflow_servers_in_one_stack_do_not_collide():
    def make(ctx: StackContext, name: str) -> MLflowServer:
        db = _database(ctx, f"{name}-db")
        return MLflowServer(name, MLflowServerArgs(
            config=MLflowConfig(port=5000 if name == "one" else 5001), python_base_image=DEFAULT_IMAGES["python_base"],
            context=ctx, database=db.connections["mlflow"]))

    run = declare_component(lambda ctx: _two(ctx, make))
    urns = [r.urn for r in run.resources]
    assert len(urns) == len(set(urns))
    assert run.container("two").env()["MLFLOW_SERVER_ALLOWED_HOSTS"].startswith("two,two:5000")


def test_the_platforms_database_keeps_the_names_of_the_first_release():
    run = declare_component(lambda ctx: {"db": _database(ctx, Database.DEFAULT_NAME).container.name})
    volume = run.of_type("Volume")[0]
    assert volume.inputs["name"] == "mlplatform-dev-pgdata" and volume.aliases == ["pgdata"]
    assert next(r for r in run.resources if r.name == "postgres-mlflow").aliases == ["db-mlflow"]


def test_a_second_instance_with_the_same_name_is_refused():
    with pytest.raises(ValueError, match="two containers named 'same'"):
        declare_component(lambda ctx: {"a": _database(ctx, "same").container.name,
                                        "b": _database(ctx, "same").container.name})

