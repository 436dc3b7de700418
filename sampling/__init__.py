"""Probability sampling: allocation, selection and sample-size calculations (pure library)."""
