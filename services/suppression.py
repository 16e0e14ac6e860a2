"""Small-group suppression for any table of counts shown or exported to staff (DESIGN §4.2).

A cell counting fewer than ``k`` people (but more than none) is hidden ("fewer than k"). Hiding one
cell is not enough when totals are shown: the total minus the other cells would give it back, so
**complementary suppression** hides at least one more cell in every row and column that holds a
hidden one, the smallest it can find, and hides a row's or column's total when nothing else can
protect it. Survey results, report counts and every export go through ``suppress``.
"""

from __future__ import annotations

from collections.abc import Collection, Hashable, Mapping
from dataclasses import dataclass

MIN_K = 3


@dataclass(frozen=True)
class SuppressedTable:
    """What may be shown: ``None`` means "fewer than k" (or hidden to protect such a cell)."""

    cells: dict[tuple[Hashable, Hashable], int | None]
    row_totals: dict[Hashable, int | None]
    column_totals: dict[Hashable, int | None]
    grand_total: int | None

    def shown(self, row: Hashable, column: Hashable) -> int | None:
        return self.cells.get((row, column))


def suppress(
    counts: Mapping[tuple[Hashable, Hashable], int],
    *,
    k: int,
    rows: list[Hashable] | None = None,
    columns: list[Hashable] | None = None,
    hidden_row_totals: Collection[Hashable] = (),
) -> SuppressedTable:
    """Suppress a two-way table of counts (rows × columns) with its margins.

        Missing cells count as zero. Zero cells are shown, except in a row or column whose total is
    hidden: there a zero would say what the rest of the small group answered.
        ``hidden_row_totals`` names rows whose totals are already hidden elsewhere (a chart of the same
        answers shown beside this breakdown), so the two stay consistent.
    """
    if k < MIN_K:
        raise ValueError(f"k must be at least {MIN_K}")
    rows = rows if rows is not None else sorted({r for r, _ in counts}, key=str)
    columns = columns if columns is not None else sorted({c for _, c in counts}, key=str)
    value = {(r, c): int(counts.get((r, c), 0)) for r in rows for c in columns}
    hidden = {cell for cell, n in value.items() if 0 < n < k}
    row_total = {r: sum(value[(r, c)] for c in columns) for r in rows}
    column_total = {c: sum(value[(r, c)] for r in rows) for c in columns}
    grand = sum(row_total.values())
    hidden_rows = {r for r, n in row_total.items() if 0 < n < k} | (
        set(hidden_row_totals) & set(rows)
    )
    hidden_columns = {c for c, n in column_total.items() if 0 < n < k}
    # A total hidden elsewhere would come back as the sum of its cells if they all showed.
    for r in hidden_rows:
        nonzero = sorted(
            ((r, c) for c in columns if value[(r, c)] > 0),
            key=lambda cell: (value[cell], str(cell)),
        )
        if nonzero and not any(cell in hidden for cell in nonzero):
            hidden.add(nonzero[0])

    # A line whose total is hidden shows none of its small cells either (they were hidden above);
    # a line whose total is shown needs two hidden cells, or none, so subtraction recovers nothing.
    lines = [("row", r, [(r, c) for c in columns]) for r in rows] + [
        ("column", c, [(r, c) for r in rows]) for c in columns
    ]
    changed = True
    while changed:
        changed = False
        for kind, line, cells in lines:
            if line in (hidden_rows if kind == "row" else hidden_columns):
                continue
            if sum(cell in hidden for cell in cells) != 1:
                continue
            candidates = sorted(
                (cell for cell in cells if cell not in hidden and value[cell] > 0),
                key=lambda cell: (value[cell], str(cell)),
            )
            if candidates:
                hidden.add(candidates[0])
            else:  # nothing left to hide beside it: hide the line's total instead
                (hidden_rows if kind == "row" else hidden_columns).add(line)
            changed = True

    # The grand total would give back a lone hidden row or column total.
    grand_hidden = 0 < grand < k or len(hidden_rows) == 1 or len(hidden_columns) == 1
    # A small group shows nothing, not even its zeros: "no man chose 'yes'" would tell what the
    # two men answered as surely as their count would.
    hidden |= {(r, c) for (r, c) in value if r in hidden_rows or c in hidden_columns}
    return SuppressedTable(
        cells={cell: None if cell in hidden else n for cell, n in value.items()},
        row_totals={r: None if r in hidden_rows else n for r, n in row_total.items()},
        column_totals={c: None if c in hidden_columns else n for c, n in column_total.items()},
        grand_total=None if grand_hidden else grand,
    )


def shown(n: int, k: int) -> int | None:
    """A single count as staff may see it: None ("fewer than k") when it could single someone out."""
    if k < MIN_K:
        raise ValueError(f"k must be at least {MIN_K}")
    return n if n == 0 or n >= k else None


def suppress_counts(counts: Mapping[Hashable, int], *, k: int) -> dict[Hashable, int | None]:
    """A one-way breakdown (e.g. answers by gender) with its total shown."""
    table = suppress(
        {(key, "n"): n for key, n in counts.items()}, k=k, columns=["n"], rows=list(counts)
    )
    return {key: table.shown(key, "n") for key in counts}
