"""PNG charts of an anomaly-scoring result (the charts the replaced stack produced).

matplotlib is forced onto the non-GUI Agg backend: workers have no display,
and a GUI backend would fail or hang there.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg", force=True)

import matplotlib.pyplot as plt  # noqa: E402  (backend must be chosen first)
import pandas as pd  # noqa: E402

PLOT_FILES = (
    "score_distribution.png",
    "anomaly_share.png",
    "top_anomalies.png",
    "anomaly_trend.png",
)
TOP_N = 15


def _save(fig, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=90, format="png")
    plt.close(fig)
    return path


def write_plots(scored: pd.DataFrame, threshold: float, out_dir: Path) -> list[Path]:
    """Four charts from a frame with timestamp, sensor_id, anomaly_score, is_predicted_anomaly
    (and is_anomaly labels when known). Returns the written paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    labelled = "is_anomaly" in scored.columns

    fig, ax = plt.subplots(figsize=(7, 4))
    if labelled:
        ax.hist(scored.loc[scored["is_anomaly"] == 0, "anomaly_score"], bins=60, alpha=0.7, label="normal (label)")
        ax.hist(scored.loc[scored["is_anomaly"] == 1, "anomaly_score"], bins=60, alpha=0.7, label="anomaly (label)")
    else:
        ax.hist(scored["anomaly_score"], bins=60, alpha=0.8, label="all rows")
    ax.axvline(threshold, color="black", linestyle="--", label=f"threshold {threshold:.3f}")
    ax.set_yscale("log")
    ax.set_xlabel("anomaly score (higher = more anomalous)")
    ax.set_ylabel("rows (log)")
    ax.set_title("Anomaly score distribution")
    ax.legend()
    written.append(_save(fig, out_dir / PLOT_FILES[0]))

    flagged = int(scored["is_predicted_anomaly"].sum())
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.pie(
        [len(scored) - flagged, flagged],
        labels=["normal", "anomaly"],
        autopct="%1.2f%%",
        colors=["#4c72b0", "#dd4444"],
        startangle=90,
    )
    ax.set_title(f"Predicted anomaly share ({flagged} of {len(scored)} rows)")
    written.append(_save(fig, out_dir / PLOT_FILES[1]))

    top = scored.nlargest(TOP_N, "anomaly_score").iloc[::-1]
    labels = top["sensor_id"] + " " + pd.to_datetime(top["timestamp"]).dt.strftime("%Y-%m-%d %H:%M")
    colors = ["#dd4444" if hit else "#999999" for hit in top["is_anomaly"] == 1] if labelled else ["#dd4444"] * len(top)
    fig, ax = plt.subplots(figsize=(8, 5))
    ax.barh(labels, top["anomaly_score"], color=colors)
    ax.set_xlabel("anomaly score")
    ax.set_title(f"Top {len(top)} anomalies" + (" (grey = not a labelled anomaly)" if labelled else ""))
    written.append(_save(fig, out_dir / PLOT_FILES[2]))

    daily = scored.set_index(pd.to_datetime(scored["timestamp"])).resample("D")
    fig, ax = plt.subplots(figsize=(9, 4))
    ax.plot(daily["is_predicted_anomaly"].sum(), label="predicted anomalies per day")
    if labelled:
        ax.plot(daily["is_anomaly"].sum(), label="labelled anomalies per day", alpha=0.7)
    ax.set_ylabel("rows")
    ax.set_title("Anomalies over time")
    ax.legend()
    fig.autofmt_xdate()
    written.append(_save(fig, out_dir / PLOT_FILES[3]))
    return written
