"""Page numbers from the query string, kept within the pages that exist."""

from __future__ import annotations


def page_within(page: int, total: int, per_page: int) -> int:
    """``page`` clamped to the pages of ``total`` rows (1 when there are none): any number a user
    types in ``page=`` gives a page, never an offset the database cannot hold."""
    last = max(1, -(-total // per_page))
    return min(max(page, 1), last)
