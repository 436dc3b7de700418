"""Exceptions raised by :mod:`sampling`."""

from __future__ import annotations


class SamplingError(ValueError):
    """Invalid frame, allocation or selection request; the message names the argument and value."""
