"""Benchmark: stratified selection on a national-cohort-sized frame, against pandas and R.

Our draws allocate ``round(fraction * N)`` units proportionally with at least one per stratum
(when ``n`` allows it; largest-remainder rounding, exact total); R gets ``max(1, round(fraction * N_h))`` per stratum.

Each case runs in a fresh subprocess (``--case``), which builds the synthetic frame, times the
call (best of ``--repeat``) and then measures the call's peak memory with ``tracemalloc``
(numpy and pandas buffers are traced) in a separate run, so tracing does not distort the time.
The parent prints a table with ratios to pandas ``groupby(...).sample(frac=...)`` (same frame)
and to R ``sampling::strata`` (``--r-units`` frame, via Rscript; skipped with a note when
Rscript is missing).

Usage::

    .venv/bin/python benchmarks/bench_sampling.py                 # 12M units, 3,000 strata, R on 1M
    .venv/bin/python benchmarks/bench_sampling.py --units 1000000 --skip-r
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
CASES = ("allocate", "srswor", "systematic", "pps_systematic", "pandas_groupby_sample")


def make_frame(units: int, strata: int, seed: int) -> pd.DataFrame:
    """Synthetic frame: unequal strata (log-normal shares), log-normal size measure, shuffled."""
    rng = np.random.default_rng(seed)
    shares = np.exp(rng.normal(size=strata))
    stratum = rng.choice(strata, size=units, p=shares / shares.sum()).astype(np.int32)
    return pd.DataFrame(
        {
            "id": np.arange(units, dtype=np.int64),
            "stratum": stratum,
            "size": rng.lognormal(size=units),
        }
    )


def case_function(case: str, frame: pd.DataFrame, fraction: float) -> Callable[[], Any]:
    import sampling

    n = int(round(fraction * len(frame)))
    min_n = 1 if n >= frame["stratum"].nunique() else 0  # one per stratum when n allows it
    if case == "allocate":
        counts = frame["stratum"].value_counts()
        return lambda: sampling.allocate(counts, n, min_n=min_n)
    if case in ("srswor", "systematic", "pps_systematic"):
        return lambda: sampling.draw(
            frame, n, strata="stratum", method=case, size="size", min_n=min_n, rng=1
        )
    if case == "pandas_groupby_sample":
        return lambda: frame.groupby("stratum").sample(frac=fraction, random_state=1)
    raise ValueError(f"unknown case {case!r}")


def run_case(
    case: str, units: int, strata: int, fraction: float, repeat: int, seed: int
) -> dict[str, Any]:
    """Time and trace one case in this process (called in the child)."""
    frame = make_frame(units, strata, seed)
    call = case_function(case, frame, fraction)
    times = []
    cpu = []
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        result = call()
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        del result
    tracemalloc.start()
    tracemalloc.reset_peak()
    result = call()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    rows = len(result)
    return {
        "case": case,
        "units": units,
        "strata": strata,
        "seconds": min(times),
        "cpu_seconds": min(cpu),
        "peak_bytes": peak,
        "frame_bytes": int(frame.memory_usage(deep=True).sum()),
        "rows": rows,
    }


def child(case: str, args: argparse.Namespace, units: int) -> dict[str, Any]:
    command = [
        sys.executable,
        __file__,
        "--case",
        case,
        "--units",
        str(units),
        "--strata",
        str(args.strata),
        "--fraction",
        str(args.fraction),
        "--repeat",
        str(args.repeat),
        "--seed",
        str(args.seed),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=ROOT)
    if done.returncode != 0:
        raise RuntimeError(f"case {case!r} failed:\n{done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run_r(args: argparse.Namespace) -> dict[str, Any] | None:
    rscript = shutil.which("Rscript")
    if rscript is None:
        sys.stdout.write("note: Rscript not found, R sampling::strata comparison skipped\n")
        return None
    script = ROOT / "benchmarks" / "r" / "bench_sampling.R"
    command = [
        rscript,
        str(script),
        str(args.r_units),
        str(args.strata),
        str(args.fraction),
        str(args.seed),
    ]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stdout.write(f"note: R benchmark failed, skipped: {done.stderr.strip()[-300:]}\n")
        return None
    fields = dict(part.split("=") for part in done.stdout.split())
    return {
        "case": "R sampling::strata srswor",
        "units": args.r_units,
        "strata": args.strata,
        "seconds": float(fields["seconds"]),
        "cpu_seconds": float(fields["cpu"]),
        "rows": int(fields["selected"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--units", type=int, default=12_000_000)
    parser.add_argument("--strata", type=int, default=3_000)
    parser.add_argument("--fraction", type=float, default=0.01)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=2024)
    parser.add_argument("--r-units", type=int, default=1_000_000)
    parser.add_argument("--skip-r", action="store_true")
    parser.add_argument("--case", choices=CASES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        result = run_case(args.case, args.units, args.strata, args.fraction, args.repeat, args.seed)
        sys.stdout.write(json.dumps(result) + "\n")
        return

    rows = [child(case, args, args.units) for case in CASES]
    pandas_cpu = next(r["cpu_seconds"] for r in rows if r["case"] == "pandas_groupby_sample")
    r_result = None if args.skip_r else run_r(args)
    ours_r_frame = None
    if r_result is not None:
        ours_r_frame = child("srswor", args, args.r_units)
        ours_r_frame["case"] = "srswor (R's frame size)"
        rows.append(ours_r_frame)
        rows.append(r_result)
    header = f"{'case':<28}{'units':>12}{'strata':>8}{'rows':>10}{'time s':>10}{'cpu s':>9}{'peak MB':>10}{'peak/frame':>11}{'pandas/x':>10}{'R/x':>9}"
    lines = [header, "-" * len(header)]
    for r in rows:
        peak = r.get("peak_bytes")
        peak_mb = f"{peak / 1e6:10.1f}" if peak is not None else f"{'-':>10}"
        ratio_frame = f"{peak / r['frame_bytes']:11.2f}" if peak is not None else f"{'-':>11}"
        vs_pandas = (
            f"{pandas_cpu / r['cpu_seconds']:10.1f}" if r["units"] == args.units else f"{'-':>10}"
        )
        vs_r = "-"
        if r_result is not None and r["units"] == args.r_units and r is not r_result:
            vs_r = f"{r_result['cpu_seconds'] / r['cpu_seconds']:.0f}"
        lines.append(
            f"{r['case']:<28}{r['units']:>12,}{r['strata']:>8,}{r['rows']:>10,}{r['seconds']:>10.3f}"
            f"{r['cpu_seconds']:>9.3f}"
            f"{peak_mb}{ratio_frame}{vs_pandas}{vs_r:>9}"
        )
    sys.stdout.write("\n".join(lines) + "\n")
    sys.stdout.write(
        "time/cpu: best wall-clock and best process CPU time of --repeat calls (CPU time is robust "
        "to other load on a shared machine); peak: tracemalloc peak of one extra call (new "
        "allocations only); pandas/x and R/x: reference CPU time / case CPU time on the same frame "
        "size.\n"
    )


if __name__ == "__main__":
    main()
