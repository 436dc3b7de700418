"""Probability sampling: allocation, selection and sample-size calculations (pure library).

Public API
----------
allocate
    Stratum sizes ``N_h`` and a total ``n`` -> ``n_h`` (proportional, equal, Neyman, optimal,
    power) with minimums, maximums and exact totals.
draw, draw_sample, replay_sample
    Stratified ``srswor``, ``systematic``, ``pps_systematic``, ``poisson`` and ``bernoulli``
    selection; rows plus ``inclusion_probability``, ``design_weight``, ``stratum_population``.
    ``draw_sample`` adds the allocation table and a :class:`Manifest`; ``replay_sample`` checks
    the frame against it and repeats the draw.
draw_two_stage, draw_two_stage_sample, replay_two_stage
    PSUs then units within selected PSUs, with stage-wise probabilities and FPC columns.
inclusion_probabilities
    Probabilities proportional to size with certainty units (R ``inclusionprobabilities``).
sample_size, sample_size_table
    Sizes for a proportion's margin of error, with deff, FPC and nonresponse.
draw_inspection, replay_inspection
    Random inspection draws (双随机): units and conflict-free inspectors, audited by manifest.
frame_hash, SamplingError
    Canonical frame digest; the error type (a ``ValueError``).

Examples
--------
>>> import pandas as pd
>>> import sampling
>>> frame = pd.DataFrame({"id": range(100), "school": ["a", "b", "c", "d"] * 25})
>>> sampling.allocate(frame["school"].value_counts(), 10).sum()
np.int64(10)
>>> s = sampling.draw(frame, 8, strata="school", rng=42)
>>> s.groupby("school")["design_weight"].sum().tolist()
[25.0, 25.0, 25.0, 25.0]
"""

from __future__ import annotations

from sampling.allocation import allocate
from sampling.errors import SamplingError
from sampling.inspection import InspectionDraw, draw_inspection, replay_inspection
from sampling.manifest import ALGORITHM_VERSION, Manifest, frame_hash
from sampling.multistage import draw_two_stage, draw_two_stage_sample, replay_two_stage
from sampling.precision import sample_size, sample_size_table
from sampling.probability import inclusion_probabilities
from sampling.sample import Sample, draw, draw_sample, replay_sample

__all__ = [
    "ALGORITHM_VERSION",
    "InspectionDraw",
    "Manifest",
    "Sample",
    "SamplingError",
    "allocate",
    "draw",
    "draw_inspection",
    "draw_sample",
    "draw_two_stage",
    "draw_two_stage_sample",
    "frame_hash",
    "inclusion_probabilities",
    "replay_inspection",
    "replay_sample",
    "replay_two_stage",
    "sample_size",
    "sample_size_table",
]
