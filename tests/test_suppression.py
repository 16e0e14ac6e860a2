"""Small-group suppression: no hidden count can be worked back out from what is shown."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from services.suppression import SuppressedTable, suppress, suppress_counts


def attack(table: SuppressedTable, rows: list[int], columns: list[int]) -> set[tuple[int, int]]:
    """Everything an analyst can solve by subtraction, repeated until nothing new comes out."""
    known = {cell: n for cell, n in table.cells.items() if n is not None}
    row_totals = {r: n for r, n in table.row_totals.items() if n is not None}
    column_totals = {c: n for c, n in table.column_totals.items() if n is not None}
    progress = True
    while progress:
        progress = False
        if table.grand_total is not None:
            for totals, keys in ((row_totals, rows), (column_totals, columns)):
                missing = [key for key in keys if key not in totals]
                if len(missing) == 1:
                    totals[missing[0]] = table.grand_total - sum(
                        totals[key] for key in keys if key != missing[0]
                    )
                    progress = True
        for r in rows:
            if r in row_totals:
                missing = [(r, c) for c in columns if (r, c) not in known]
                if len(missing) == 1:
                    known[missing[0]] = row_totals[r] - sum(
                        known[(r, c)] for c in columns if (r, c) in known
                    )
                    progress = True
        for c in columns:
            if c in column_totals:
                missing = [(r, c) for r in rows if (r, c) not in known]
                if len(missing) == 1:
                    known[missing[0]] = column_totals[c] - sum(
                        known[(r, c)] for r in rows if (r, c) in known
                    )
                    progress = True
    return set(known)


tables = st.integers(1, 4).flatmap(
    lambda nr: st.integers(1, 4).flatmap(
        lambda nc: st.tuples(
            st.just(list(range(nr))),
            st.just(list(range(nc))),
            st.lists(st.integers(0, 14), min_size=nr * nc, max_size=nr * nc),
        )
    )
)


@settings(max_examples=400, deadline=None)
@given(tables, st.integers(3, 6))
def test_no_small_group_can_be_recovered(
    table: tuple[list[int], list[int], list[int]], k: int
) -> None:
    rows, columns, values = table
    counts = {
        (r, c): values[i * len(columns) + j]
        for i, r in enumerate(rows)
        for j, c in enumerate(columns)
    }
    result = suppress(counts, k=k, rows=rows, columns=columns)
    for n in result.cells.values():
        assert n is None or n == 0 or n >= k  # nothing small is ever printed
    for totals in (result.row_totals, result.column_totals):
        assert all(n is None or n == 0 or n >= k for n in totals.values())
    solvable = attack(result, rows, columns)
    for cell, n in counts.items():
        if 0 < n < k:
            assert cell not in solvable, (counts, result)


def test_a_single_small_group_hides_a_second_cell() -> None:
    counts = {("women", "yes"): 2, ("women", "no"): 40, ("men", "yes"): 30, ("men", "no"): 35}
    result = suppress(counts, k=5)
    assert result.shown("women", "yes") is None
    assert result.shown("women", "no") is None  # else 42 - 40 gives the 2 back
    assert result.shown("men", "yes") is None  # else 32 - 30 does
    assert result.shown("men", "no") is None  # else 65 - 35 gives 30, and the rest follows
    assert (result.row_totals, result.column_totals) == (
        {"men": 65, "women": 42},
        {"no": 75, "yes": 32},
    )


def test_large_tables_keep_what_is_safe_to_show() -> None:
    counts = {(r, c): 50 for r in "abc" for c in "xyz"} | {("a", "x"): 1}
    result = suppress(counts, k=5)
    shown = [cell for cell, n in result.cells.items() if n is not None]
    assert len(shown) == 5  # only the 2x2 block that guards the small cell is hidden


def test_one_way_breakdown() -> None:
    assert suppress_counts({"woman": 12, "man": 9, "other": 2}, k=5) == {
        "woman": 12,
        "man": None,
        "other": None,
    }
    assert suppress_counts({"woman": 12, "man": 9}, k=5) == {"woman": 12, "man": 9}


def test_k_below_three_is_refused() -> None:
    import pytest

    with pytest.raises(ValueError):
        suppress({("a", "b"): 1}, k=2)


def test_a_small_group_shows_not_even_its_zeros() -> None:
    # Two men, both answered "no": a shown 0 for ("yes", men) would give their answers away.
    counts = {("yes", "men"): 0, ("no", "men"): 2, ("yes", "women"): 10, ("no", "women"): 0}
    result = suppress(counts, k=5, rows=["yes", "no"], columns=["men", "women"])
    assert result.shown("yes", "men") is None and result.shown("no", "men") is None
    assert result.column_totals["men"] is None
