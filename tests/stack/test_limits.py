"""Prod limits every container; limits follow the config."""

from __future__ import annotations

from testing.program import shipped


def test_prod_limits_the_memory_and_cpus_of_every_container():
    for name, c in shipped("prod").containers().items():
        assert c.inputs.get("memory") and c.inputs.get("cpus"), name


def test_dev_sets_no_limits():
    for name, c in shipped("dev").containers().items():
        assert "memory" not in c.inputs and "memorySwap" not in c.inputs and "cpus" not in c.inputs, name
