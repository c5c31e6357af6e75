"""Generator, validation and feature preparation: pure functions, no Airflow or MLflow."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from mlpipelines.features import FEATURE_COLUMNS, prepare_features
from mlpipelines.generator import ANOMALY_TYPES, GeneratorConfig, generate_traffic
from mlpipelines.validation import DataValidationError, validate_traffic_frame


@pytest.fixture(scope="module")
def traffic() -> pd.DataFrame:
    return generate_traffic()


def test_generator_is_deterministic_and_labelled(traffic):
    again = generate_traffic()
    pd.testing.assert_frame_equal(traffic, again)
    assert len(traffic) == 365 * 24 * 3  # a year of hourly rows for three sensors
    share = traffic["is_anomaly"].mean()
    assert 0.01 < share < 0.04, share
    assert set(traffic.loc[traffic["is_anomaly"] == 1, "anomaly_type"]) == set(ANOMALY_TYPES)
    assert (traffic.loc[traffic["is_anomaly"] == 0, "anomaly_type"] == "none").all()


def test_generator_seed_changes_the_data():
    a = generate_traffic(GeneratorConfig(months=2, seed=1))
    b = generate_traffic(GeneratorConfig(months=2, seed=2))
    assert not a["vehicle_count"].equals(b["vehicle_count"])


def test_generated_data_passes_validation(traffic):
    report = validate_traffic_frame(traffic)
    assert report.rows == len(traffic)
    assert report.sensors == 3
    assert report.labelled and report.anomaly_share == pytest.approx(traffic["is_anomaly"].mean())


@pytest.mark.parametrize(
    ("corrupt", "expected"),
    [
        (lambda df: df.drop(columns=["avg_speed_kmh"]), "missing required column(s): avg_speed_kmh"),
        (
            lambda df: df.assign(vehicle_count=df["vehicle_count"].where(df.index >= 5)),
            "column 'vehicle_count' has 5 null value(s)",
        ),
        (
            lambda df: df.assign(occupancy_pct=np.where(df.index < 3, 140.0, df["occupancy_pct"])),
            "column 'occupancy_pct' has 3 value(s) outside [0, 100]",
        ),
        (
            lambda df: df.assign(avg_speed_kmh=np.where(df.index == 7, -5.0, df["avg_speed_kmh"])),
            "column 'avg_speed_kmh' has 1 value(s) outside [0, 250] (e.g. -5.0)",
        ),
        (
            lambda df: df.assign(temperature_c=df["temperature_c"].astype(object).where(df.index != 0, "warm")),
            "column 'temperature_c' has 1 non-numeric value(s)",
        ),
        (
            lambda df: df.assign(timestamp=df["timestamp"].astype(str).where(df.index != 0, "yesterday")),
            "column 'timestamp' has 1 value(s) that are not datetimes",
        ),
        (lambda df: pd.concat([df, df.head(4)], ignore_index=True), "4 duplicate (timestamp, sensor_id) row(s)"),
        (
            lambda df: df.assign(is_anomaly=np.where(df.index == 0, 3, df["is_anomaly"])),
            "column 'is_anomaly' has 1 value(s) other than 0/1",
        ),
        (lambda df: df.head(100), "only 100 rows, need at least 672"),
    ],
)
def test_validation_names_the_column_and_problem(traffic, corrupt, expected):
    with pytest.raises(DataValidationError) as excinfo:
        validate_traffic_frame(corrupt(traffic.copy()))
    assert expected in str(excinfo.value)
    assert str(excinfo.value).startswith("Data validation failed: ")


def test_validation_reports_every_problem_at_once(traffic):
    bad = traffic.copy()
    bad.loc[0, "vehicle_count"] = None
    bad.loc[1, "occupancy_pct"] = 101.0
    with pytest.raises(DataValidationError) as excinfo:
        validate_traffic_frame(bad)
    assert len(excinfo.value.problems) == 2


def test_features_are_complete_and_split_by_time(traffic):
    features = prepare_features(traffic)
    assert list(features.columns[:2]) == ["timestamp", "sensor_id"]
    assert not features[FEATURE_COLUMNS].isna().any().any()
    train = features[features["split"] == "train"]
    holdout = features[features["split"] == "holdout"]
    assert train["timestamp"].max() < holdout["timestamp"].min()  # no look-ahead
    assert len(holdout) / len(features) == pytest.approx(0.25, abs=0.01)
    # The seasonal baseline makes a normal row look normal: median log ratio ~ 0.
    assert abs(features.loc[features["is_anomaly"] == 0, "count_log_ratio"].median()) < 0.05


def test_features_do_not_need_labels(traffic):
    unlabelled = traffic.drop(columns=["is_anomaly", "anomaly_type"]).head(24 * 30 * 3)
    features = prepare_features(unlabelled)
    assert "is_anomaly" not in features.columns
    assert set(FEATURE_COLUMNS) <= set(features.columns)
