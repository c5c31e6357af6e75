"""How long the Pulumi program takes to evaluate under mocks.

Prints figures; asserts nothing (timings depend on the machine). Targets:
prod evaluates in under 1.5 s; 50 Celery workers cost under 2x one worker.
Run: ``python -m bench.program_bench`` (or ``make bench``).
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from testing.program import run_program, stack_config

REPEATS = 5


def _timed(stack: str, platform: dict) -> float:
    start = time.perf_counter()
    run_program(stack, platform)
    return time.perf_counter() - start


def _median(stack: str, platform: dict) -> float:
    _timed(stack, platform)  # warm-up: imports and first registration
    return statistics.median(_timed(stack, platform) for _ in range(REPEATS))


def _cold_start(stack: str) -> float:
    """A fresh interpreter: imports included, as `pulumi up` pays them."""
    code = (
        "import time; t = time.perf_counter(); from testing.program import run_program; "
        f"run_program({stack!r}); print(time.perf_counter() - t)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return float(out.stdout.strip().splitlines()[-1])


def main() -> None:
    print(f"Program evaluation under mocks (median of {REPEATS} warm runs; cold = fresh interpreter)")
    for stack in ("dev", "staging", "prod"):
        warm = _median(stack, stack_config(stack))
        cold = _cold_start(stack)
        print(f"  {stack:8s} warm {warm:6.3f} s   cold {cold:6.3f} s   (target prod < 1.5 s)")
    prod = stack_config("prod")
    figures = {}
    for workers in (1, 10, 50):
        config = {**prod, "airflow": {**prod["airflow"], "workers": workers}}
        figures[workers] = _median("prod", config)
        print(f"  prod with {workers:2d} workers  {figures[workers]:6.3f} s")
    print(f"  50 workers / 1 worker = {figures[50] / figures[1]:.2f}x   (target < 2x)")


if __name__ == "__main__":
    main()
