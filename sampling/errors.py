"""Exceptions raised by :mod:`sampling`."""

from __future__ import annotations


class SamplingError(ValueError):
    """Invalid frame, allocation or selection request; the message names the argument and value."""


def shown(value: object) -> str:
    """``repr`` of ``value`` with numpy scalars shown as plain Python values (for messages)."""
    item = getattr(value, "item", None)
    if callable(item) and getattr(value, "ndim", None) == 0:
        value = item()
    return repr(value)
