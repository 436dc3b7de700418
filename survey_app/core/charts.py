"""Server-side SVG charts with matplotlib (object API: no pyplot state, safe in threads).

Text is kept as text in the SVG (``svg.fonttype: none``), so the browser draws Chinese labels
with its own fonts even when the server has no CJK font; CJK fonts come first when present and
matplotlib's missing-glyph warnings are silenced.

Labels come from users (strata, counties, questionnaire items), so matplotlib's math text is off
(``text.parse_math: False``): ``$\\frac$``, ``$$`` or ``cost $5 to $10`` are drawn as written
instead of being parsed as TeX (which failed with an error, or changed the label).
"""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

CHART_FONTS = ["Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Zen Hei", "PingFang SC", "Microsoft YaHei", "DejaVu Sans"]


@contextmanager
def chart_style() -> Iterator[None]:
    import matplotlib

    style: dict[str, Any] = {"svg.fonttype": "none", "font.family": "sans-serif", "font.sans-serif": CHART_FONTS, "text.parse_math": False}
    with matplotlib.rc_context(style), warnings.catch_warnings():  # type: ignore[arg-type]
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        warnings.filterwarnings("ignore", message="findfont")
        yield


def figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=96)


def svg(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="svg", bbox_inches="tight")
    return buffer.getvalue()
