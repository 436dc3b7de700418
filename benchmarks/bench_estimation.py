"""Benchmark: design build, item means and domain means with SEs, Strata vs R ``survey`` vs ``svy``.

Synthetic satisfaction survey: ``--rows`` respondents (default 1,000,000) in ``--strata``
strata (400) and ``--psus`` PSUs (4,000, nested in strata), ``--items`` Likert items (16, 1..5,
5% "don't know" = missing) and ``--domains`` domains (300, e.g. counties). Rows are in random
order (not grouped by PSU). Timed in the same run:

* Strata: ``Design(...)``; ``mean(items)`` overall; ``mean(items, by="domain")``; the same
  for one item;
* R ``survey`` (Rscript subprocess, same data written to a CSV): ``svydesign``,
  ``svymean(~q1, na.rm=TRUE)``, ``svyby(~q1, ~domain, svymean, na.rm=TRUE)`` -- one item,
  since ``svyby`` re-runs the estimator per domain; on ``--r-rows`` rows (default all);
* ``svy`` (Rust-backed, PyPI) in a throw-away venv (``--svy-venv``, created with
  ``pip install svy`` when missing; never Strata's own .venv): sample build, 16 item means
  overall and by domain.

Each timing is the best of ``--repeat`` runs; peak memory is the tracemalloc peak of the
step (numpy/pandas allocations) for Strata, R's ``gc()`` "max used" for R and the process
peak RSS for svy. Estimates and SEs of q1 (overall and the 300 domains) are checked against R
to 1e-8 relative. At full size the reference tools take long: R's ``svyby`` re-runs the
estimator per domain (about 2 minutes per run at 1M rows) and ``svy``'s 16 x 300 table took
about 4 minutes per run on the shared 2-core machine, so a full run with ``--repeat 3`` takes
about half an hour; use ``--r-rows`` (R on the first rows only; Strata is then also timed on
those rows for the like-for-like lines) or ``--repeat 1`` for a quicker comparison. Usage::

    .venv/bin/python benchmarks/bench_estimation.py                 # full size
    .venv/bin/python benchmarks/bench_estimation.py --rows 100000 --r-rows 100000
    .venv/bin/python benchmarks/bench_estimation.py --no-r --no-svy
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import weighting

R_SCRIPT = r"""
suppressPackageStartupMessages({library(survey); library(jsonlite)})
args <- commandArgs(TRUE)
rd <- if (requireNamespace("data.table", quietly = TRUE)) function(f) as.data.frame(data.table::fread(f)) else read.csv
dat <- rd(args[1]); reps <- as.integer(args[3])
best <- function(f) { t <- Inf; cpu <- Inf; for (i in seq_len(reps)) { s <- system.time(r <- f()); t <- min(t, s[["elapsed"]]); cpu <- min(cpu, s[["user.self"]] + s[["sys.self"]]) }; list(t = t, cpu = cpu, r = r) }
peak <- function(f) { invisible(gc(reset = TRUE)); f(); g <- gc(); sum(g[, ncol(g)]) }
b <- best(function() svydesign(ids = ~psu, strata = ~stratum, weights = ~w, data = dat))
d <- b$r
m <- best(function() svymean(~q1, d, na.rm = TRUE))
by <- best(function() svyby(~q1, ~domain, d, svymean, na.rm = TRUE))
out <- list(version = paste(R.version.string, "survey", as.character(packageVersion("survey"))),
  design = b$t, mean1 = m$t, by1 = by$t, design_cpu = b$cpu, mean1_cpu = m$cpu, by1_cpu = by$cpu,
  design_mb = peak(function() svydesign(ids = ~psu, strata = ~stratum, weights = ~w, data = dat)),
  by1_mb = peak(function() svyby(~q1, ~domain, d, svymean, na.rm = TRUE)),
  q1 = list(estimate = as.vector(coef(m$r))[1], se = as.vector(SE(m$r))[1]),
  by = list(domain = as.vector(by$r$domain), estimate = as.vector(by$r$q1), se = as.vector(by$r$se)))
writeLines(toJSON(out, digits = NA, auto_unbox = TRUE), args[2])
"""

SVY_SCRIPT = r"""
import json, resource, sys, time
import polars as pl, svy
path, out, reps, items = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4].split(",")
df = pl.read_csv(path).with_columns([pl.col(c).cast(pl.Float64).fill_nan(None) for c in items])
def best(f):
    t, r = float("inf"), None
    for _ in range(reps):
        s = time.perf_counter(); r = f(); t = min(t, time.perf_counter() - s)
    return t, r
cpu = {}
def timed(name, f):
    c = time.process_time(); t, r = best(f); cpu[name] = (time.process_time() - c) / reps; return t, r
tb, s = timed("design", lambda: svy.Sample(df, svy.Design(stratum="stratum", psu="psu", wgt="w")))
tm, m = timed("mean16", lambda: s.estimation.mean(items, drop_nulls=True))
tby, mb = timed("by16", lambda: s.estimation.mean(items, by="domain", drop_nulls=True))
q1 = m[0].to_polars()
json.dump({"version": svy.__version__, "design": tb, "mean16": tm, "by16": tby, "cpu": cpu,
           "q1": {"estimate": float(q1["est"][0]), "se": float(q1["se"][0])},
           "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}, open(out, "w"))
"""


def make_data(rows: int, strata: int, psus: int, items: int, domains: int, seed: int) -> pd.DataFrame:
    """Synthetic respondents: PSUs nested in strata, Likert items with 5% missing."""
    rng = np.random.default_rng(seed)
    psu = rng.integers(0, psus, rows)
    data = pd.DataFrame({
        "stratum": psu % strata,
        "psu": psu,
        "domain": rng.integers(0, domains, rows),
        "w": rng.uniform(50.0, 150.0, rows).round(3),
    })
    base = rng.normal(0, 1, (rows, 1)) + rng.normal(0, 0.3, (psus, 1))[psu]
    for k in range(items):
        score = np.clip(np.rint(3 + base[:, 0] + rng.normal(0, 1, rows)), 1, 5)
        score[rng.random(rows) < 0.05] = np.nan
        data[f"q{k + 1}"] = score
    return data


CPU: dict[str, float] = {}


def best(f: Callable[[], Any], repeat: int, label: str = "") -> tuple[float, Any]:
    """Best wall time of ``repeat`` runs and the last result; the best CPU time of the
    process goes to ``CPU[label]`` (less sensitive to other load on shared cores)."""
    t, cpu, out = np.inf, np.inf, None
    for _ in range(repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        out = f()
        t = min(t, time.perf_counter() - start)
        cpu = min(cpu, time.process_time() - start_cpu)
    if label:
        CPU[label] = float(cpu)
    return float(t), out


def peak_mb(f: Callable[[], Any]) -> float:
    """Peak traced allocation (MB) while running ``f``."""
    tracemalloc.start()
    tracemalloc.reset_peak()
    f()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2**20


def run_strata(data: pd.DataFrame, items: list[str], repeat: int) -> dict[str, Any]:
    def design() -> weighting.Design:
        return weighting.Design(data, weights="w", strata="stratum", psu="psu")

    out: dict[str, Any] = {}
    tag = f"{len(data)}:"
    out["design"], d = best(design, repeat, tag + "design")
    out["mean1"], m1 = best(lambda: d.mean("q1"), repeat, tag + "mean1")
    out["mean16"], _ = best(lambda: d.mean(items), repeat, tag + "mean16")
    out["by1"], b1 = best(lambda: d.mean("q1", by="domain"), repeat, tag + "by1")
    out["by16"], b16 = best(lambda: d.mean(items, by="domain"), repeat, tag + "by16")
    out["design_mb"] = peak_mb(design)
    out["by16_mb"] = peak_mb(lambda: d.mean(items, by="domain"))
    out["q1"] = {"estimate": float(m1["estimate"].iloc[0]), "se": float(m1["se"].iloc[0])}
    out["by"] = b1
    out["rows_out"] = len(b16)
    return out


def run_r(data: pd.DataFrame, repeat: int, tmp: Path) -> dict[str, Any] | str:
    rscript = shutil.which("Rscript")
    if rscript is None:
        return "skipped: Rscript not found"
    check = subprocess.run([rscript, "-e", "library(survey); library(jsonlite)"], capture_output=True)
    if check.returncode != 0:
        return "skipped: R packages survey/jsonlite not installed"
    csv, script, out = tmp / "bench.csv", tmp / "bench.R", tmp / "r.json"
    data[["stratum", "psu", "domain", "w", "q1"]].to_csv(csv, index=False, na_rep="NA")
    script.write_text(R_SCRIPT)
    done = subprocess.run([rscript, str(script), str(csv), str(out), str(repeat)], capture_output=True, text=True)
    if done.returncode != 0:
        return f"failed: {done.stderr.strip()[-300:]}"
    return json.loads(out.read_text())


def run_svy(data: pd.DataFrame, items: list[str], repeat: int, venv: Path, tmp: Path) -> dict[str, Any] | str:
    python = venv / "bin" / "python"
    if not python.exists():
        made = subprocess.run([sys.executable, "-m", "venv", str(venv)], capture_output=True)
        pip = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "svy"], capture_output=True, text=True) \
            if made.returncode == 0 else None
        if pip is None or pip.returncode != 0:
            return "skipped: could not pip install svy into a throw-away venv"
    csv, script, out = tmp / "svy.csv", tmp / "svy_bench.py", tmp / "svy.json"
    data[["stratum", "psu", "domain", "w", *items]].to_csv(csv, index=False)
    script.write_text(SVY_SCRIPT)
    done = subprocess.run([str(python), str(script), str(csv), str(out), str(repeat), ",".join(items)],
                          capture_output=True, text=True)
    if done.returncode != 0:
        return f"failed: {done.stderr.strip()[-300:]}"
    return json.loads(out.read_text())


def agreement(ours: dict[str, Any], r: dict[str, Any]) -> float:
    """Largest relative difference on q1's estimate and SE, overall and by domain."""
    by = ours["by"].set_index("domain")
    rd = pd.DataFrame(r["by"]).set_index("domain")
    first = {k: float(np.ravel(v)[0]) for k, v in r["q1"].items()}
    pairs = [(ours["q1"]["estimate"], first["estimate"]), (ours["q1"]["se"], first["se"])]
    pairs += list(zip(by.loc[rd.index, "estimate"], rd["estimate"]))
    pairs += list(zip(by.loc[rd.index, "se"], rd["se"]))
    return max(abs(a - b) / abs(b) for a, b in pairs)


def fmt(x: Any, digits: int = 3) -> str:
    return f"{x:.{digits}f}" if isinstance(x, (int, float)) else "-"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--r-rows", type=int, default=None, help="rows given to R (default: --rows)")
    p.add_argument("--strata", type=int, default=400)
    p.add_argument("--psus", type=int, default=4000)
    p.add_argument("--items", type=int, default=16)
    p.add_argument("--domains", type=int, default=300)
    p.add_argument("--repeat", type=int, default=3)
    p.add_argument("--seed", type=int, default=2026)
    p.add_argument("--no-r", action="store_true")
    p.add_argument("--no-svy", action="store_true")
    p.add_argument("--svy-venv", type=Path, default=Path(tempfile.gettempdir()) / "strata-svy-venv")
    args = p.parse_args(argv)
    items = [f"q{k + 1}" for k in range(args.items)]
    data = make_data(args.rows, args.strata, args.psus, args.items, args.domains, args.seed)
    r_rows = args.rows if args.r_rows is None else min(args.r_rows, args.rows)
    print(f"{args.rows:,} rows, {args.strata} strata, {args.psus} PSUs, {args.items} items, "
          f"{args.domains} domains; {os.cpu_count()} CPUs (shared: timings vary with other load)")
    ours = run_strata(data, items, args.repeat)
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        r_data = data.iloc[:r_rows]
        r = "skipped (--no-r)" if args.no_r else run_r(r_data, args.repeat, tmp)
        ours_r = ours if r_rows == args.rows else run_strata(r_data, items[:1], args.repeat)
        svy = "skipped (--no-svy)" if args.no_svy else run_svy(data, items, args.repeat, args.svy_venv, tmp)
    rr = r if isinstance(r, dict) else {}
    sv = svy if isinstance(svy, dict) else {}
    n_all, n_r = f"{args.rows}:", f"{r_rows}:"
    svy_cpu = sv.get("cpu", {})
    rows = [
        ("design build", args.rows, ours["design"], CPU[n_all + "design"], None, None, sv.get("design"), svy_cpu.get("design")),
        (f"design build (R rows {r_rows:,})", r_rows, ours_r["design"], CPU[n_r + "design"], rr.get("design"), rr.get("design_cpu"), None, None),
        ("mean, 1 item", r_rows, ours_r["mean1"], CPU[n_r + "mean1"], rr.get("mean1"), rr.get("mean1_cpu"), None, None),
        (f"mean, {args.items} items", args.rows, ours["mean16"], CPU[n_all + "mean16"], None, None, sv.get("mean16"), svy_cpu.get("mean16")),
        (f"mean, 1 item x {args.domains} domains", r_rows, ours_r["by1"], CPU[n_r + "by1"], rr.get("by1"), rr.get("by1_cpu"), None, None),
        (f"mean, {args.items} items x {args.domains} domains", args.rows, ours["by16"], CPU[n_all + "by16"], None, None, sv.get("by16"), svy_cpu.get("by16")),
    ]
    print("\nwall seconds (cpu seconds); best of", args.repeat)
    print(f"{'operation':36s} {'rows':>10s} {'Strata':>15s} {'R survey':>17s} {'svy':>15s} {'R/Strata':>9s} {'svy/Strata':>10s}")
    for name, n, s, sc, rt, rc, st, stc in rows:
        cell = lambda a, b: f"{fmt(a)} ({fmt(b)})" if a is not None else "-"  # noqa: E731
        ratio = fmt(rt / s, 1) if rt is not None else "-"
        sratio = fmt(st / s, 1) if st is not None else "-"
        print(f"{name:36s} {n:>10,} {cell(s, sc):>15s} {cell(rt, rc):>17s} {cell(st, stc):>15s} {ratio:>9s} {sratio:>10s}")
    print(f"\npeak memory: Strata design {ours['design_mb']:.0f} MB, Strata {args.items} items x "
          f"{args.domains} domains {ours['by16_mb']:.0f} MB (tracemalloc)"
          + (f"; R design {rr['design_mb']:.0f} MB, R svyby 1 item {rr['by1_mb']:.0f} MB (gc max used)" if rr else "")
          + (f"; svy process peak RSS {sv['peak_rss_mb']:.0f} MB" if sv else ""))
    print(f"R: {rr['version'] if rr else r}")
    print(f"svy: {sv['version'] if sv else svy}")
    if rr:
        diff = agreement(ours_r, rr)
        print(f"agreement with R (q1 mean and SE, overall and {len(rr['by']['domain'])} domains): "
              f"max relative difference {diff:.2e} {'OK' if diff < 1e-8 else 'MISMATCH'}")
    if sv:
        rel = abs(sv["q1"]["estimate"] - ours["q1"]["estimate"]) / abs(ours["q1"]["estimate"])
        rel_se = abs(sv["q1"]["se"] - ours["q1"]["se"]) / ours["q1"]["se"]
        print(f"svy q1 vs Strata: estimate rel. diff {rel:.1e}, SE rel. diff {rel_se:.1e} "
              "(svy drop_nulls=True; compare its missing-value convention before reading much into it)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
