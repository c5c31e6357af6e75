"""`make rotate`: which deploys a rotation takes, and what each writes into the stack config."""

from __future__ import annotations

import pytest

from config.models import Rotation
from ops import rotate
from testing.program import stack_config


def test_every_kind_is_a_rotation_field():
    assert set(rotate.KINDS) <= set(Rotation.model_fields)


def test_all_or_nothing_chosen_means_every_kind():
    assert rotate.kinds("all") == rotate.kinds("") == list(rotate.KINDS)


def test_an_unknown_kind_is_refused_naming_what_is_allowed():
    with pytest.raises(rotate.RotationError) as error:
        rotate.kinds("database,passwords")
    assert "WHAT: unknown passwords" in str(error.value) and "airflow_keys" in str(error.value)


def test_rotating_passwords_is_one_deploy_with_the_next_generation():
    assert rotate.plan(Rotation(database=2), ["database", "logins"]) == [{"database": 3, "logins": 1}]


def test_rotating_the_fernet_key_keeps_the_old_one_for_a_deploy_then_drops_it():
    steps = rotate.plan(Rotation(fernet=1), ["fernet"])
    assert steps == [{"fernet": 2, "fernet_previous": 1}, {"fernet_previous": None}]


def test_a_fernet_rotation_left_half_way_is_finished_before_the_next_one():
    steps = rotate.plan(Rotation(fernet=2, fernet_previous=1), ["fernet"])
    assert steps[:2] == [{}, {"fernet_previous": None}]
    assert steps[2:] == [{"fernet": 3, "fernet_previous": 2}, {"fernet_previous": None}]


def test_each_deploy_gets_a_valid_config_and_the_last_one_has_no_previous_key():
    deployed: list[dict] = []
    final = rotate.rotate(stack_config("prod"), "prod", rotate.KINDS, deployed.append)
    assert [d.get("fernet_previous") for d in deployed] == [0, None]
    assert final == {"database": 1, "logins": 1, "airflow_keys": 1, "redis": 1, "fernet": 1}
    from config import parse_platform

    for rotation in deployed:
        parse_platform({**stack_config("prod"), "rotation": rotation}, "prod")


def test_a_real_stack_gets_its_rotation_through_pulumi_config_then_pulumi_up(monkeypatch):
    commands: list[list[str]] = []
    monkeypatch.setattr(rotate, "_pulumi", commands.append)
    config = {**stack_config("dev"), "rotation": {"fernet": 1}}
    rotate.rotate(config, "dev", ["fernet"], rotate.pulumi_deploy("dev", config))
    key = "mlplatform:platform.rotation"
    assert commands == [
        ["config", "set", "--path", f"{key}.fernet", "2", "--type", "int", "--stack", "dev"],
        ["config", "set", "--path", f"{key}.fernet_previous", "1", "--type", "int", "--stack", "dev"],
        ["up", "--yes", "--stack", "dev"],
        ["config", "rm", "--path", f"{key}.fernet_previous", "--stack", "dev"],
        ["up", "--yes", "--stack", "dev"],
    ]
