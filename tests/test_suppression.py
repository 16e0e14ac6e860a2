"""Small-group suppression as protection intervals (DESIGN §4.2, audit H5): given every number a
table shows, each hidden count below k can still be anything from 0 to k−1."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.suppression import HIDDEN, suppress, suppress_counts, suppress_line
from tests.lp_attack import Attack, add_table

tables = st.integers(1, 5).flatmap(
    lambda nr: st.integers(1, 6).flatmap(
        lambda nc: st.tuples(
            st.just(list(range(nr))),
            st.just(list(range(nc))),
            # Mostly small counts (the hard case), some large ones to show.
            st.lists(
                st.one_of(st.integers(0, 12), st.integers(0, 40)),
                min_size=nr * nc,
                max_size=nr * nc,
            ),
        )
    )
)


@settings(max_examples=300, deadline=None)
@given(tables, st.integers(3, 10))
def test_h5_rule2_interval_attack_on_any_table_finds_nothing(
    table: tuple[list[int], list[int], list[int]], k: int
) -> None:
    rows, columns, values = table
    counts = {
        (r, c): values[i * len(columns) + j]
        for i, r in enumerate(rows)
        for j, c in enumerate(columns)
    }
    result = suppress(counts, k=k, rows=rows, columns=columns)
    shown = [*result.cells.values(), *result.row_totals.values()]
    shown += [*result.column_totals.values(), result.grand_total]
    assert all(n is None or n is HIDDEN or n >= k for n in shown)  # no small number, 0 included
    attack = Attack(k)
    add_table(attack, "t", counts, result, rows=rows, columns=columns)
    assert attack.weak() == []


# A question broken down by factory as the results page does it: five answers × many factories,
# most of them small; the answers' chart printed beside it (its row totals) and the respondents
# per factory (its column totals, a line suppressed on its own). The wide case the residual
# search was built for.
factory_breakdowns = st.integers(8, 40).flatmap(
    lambda nc: st.lists(
        st.lists(st.integers(0, 4) | st.integers(0, 30), min_size=5, max_size=5),
        min_size=nc,
        max_size=nc,
    )
)


@settings(max_examples=40, deadline=None)
@given(factory_breakdowns, st.sampled_from([3, 5]))
def test_h5_interval_attack_on_a_wide_factory_breakdown_finds_nothing(
    factories: list[list[int]], k: int
) -> None:
    rows, columns = list(range(5)), list(range(len(factories)))
    counts = {(r, c): factories[c][r] for r in rows for c in columns}
    chart, chart_total = suppress_line({r: sum(f[r] for f in factories) for r in rows}, k=k)
    people, people_total = suppress_line(dict(enumerate(map(sum, factories))), k=k)
    result = suppress(
        counts,
        k=k,
        rows=rows,
        columns=columns,
        row_totals=chart,
        column_totals={
            c: sum(f) if isinstance(people[c], int) else people[c] for c, f in enumerate(factories)
        },
        grand_total=chart_total,
        fixed_margins=True,
    )
    attack = Attack(k)
    for r in rows:
        attack.number(("chart", r), sum(f[r] for f in factories), chart[r])
    attack.number("answered", sum(map(sum, factories)), chart_total)
    attack.equal({("chart", r): 1 for r in rows} | {"answered": -1})
    for c, f in enumerate(factories):
        attack.number(("people", c), sum(f), people[c])
    attack.number("people", sum(map(sum, factories)), people_total)
    attack.equal({("people", c): 1 for c in columns} | {"people": -1})
    add_table(
        attack,
        "t",
        counts,
        result,
        rows=rows,
        columns=columns,
        row_names={r: ("chart", r) for r in rows},
        column_names={c: ("people", c) for c in columns},
        grand_name="answered",
    )
    assert attack.weak() == []


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(0, 30), min_size=1, max_size=8), st.integers(3, 10))
def test_h5_rule2_interval_attack_on_a_one_way_line_finds_nothing(
    values: list[int], k: int
) -> None:
    entries, total = suppress_line(dict(enumerate(values)), k=k)
    attack = Attack(k)
    for key, n in enumerate(values):
        attack.number(key, n, entries[key])
    attack.number("total", sum(values), total)
    attack.equal({key: 1 for key in range(len(values))} | {"total": -1})
    assert attack.weak() == []


def test_h5_the_audits_kreyol_column_no_longer_pins_two_cells() -> None:
    """The audit's table (wave 1, "How do you feel" by language): 21 − 10 − 9 = 2 = x₂ + x₅."""
    columns = ["ar", "bn", "en", "fr", "ht", "km", "vi"]
    grid = {
        "1": [0, 0, 0, 0, 0, 0, 0],
        "2": [3, 9, 10, 6, 1, 4, 3],
        "3": [10, 12, 17, 6, 10, 8, 10],
        "4": [3, 13, 18, 4, 9, 3, 5],
        "5": [5, 5, 13, 3, 1, 3, 4],
    }
    counts = {(r, c): grid[r][j] for r in grid for j, c in enumerate(columns)}
    result = suppress(counts, k=5, rows=list(grid), columns=columns)
    assert not isinstance(result.shown("1", "en"), int)  # no zero is printed
    attack = Attack(5)
    add_table(attack, "feel", counts, result, rows=list(grid), columns=columns)
    assert attack.weak() == []
    # The old rule printed 0s and margins: the same attack pinned the Kreyòl cells.
    old = Attack(5)
    for (r, c), n in counts.items():
        old.number((r, c), n, None if 0 < n < 5 else n)
    for c in columns:
        old.equal({(r, c): 1 for r in grid}, sum(counts[(r, c)] for r in grid))
    assert {name for name, *_ in old.weak()} >= {("2", "ht"), ("5", "ht")}


def test_complements_follow_the_cell_key_not_the_value() -> None:
    """M4: as counts grow, the same complement stays hidden (it is chosen by key)."""
    before = {("a", "x"): 2, ("a", "y"): 40, ("b", "x"): 30, ("b", "y"): 35}
    after = {("a", "x"): 2, ("a", "y"): 41, ("b", "x"): 33, ("b", "y"): 36}
    hidden_before = {c for c, n in suppress(before, k=5).cells.items() if not isinstance(n, int)}
    hidden_after = {c for c, n in suppress(after, k=5).cells.items() if not isinstance(n, int)}
    assert hidden_before == hidden_after


def test_large_tables_keep_what_is_safe_to_show() -> None:
    counts = {(r, c): 50 for r in "abc" for c in "xyz"} | {("a", "x"): 1}
    result = suppress(counts, k=5)
    shown = [cell for cell, n in result.cells.items() if isinstance(n, int)]
    assert len(shown) >= 5
    assert result.grand_total == 401


def test_one_way_breakdown() -> None:
    assert suppress_counts({"woman": 12, "man": 9}, k=5) == {"woman": 12, "man": 9}
    entries = suppress_counts({"woman": 12, "man": 9, "other": 2}, k=5)
    assert entries["other"] is None
    assert entries["woman"] is HIDDEN or entries["man"] is HIDDEN
    # Nothing prints the total: a small entry needs no complement.
    assert suppress_counts({"woman": 12, "other": 2}, k=5, total_shown=False) == {
        "woman": 12,
        "other": None,
    }


def test_k_below_three_is_refused() -> None:
    with pytest.raises(ValueError):
        suppress({("a", "b"): 1}, k=2)


def test_a_small_group_shows_not_even_its_zeros() -> None:
    # Two men, both answered "no": a shown 0 for ("yes", men) would give their answers away.
    counts = {("yes", "men"): 0, ("no", "men"): 2, ("yes", "women"): 10, ("no", "women"): 0}
    result = suppress(counts, k=5, rows=["yes", "no"], columns=["men", "women"])
    assert not any(isinstance(result.shown(answer, "men"), int) for answer in ("yes", "no"))
    assert not isinstance(result.column_totals["men"], int)
