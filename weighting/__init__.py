"""Survey designs, weighting adjustments and design-based estimates (pure library).

>>> import pandas as pd
>>> import weighting
>>> d = weighting.Design(pd.DataFrame({"w": [1.0, 3.0], "y": [0.0, 1.0]}), weights="w")
>>> float(d.mean("y")["estimate"].iloc[0])
0.75
"""

from __future__ import annotations

from .adjustment import Adjustment
from .calfun import CalibrationFunction
from .design import Design
from .diagnostics import kish_effective_size, weight_summary, weighting_design_effect
from .errors import ConvergenceWarning, WeightingError
from .indices import (
    bootstrap_rank_intervals,
    composite_covariance,
    composite_index,
    loading_weights,
    rank_intervals,
    ranked_composite,
)
from .ordinal import OrdinalRegression
from .quality import QualityRules, quality_flags
from .regression import Regression
from .replication import ReplicateWeights
from .supplied_replicates import replicate_design

__all__ = [
    "Adjustment",
    "CalibrationFunction",
    "ConvergenceWarning",
    "Design",
    "OrdinalRegression",
    "QualityRules",
    "Regression",
    "ReplicateWeights",
    "WeightingError",
    "bootstrap_rank_intervals",
    "composite_covariance",
    "composite_index",
    "kish_effective_size",
    "loading_weights",
    "quality_flags",
    "rank_intervals",
    "ranked_composite",
    "replicate_design",
    "weight_summary",
    "weighting_design_effect",
]
