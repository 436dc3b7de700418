"""Exceptions and warnings raised by :mod:`weighting`."""

from __future__ import annotations


class WeightingError(ValueError):
    """Invalid design, infeasible adjustment or estimate request; the message names the argument."""


class ConvergenceWarning(UserWarning):
    """An iterative adjustment (raking, calibration, trimming) stopped before meeting its tolerance."""
