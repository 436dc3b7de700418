"""Survey designs, weighting adjustments and design-based estimates (pure library)."""
