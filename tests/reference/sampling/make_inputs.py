"""Write the Python-drawn inputs that make_reference.R checks with R ``survey``.

Run from the repository root: ``.venv/bin/python tests/reference/sampling/make_inputs.py``.
The two-stage sample is drawn with a fixed seed; tests re-draw it and require identical rows
(cross-machine reproducibility) and compare R's weights for it with ours.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

import sampling

HERE = Path(__file__).parent


def cohort_frame() -> pd.DataFrame:
    """Synthetic graduate cohort: 3 provinces, 8-12 institutions each, 5-60 graduates each."""
    rng = np.random.default_rng(20240901)
    rows = []
    for province, count in (("P1", 8), ("P2", 10), ("P3", 12)):
        for number in range(count):
            size = int(rng.integers(5, 61))
            for graduate in range(size):
                rows.append(
                    (
                        province,
                        f"{province}-I{number:02d}",
                        f"{province}-I{number:02d}-G{graduate:03d}",
                    )
                )
    return pd.DataFrame(rows, columns=["province", "institution", "graduate"])


def two_stage_sample() -> pd.DataFrame:
    """The reference two-stage draw (fixed design and seed)."""
    return sampling.draw_two_stage(
        cohort_frame(),
        psu="institution",
        strata="province",
        n_psu={"P1": 3, "P2": 4, "P3": 4},
        n_units=6,
        rng=417,
    )


def stratified_sample() -> pd.DataFrame:
    """The reference stratified srswor draw of graduates (Neyman allocation on a fixed sd)."""
    frame = cohort_frame()
    frame["employed"] = (np.arange(len(frame)) * 7919 % 10 < 7).astype(float)
    population = frame["province"].value_counts().sort_index()
    n_h = sampling.allocate(
        population, 60, method="neyman", sd={"P1": 0.3, "P2": 0.5, "P3": 0.45}, min_n=5
    )
    return sampling.draw(frame, n_h, strata="province", rng=2718)


if __name__ == "__main__":
    two_stage_sample().to_csv(HERE / "two_stage_sample.csv", index=False)
    stratified_sample().to_csv(HERE / "stratified_sample.csv", index=False)
