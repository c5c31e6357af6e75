"""Data validation for the hourly traffic data set.

Bad data must stop a run before it reaches training, with a message that names
the column and the problem, so whoever reads the failed task log knows what to
fix at the source.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

# Column -> (kind, lower bound, upper bound); bounds are physical limits of a
# road sensor, not statistics of the data, so real anomalies stay in range.
NUMERIC_RANGES: dict[str, tuple[float, float]] = {
    "vehicle_count": (0, 20_000),
    "avg_speed_kmh": (0, 250),
    "occupancy_pct": (0, 100),
    "temperature_c": (-60, 60),
}
LABEL_COLUMN = "is_anomaly"
REQUIRED_COLUMNS = ("timestamp", "sensor_id", *NUMERIC_RANGES)
MIN_ROWS = 24 * 28  # four weeks of hourly data: enough for weekly seasonality


class DataValidationError(ValueError):
    """The data set breaks the schema, null or range rules; message lists every problem."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("Data validation failed: " + "; ".join(problems))


@dataclass(frozen=True)
class ValidationReport:
    rows: int
    sensors: int
    start: str
    end: str
    labelled: bool
    anomaly_share: float | None

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def validate_traffic_frame(frame: pd.DataFrame, min_rows: int = MIN_ROWS) -> ValidationReport:
    """Check schema, nulls, ranges and duplicates; raise DataValidationError naming each problem."""
    problems: list[str] = []
    missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
    if missing:
        raise DataValidationError([f"missing required column(s): {', '.join(missing)}"])

    if len(frame) < min_rows:
        problems.append(f"only {len(frame)} rows, need at least {min_rows}")

    for column in REQUIRED_COLUMNS:
        nulls = int(frame[column].isna().sum())
        if nulls:
            problems.append(f"column '{column}' has {nulls} null value(s)")

    timestamps = pd.to_datetime(frame["timestamp"], errors="coerce", utc=True, format="ISO8601")
    unparsable = int((timestamps.isna() & frame["timestamp"].notna()).sum())
    if unparsable:
        problems.append(f"column 'timestamp' has {unparsable} value(s) that are not datetimes")

    for column, (low, high) in NUMERIC_RANGES.items():
        values = pd.to_numeric(frame[column], errors="coerce")
        not_numeric = int((values.isna() & frame[column].notna()).sum())
        if not_numeric:
            problems.append(f"column '{column}' has {not_numeric} non-numeric value(s)")
        out_of_range = values[(values < low) | (values > high)]
        if len(out_of_range):
            problems.append(
                f"column '{column}' has {len(out_of_range)} value(s) outside [{low}, {high}] "
                f"(e.g. {out_of_range.iloc[0].item()!r})"
            )

    duplicates = int(frame.assign(_ts=timestamps).duplicated(subset=["_ts", "sensor_id"]).sum())
    if duplicates:
        problems.append(f"{duplicates} duplicate (timestamp, sensor_id) row(s)")

    labelled = LABEL_COLUMN in frame.columns
    if labelled:
        bad_labels = int((~frame[LABEL_COLUMN].isin([0, 1])).sum())
        if bad_labels:
            problems.append(f"column '{LABEL_COLUMN}' has {bad_labels} value(s) other than 0/1")

    if problems:
        raise DataValidationError(problems)

    return ValidationReport(
        rows=len(frame),
        sensors=int(frame["sensor_id"].nunique()),
        start=str(timestamps.min()),
        end=str(timestamps.max()),
        labelled=labelled,
        anomaly_share=float(frame[LABEL_COLUMN].mean()) if labelled else None,
    )
