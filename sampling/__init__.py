"""Probability sampling: allocation, selection and sample-size calculations (pure library).

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
from sampling.multistage import draw_two_stage, draw_two_stage_sample
from sampling.precision import sample_size, sample_size_table
from sampling.probability import inclusion_probabilities
from sampling.sample import Sample, draw, draw_sample

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
    "replay_inspection",
    "inclusion_probabilities",
    "sample_size",
    "sample_size_table",
]
