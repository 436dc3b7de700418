"""The record of one weighting adjustment, shared by every adjustment and by :class:`Design`.

An adjustment function (``poststratify``, ``rake``, ``calibrate``, ``trim``, nonresponse) takes
the data and the current weights and returns an :class:`Adjustment`. The design keeps the
sequence of adjustments it went through, so that

* Taylor variances can replace the weighted influence values by their residuals
  (``residualize``), as R's ``survey`` does in ``svyrecvar`` for post-stratified, raked and
  calibrated designs;
* replicate designs can re-apply every adjustment to every replicate (``reapply``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

FloatArray = NDArray[np.float64]


@dataclass(frozen=True)
class Adjustment:
    """One adjustment step.

    Attributes
    ----------
    kind : str
        ``"poststratify"``, ``"rake"``, ``"calibrate"``, ``"trim"`` or ``"nonresponse"``.
    weights : ndarray of float64, shape (n,)
        The adjusted weights, aligned with the rows of the design's data.
    reapply : callable
        ``reapply(weights)`` with ``weights`` of shape (n,) or (n, R) returns the adjusted
        weights of the same shape, computed the same way (same targets, same settings).
        Used to re-weight replicate weights.
    residualize : callable or None
        ``residualize(z)`` with ``z`` the weighted influence values, shape (n, k), returns the
        residuals to use in the linearisation variance instead of ``z``; ``None`` when the
        adjustment does not change the variance formula (e.g. trimming).
    details : mapping
        What was done, for the audit trail and for users: targets, iterations, convergence,
        number of weights moved, and so on. Values are plain Python / numpy scalars.
    """

    kind: str
    weights: FloatArray
    reapply: Callable[[FloatArray], FloatArray]
    residualize: Callable[[FloatArray], FloatArray] | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
