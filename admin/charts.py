"""Charts drawn on the server as inline SVG: no script (the CSP forbids inline script, and the
console works offline), no CDN. This module lays them out; ``templates/_charts.html`` draws them.

Every chart is ``role=img`` with a text alternative and its figures in a table beside it, so a
screen reader and a printout get the same numbers. A count that is not a number (suppressed:
``None`` "fewer than k", ``HIDDEN`` "hidden") draws no bar; a share exists only when the count
under it is shown.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from services.suppression import Shown

LABEL_CHARS = 32  # characters per line of a bar's label (the label column is 240 px wide)
LINE_HEIGHT = 16
BAR_HEIGHT = 20
ROW_GAP = 10


def wrap(text: str, width: int = LABEL_CHARS) -> list[str]:
    """A label in lines: wrapped at spaces, long words broken, never cut short."""
    return textwrap.wrap(str(text), width, break_long_words=True) or [""]


@dataclass
class BarRow:
    lines: list[str]
    count: Shown
    share: float | None  # of the base, when both are shown
    width: float  # 0..1 of the bar track
    y: int  # top of the row
    text: str = ""  # what to print after the bar instead of count · share (a share chart's)


@dataclass
class BarChart:
    rows: list[BarRow]
    height: int


def bar_chart(
    items: Sequence[tuple[str, Shown]],
    base: Shown,
    *,
    shares: Sequence[float | None] | None = None,
    texts: Sequence[str] | None = None,
) -> BarChart:
    """Horizontal bars. Widths are shares of ``base`` when it is shown, else of the largest shown
    count. ``shares`` (0..1, one per item) draws a share chart instead (e.g. deadlines met)."""
    known = [n for _label, n in items if isinstance(n, int)]
    total = base if isinstance(base, int) else 0
    scale = total or (max(known) if known else 0)
    rows, y = [], 2
    for i, (label, n) in enumerate(items):
        lines = wrap(label)
        if shares is not None:
            share = shares[i]
            width = share or 0.0
        else:
            share = (n / total) if isinstance(n, int) and total else None
            width = (n / scale) if isinstance(n, int) and scale else 0.0
        rows.append(BarRow(lines, n, share, width, y, texts[i] if texts else ""))
        y += max(BAR_HEIGHT, LINE_HEIGHT * len(lines)) + ROW_GAP
    return BarChart(rows, y)
