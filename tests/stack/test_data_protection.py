"""Data volumes: always retained on delete; with protect_data, every one of them protected."""

from __future__ import annotations

import pytest

from testing.program import shipped


@pytest.mark.parametrize("stack", ["staging", "prod"])
def test_every_data_volume_is_protected_when_protect_data_is_on(stack):
    volumes = shipped(stack).of_type("Volume")
    # MLflow's artifacts live in the object store in these stacks: its volume is the one to keep.
    assert {v.name for v in volumes} >= {"postgres-data", "objectstore-data", "airflow-logs", "airflow-data",
                                          "airflow-redis", "grafana-data"}
    for volume in volumes:
        assert volume.protect, volume.name


def test_dev_protects_nothing_so_it_can_be_torn_down():
    assert not [v.name for v in shipped("dev").of_type("Volume") if v.protect]
