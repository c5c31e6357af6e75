"""The new components' type tokens, and two object stores or model servers in one stack without collisions."""

from __future__ import annotations

from components.model_server import ModelServer, ModelServerArgs
from components.object_store import ObjectStore, ObjectStoreArgs
from components.service import StackContext
from config.models import ModelServer as ModelServerConfig
from config.models import ObjectStore as ObjectStoreConfig
from config.versions import DEFAULT_IMAGES
from testing.program import declare_component, shipped


def test_prod_declares_the_object_store_the_model_server_and_the_app_as_components():
    types = {r.typ for r in shipped("prod").resources if not r.custom}
    assert {"mlplatform:index:ObjectStore", "mlplatform:index:ModelServer", "mlplatform:index:ModelApp"} <= types


def test_two_object_stores_in_one_stack_do_not_collide():
    def make(ctx: StackContext, name: str) -> ObjectStore:
        return ObjectStore(name, ObjectStoreArgs(config=ObjectStoreConfig(enabled=True),
                                                 image=DEFAULT_IMAGES["object_store"],
                                                 python_image=DEFAULT_IMAGES["python_base"], context=ctx))

    run = declare_component(lambda ctx: {"one": make(ctx, "one").internal_url, "two": make(ctx, "two").internal_url})
    urns = [r.urn for r in run.resources]
    assert len(urns) == len(set(urns))
    assert (run.value("one"), run.value("two")) == ("http://one:3900", "http://two:3900")
    assert run.container("two-init").inputs["command"][3] == "http://two:3903"
    assert sorted(v.inputs["name"] for v in run.of_type("Volume")) == ["mlplatform-dev-one-data",
                                                                        "mlplatform-dev-two-data"]


def test_two_model_servers_in_one_stack_do_not_collide():
    def make(ctx: StackContext, name: str, port: int) -> ModelServer:
        return ModelServer(name, ModelServerArgs(config=ModelServerConfig(enabled=True, port=port),
                                                 python_base_image=DEFAULT_IMAGES["python_base"], context=ctx,
                                                 tracking_uri="http://mlflow:5000", model_name="anomaly-detector"))

    run = declare_component(lambda ctx: {"one": make(ctx, "one", 5001).internal_url,
                                         "two": make(ctx, "two", 5002).internal_url})
    urns = [r.urn for r in run.resources]
    assert len(urns) == len(set(urns)) and run.value("two") == "http://two:8080"
