"""Deterministic hourly road-traffic data with labelled anomalies.

Bundled so the pipelines never download anything at run time, and labelled so
precision/recall of an unsupervised detector mean something. Same seed, same
frame, on every machine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

# Sensor id -> (typical peak vehicles/hour, free-flow speed km/h, lanes capacity veh/h)
SENSORS: dict[str, tuple[float, float, float]] = {
    "a1-north": (1800.0, 110.0, 3600.0),
    "a1-south": (1600.0, 110.0, 3600.0),
    "ring-east": (900.0, 70.0, 1800.0),
}

ANOMALY_TYPES = ("incident", "surge", "sensor_fault", "night_congestion")


@dataclass(frozen=True)
class GeneratorConfig:
    start: str = "2025-01-01"
    months: int = 12
    seed: int = 42
    # Share of hours that start an anomaly episode; episodes last 1-6 hours,
    # which puts roughly 1.5-2 % of rows in an anomaly.
    episode_start_rate: float = 0.005


def _daily_profile(hour: np.ndarray, weekend: np.ndarray) -> np.ndarray:
    """Share of the peak volume by hour: two rush hours on weekdays, one midday hump at weekends."""
    weekday = (
        0.08
        + 0.92 * np.exp(-0.5 * ((hour - 8.0) / 1.4) ** 2)
        + 0.85 * np.exp(-0.5 * ((hour - 17.5) / 1.8) ** 2)
        + 0.45 * np.exp(-0.5 * ((hour - 13.0) / 3.0) ** 2)
    )
    weekend_profile = 0.08 + 0.65 * np.exp(-0.5 * ((hour - 14.0) / 3.5) ** 2)
    return np.where(weekend, weekend_profile, np.minimum(weekday, 1.0))


def generate_traffic(config: GeneratorConfig | None = None) -> pd.DataFrame:
    """Hourly rows per sensor: counts, speed, occupancy, temperature, anomaly labels."""
    cfg = config or GeneratorConfig()
    rng = np.random.default_rng(cfg.seed)
    start = pd.Timestamp(cfg.start, tz="UTC")
    end = start + pd.DateOffset(months=cfg.months)
    timestamps = pd.date_range(start, end, freq="h", inclusive="left")
    n = len(timestamps)
    hour = timestamps.hour.to_numpy().astype(float)
    weekend = timestamps.dayofweek.to_numpy() >= 5
    day_of_year = timestamps.dayofyear.to_numpy().astype(float)

    frames = []
    for sensor_id, (peak, free_speed, capacity) in SENSORS.items():
        # Summer holidays thin out commuter traffic; winter adds a little.
        annual = 1.0 - 0.12 * np.sin(2 * np.pi * (day_of_year - 105) / 365.25)
        expected = peak * _daily_profile(hour, weekend) * annual
        count = rng.poisson(expected * rng.lognormal(0.0, 0.06, n)).astype(float)
        load = np.clip(count / capacity, 0.0, 1.2)
        speed = free_speed * (1.0 - 0.45 * load**3) + rng.normal(0.0, 2.5, n)
        occupancy = 100.0 * load * 0.55 + rng.normal(0.0, 1.2, n)
        temperature = (
            10.0
            - 9.0 * np.cos(2 * np.pi * (day_of_year - 15) / 365.25)
            - 4.0 * np.cos(2 * np.pi * (hour - 4) / 24.0)
            + rng.normal(0.0, 1.5, n)
        )
        anomaly_type = np.full(n, "none", dtype=object)

        starts = np.flatnonzero(rng.random(n) < cfg.episode_start_rate)
        for begin in starts:
            kind = ANOMALY_TYPES[rng.integers(len(ANOMALY_TYPES))]
            length = int(rng.integers(1, 7))
            if kind == "night_congestion":
                # Only meaningful at night: move the episode to 1-4 am of that day.
                begin = begin - int(hour[begin]) + int(rng.integers(1, 4))
                length = min(length, 3)
            window = slice(max(begin, 0), min(begin + length, n))
            size = window.stop - window.start
            if size <= 0 or (anomaly_type[window] != "none").any():
                continue
            anomaly_type[window] = kind
            # Severities overlap normal variation on purpose: some episodes are
            # easy to spot, others barely leave the normal range.
            severity = rng.uniform(0.0, 1.0)
            if kind == "incident":
                count[window] *= 1.0 - rng.uniform(0.15, 0.5, size) * severity
                speed[window] *= 1.0 - rng.uniform(0.2, 0.7, size) * severity
                occupancy[window] += rng.uniform(5.0, 40.0, size) * severity
            elif kind == "surge":
                count[window] *= 1.0 + rng.uniform(0.2, 1.0, size) * severity
                occupancy[window] *= 1.0 + rng.uniform(0.2, 1.0, size) * severity
                speed[window] *= 1.0 - rng.uniform(0.05, 0.3, size) * severity
            elif kind == "sensor_fault":
                # A stuck sensor repeats its last reading for hours.
                first = window.start
                count[window] = count[first]
                occupancy[window] = occupancy[first]
                speed[window] = speed[first]
            else:  # night_congestion
                count[window] = peak * rng.uniform(0.2, 0.7, size) * (0.3 + 0.7 * severity)
                occupancy[window] = count[window] / capacity * 55.0 + rng.normal(0.0, 1.2, size)
                speed[window] = free_speed * (1.0 - rng.uniform(0.1, 0.5, size) * severity)

        frames.append(
            pd.DataFrame(
                {
                    "timestamp": timestamps,
                    "sensor_id": sensor_id,
                    "vehicle_count": np.round(count).astype(int),
                    "avg_speed_kmh": np.round(np.clip(speed, 0.0, 200.0), 1),
                    "occupancy_pct": np.round(np.clip(occupancy, 0.0, 100.0), 1),
                    "temperature_c": np.round(temperature, 1),
                    "is_anomaly": (anomaly_type != "none").astype(int),
                    "anomaly_type": anomaly_type.astype(str),
                }
            )
        )
    return pd.concat(frames, ignore_index=True).sort_values(["timestamp", "sensor_id"], ignore_index=True)
