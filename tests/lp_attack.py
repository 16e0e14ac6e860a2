"""The audit's interval attack (H5), as a linear program: every number shown is a constraint, every
hidden number a variable bounded by what its label says, and each hidden count below k is
minimised and maximised. Protection holds when each such range spans at least k values."""

from __future__ import annotations

from collections.abc import Hashable, Mapping

import numpy as np
from scipy.optimize import linprog

from services.suppression import Hidden, Shown, SuppressedTable


class Attack:
    def __init__(self, k: int) -> None:
        self.k = k
        self.index: dict[Hashable, int] = {}
        self.bounds: list[tuple[float, float | None]] = []
        self.truth: list[int] = []
        self.hidden: list[Hashable] = []
        self.equalities: list[tuple[dict[Hashable, float], float]] = []
        self.inequalities: list[tuple[dict[Hashable, float], float]] = []

    def number(self, name: Hashable, true: int, shown: Shown) -> Hashable:
        """A number on the page: "fewer than k" is 0..k−1, "hidden" is anything from 0."""
        if name in self.index:
            raise AssertionError(f"{name!r} twice")
        assert shown is None or isinstance(shown, Hidden) or shown == true, (name, shown, true)
        self.index[name] = len(self.truth)
        self.truth.append(true)
        if isinstance(shown, int):
            self.bounds.append((shown, shown))
        elif shown is None:
            assert true < self.k, (name, true)  # "fewer than k" never lies
            self.bounds.append((0, self.k - 1))
        else:
            self.bounds.append((0, None))
        if shown is None or isinstance(shown, Hidden):
            self.hidden.append(name)
        return name

    def unshown(self, name: Hashable, true: int) -> Hashable:
        """A quantity that is not printed but ties printed ones together (e.g. a group's size)."""
        self.index[name] = len(self.truth)
        self.truth.append(true)
        self.bounds.append((0, None))
        return name

    def equal(self, terms: Mapping[Hashable, float], rhs: float = 0) -> None:
        self.equalities.append((dict(terms), rhs))

    def at_most(self, terms: Mapping[Hashable, float], rhs: float = 0) -> None:
        self.inequalities.append((dict(terms), rhs))

    def _matrix(
        self, rows: list[tuple[dict[Hashable, float], float]]
    ) -> tuple[np.ndarray | None, np.ndarray | None]:
        if not rows:
            return None, None
        a = np.zeros((len(rows), len(self.truth)))
        b = np.zeros(len(rows))
        for i, (terms, rhs) in enumerate(rows):
            for name, coef in terms.items():
                a[i, self.index[name]] += coef
            b[i] = rhs
        return a, b

    def weak(self) -> list[tuple[Hashable, int, float, float]]:
        """Hidden counts below k whose feasible range is narrower than k values."""
        truth = np.array(self.truth, dtype=float)
        a_eq, b_eq = self._matrix(self.equalities)
        a_ub, b_ub = self._matrix(self.inequalities)
        # The truth must satisfy everything, or the model of the page is wrong.
        if a_eq is not None:
            assert np.allclose(a_eq @ truth, b_eq), "equalities do not hold for the true counts"
        if a_ub is not None:
            assert (a_ub @ truth <= b_ub + 1e-9).all(), "inequalities do not hold"
        found = []
        for name in self.hidden:
            i = self.index[name]
            if self.truth[i] >= self.k:
                continue
            c = np.zeros(len(self.truth))
            c[i] = 1
            low = linprog(c, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=self.bounds)
            high = linprog(-c, A_ub=a_ub, b_ub=b_ub, A_eq=a_eq, b_eq=b_eq, bounds=self.bounds)
            assert low.status == 0 and high.status == 0, (name, low.message, high.message)
            lo, hi = low.fun, -high.fun
            if hi - lo < self.k - 1 - 1e-6:
                found.append((name, self.truth[i], lo, hi))
        return found


def add_table(
    attack: Attack,
    name: Hashable,
    counts: Mapping[tuple[Hashable, Hashable], int],
    table: SuppressedTable,
    *,
    rows: list[Hashable],
    columns: list[Hashable],
    row_names: Mapping[Hashable, Hashable] | None = None,
    column_names: Mapping[Hashable, Hashable] | None = None,
    grand_name: Hashable | None = None,
) -> None:
    """A two-way table with its margins. Margins may be named after numbers shown elsewhere (the
    chart's bars, a question's answered count) so that the same number is one variable."""
    value = {(r, c): int(counts.get((r, c), 0)) for r in rows for c in columns}
    row_names = row_names or {r: (name, "row", r) for r in rows}
    column_names = column_names or {c: (name, "column", c) for c in columns}
    grand_name = grand_name if grand_name is not None else (name, "grand")
    for (r, c), n in value.items():
        attack.number((name, r, c), n, table.cells[(r, c)])
    for r in rows:
        if row_names[r] not in attack.index:
            attack.number(row_names[r], sum(value[(r, c)] for c in columns), table.row_totals[r])
        else:
            assert attack.truth[attack.index[row_names[r]]] == sum(value[(r, c)] for c in columns)
        attack.equal({(name, r, c): 1 for c in columns} | {row_names[r]: -1})
    for c in columns:
        if column_names[c] not in attack.index:
            attack.number(column_names[c], sum(value[(r, c)] for r in rows), table.column_totals[c])
        attack.equal({(name, r, c): 1 for r in rows} | {column_names[c]: -1})
    if grand_name not in attack.index:
        attack.number(grand_name, sum(value.values()), table.grand_total)
    else:
        assert attack.truth[attack.index[grand_name]] == sum(value.values())
    attack.equal({row_names[r]: 1 for r in rows} | {grand_name: -1})
    attack.equal({column_names[c]: 1 for c in columns} | {grand_name: -1})
