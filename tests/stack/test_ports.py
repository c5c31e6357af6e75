"""Published ports: on the stack's bind address only, never twice."""

from __future__ import annotations

from testing.program import ProgramRun, shipped_with


def test_no_port_is_published_beyond_the_bind_address(stack: ProgramRun):
    for name, c in stack.containers().items():
        for port in c.inputs.get("ports", []):
            assert port["ip"] == "127.0.0.1", name


def test_no_host_port_is_published_twice(stack: ProgramRun):
    ports = [p["external"] for c in stack.of_type("Container") for p in c.inputs.get("ports", [])]
    assert len(ports) == len(set(ports))


def test_an_exposed_bind_address_moves_every_port_and_endpoint():
    run = shipped_with("dev", bind_address="10.1.2.3", expose=True, mlflow={"auth": True}, database={"port": None})
    for name, c in run.containers().items():
        for port in c.inputs.get("ports", []):
            assert port["ip"] == "10.1.2.3", name
    assert run.value("endpoints")["mlflow"]["url"] == "http://10.1.2.3:5000"
