"""Small-group suppression as protection intervals, for every number shown or exported to staff
(DESIGN §4.2).

**What a hidden number means.** Every count below ``k`` reads "fewer than k" and means 0..k−1:
zeros included, everywhere. A printed 0 would tell that the hidden cells beside it are at least 1
(the audit's H5), so no small number, zero or not, is ever printed. A count of ``k`` or more that
is hidden only to protect a small one reads "hidden" (a complement: the reader may know it is at
least ``k``; a cell inside a line whose total is hidden as a complement may be anything).

**The guarantee.** Given everything a table shows (cells, row and column totals, grand total) and
those bounds, each hidden count below ``k`` can still be anything from 0 to k−1: the attacker's
best linear-programming bounds span ``k`` values. ``suppress`` checks that exactly: the table with
its margins is a flow network (rows and columns are nodes, hidden cells and hidden totals are
edges bounded by what their label says, shown numbers are fixed), and a hidden cell can reach 0
and k−1 iff the circulation with that cell pinned is feasible: a few augmenting paths around the
true counts (``services.suppression_network``; the network is totally unimodular, so the LP
bound and the integer bound agree). Cells that fail get
complements until they pass; when no cell is left to hide, a total is hidden instead.

**Stability over time (M4).** Complements are chosen in an order fixed by the cell's key (a
hash), not by its current value, and the first one in that order that protects the cell wins,
so as a wave's counts grow the same cells tend to stay hidden instead of flipping with the data.
Results are also published from closed batches of at least ``k`` answers (surveys), which is what
makes two downloads around one answer differ by more than that answer.

**Lines whose total is hidden** show none of their cells: a small group's cells are all small,
and a complement line's cells must stay free to absorb what a neighbouring small line may hold
(which is also what keeps several tables sharing a margin consistent: moving people between two
hidden lines is always possible in each of them).
"""

from __future__ import annotations

import functools
import hashlib
import itertools
from collections.abc import Hashable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from services.suppression_network import INF, Bounds, Cut, Item, Node, Residual, inside

MIN_K = 3


class Hidden:
    """A complement: a count of at least ``k`` hidden so that a small one beside it stays hidden."""

    hidden: Final = True  # lets templates tell it from a number: ``value.hidden is defined``

    def __repr__(self) -> str:
        return "HIDDEN"

    def __reduce__(self) -> str:
        return "HIDDEN"


HIDDEN: Final = Hidden()

# What a caller may print: a number, None ("fewer than k": 0..k−1) or HIDDEN (a complement).
Shown = int | None | Hidden


@dataclass(frozen=True)
class SuppressedTable:
    """What may be shown. ``None`` reads "fewer than k"; ``HIDDEN`` reads "hidden"."""

    cells: dict[tuple[Hashable, Hashable], Shown]
    row_totals: dict[Hashable, Shown]
    column_totals: dict[Hashable, Shown]
    grand_total: Shown
    # Lines whose total is hidden as a complement: their cells read "hidden" whatever their size.
    open_lines: frozenset[tuple[str, Hashable]] = field(default_factory=frozenset)

    def shown(self, row: Hashable, column: Hashable) -> Shown:
        return self.cells.get((row, column))


@functools.lru_cache(maxsize=1 << 16)
def _stable_key(item: Hashable) -> bytes:
    return hashlib.blake2b(repr(item).encode(), digest_size=8).digest()


def check_k(k: int) -> None:
    if k < MIN_K:
        raise ValueError(f"k must be at least {MIN_K}")


@dataclass
class _Table:
    """A table with margins as the attacker sees it: shown numbers and what the labels say."""

    rows: list[Hashable]
    columns: list[Hashable]
    value: dict[tuple[Hashable, Hashable], int]
    k: int
    row_total: dict[Hashable, int]
    column_total: dict[Hashable, int]
    grand: int
    # Hidden cells, and hidden margins ("row", r) / ("column", c) / ("grand", None).
    hidden: set[tuple[Hashable, Hashable]] = field(default_factory=set)
    hidden_margins: set[tuple[str, Hashable]] = field(default_factory=set)
    # Hidden small numbers that read "hidden" rather than "fewer than k" (no upper bound).
    opened: set[tuple[Hashable, Hashable]] = field(default_factory=set)
    opened_margins: set[tuple[str, Hashable]] = field(default_factory=set)
    # Margins that are not printed at all (a one-way line prints no per-entry total).
    unprinted: set[tuple[str, Hashable]] = field(default_factory=set)
    residual: Residual = field(default_factory=Residual)
    # After ``protected`` said no: cuts with no room, one of which a move must open to change
    # the answer (None: not known).
    why: list[Cut] | None = None

    def __post_init__(self) -> None:
        for item in self.items():
            self.sync(item)

    def margin_value(self, margin: tuple[str, Hashable]) -> int:
        kind, key = margin
        if kind == "row":
            return self.row_total[key]
        if kind == "column":
            return self.column_total[key]
        return self.grand

    def open(self, margin: tuple[str, Hashable]) -> bool:
        """A hidden line that reads "hidden": its cells read "hidden" too."""
        return margin in self.hidden_margins and (
            self.margin_value(margin) >= self.k or margin in self.opened_margins
        )

    def reads_hidden(self, cell: tuple[Hashable, Hashable]) -> bool:
        return (
            self.value[cell] >= self.k
            or cell in self.opened
            or self.open(("row", cell[0]))
            or self.open(("column", cell[1]))
        )

    def cell_bounds(self, cell: tuple[Hashable, Hashable]) -> Bounds:
        n = self.value[cell]
        if cell not in self.hidden:
            return (n, n)
        return (0, INF) if self.reads_hidden(cell) else (0, self.k - 1)

    def margin_bounds(self, margin: tuple[str, Hashable]) -> Bounds:
        if margin in self.unprinted:
            return (0, INF)
        n = self.margin_value(margin)
        if margin not in self.hidden_margins:
            return (n, n)
        return (0, INF) if self.open(margin) else (0, self.k - 1)

    def items(self) -> list[Item]:
        found: list[Item] = [("cell", c) for c in self.value]
        found += [("row", r) for r in self.rows] + [("column", c) for c in self.columns]
        return [*found, ("grand", None)]

    def line(self, margin: tuple[str, Hashable]) -> list[Item]:
        """A margin and the cells it adds up (what changes when the line is hidden or opened)."""
        kind, key = margin
        if kind == "row":
            return [margin, *[("cell", (key, c)) for c in self.columns]]
        if kind == "column":
            return [margin, *[("cell", (r, key)) for r in self.rows]]
        return [margin]

    def edge(self, item: Item) -> tuple[Node, Node]:
        kind, key = item
        if kind == "cell":
            assert isinstance(key, tuple)
            return ("r", key[0]), ("c", key[1])
        if kind == "row":
            return "S", ("r", key)
        if kind == "column":
            return ("c", key), "T"
        return "T", "S"

    def flow(self, item: Item) -> int:
        kind, key = item
        if kind == "cell":
            assert isinstance(key, tuple)
            return self.value[key]
        return self.margin_value(item)

    def bounds(self, item: Item) -> Bounds:
        kind, key = item
        if kind == "cell":
            assert isinstance(key, tuple)
            return self.cell_bounds(key)
        return self.margin_bounds(item)

    def sync(self, *items: Item) -> None:
        """Bring the residual graph in line after the labels of ``items`` changed."""
        for item in items:
            self.residual.set(*self.edge(item), self.flow(item), self.bounds(item))

    def capacities(self, edges: list[tuple[Node, Node]]) -> dict[tuple[Node, Node], int]:
        """Residual capacity both ways along ``edges``."""
        cap = self.residual.cap
        found = {}
        for u, v in edges:
            found[(u, v)] = cap[u].get(v, 0)
            found[(v, u)] = cap[v].get(u, 0)
        return found

    def adds_room(self, before: dict[tuple[Node, Node], int], cut: Cut) -> bool:
        """Did a change add capacity leaving ``cut`` (the only kind that can turn the answer of
        the question that found it)?"""
        cap = self.residual.cap
        return any(
            cap[u].get(v, 0) > n and inside(cut, u) and not inside(cut, v)
            for (u, v), n in before.items()
        )

    def capped(self, item: Item) -> bool:
        """Does this hidden number read "fewer than k" (0..k−1), not "hidden"?"""
        kind, key = item
        if kind == "cell":
            assert isinstance(key, tuple)
            return not self.reads_hidden(key)
        return not self.open(item)

    def protected(self, kind: str, key: Hashable) -> bool:
        """A hidden small number's feasible range spans at least k values: it can fall by
        ``down`` and rise by ``up`` (flows around it, ``Residual.flow``). When it cannot,
        ``why`` lists cuts of which a move must open at least one to change that."""
        item: Item = (kind, key)
        u, v = self.edge(item)
        true, residual = self.flow(item), self.residual
        down = residual.flow(u, v, true, (u, v))  # to 0 at most (every bound here starts at 0)
        low_cut = residual.cut
        if self.capped(item):  # "fewer than k": the range must be all of 0..k−1
            if down < true:
                self.why = [low_cut] if low_cut is not None else None
                return False
            rise = self.k - 1 - true
        else:  # "hidden": any k values around the true one
            rise = self.k - 1 - down
        if rise <= 0 or residual.flow(v, u, rise, (u, v)) == rise:
            return True
        cuts = [residual.cut, low_cut] if down < true and not self.capped(item) else [residual.cut]
        found = [cut for cut in cuts if cut is not None]
        self.why = found if len(found) == len(cuts) else None
        return False

    def weak(self, known: set[tuple[str, Hashable]]) -> tuple[str, Hashable] | None:
        """The first hidden number below k whose range is narrower than k values.

        Every move only loosens what the reader knows, so a number once protected stays so:
        ``known`` remembers those and they are not checked again."""
        items: list[tuple[str, Hashable]] = [
            ("cell", c) for c in self.hidden if self.value[c] < self.k
        ]
        items += [m for m in self.hidden_margins - self.unprinted if self.margin_value(m) < self.k]
        for item in sorted(items, key=_stable_key):
            if item in known:
                continue
            if not self.protected(*item):
                return item
            known.add(item)
        return None

    def hide_line(self, margin: tuple[str, Hashable]) -> None:
        self.hidden_margins.add(margin)
        kind, key = margin
        if kind == "row":
            self.hidden |= {(key, c) for c in self.columns}
        elif kind == "column":
            self.hidden |= {(r, key) for r in self.rows}
        self.sync(*self.line(margin))

    def open_margin(self, margin: tuple[str, Hashable]) -> None:
        self.opened_margins.add(margin)
        self.sync(*self.line(margin))


Move = tuple[str, Any]  # ("open" | "hide", cell or margin) or ("line", margin)


def _moves(table: _Table, weak: Item, order: list[Any], *, fixed_margins: bool) -> Iterator[Move]:
    """What could protect ``weak``, cheapest first: let a small cell near it read "hidden"
    instead of "fewer than k" (the reader loses an upper bound, no number), hide a shown cell
    in its row or column, any other shown cell, open a small cell elsewhere, then (unless the
    margins are fixed) a total. Each group in ``order`` (the cells by their stable key), made
    as it is needed: the first few moves usually do."""
    kind, key = weak

    def near(c: tuple[Hashable, Hashable]) -> bool:
        if kind == "cell":
            assert isinstance(key, tuple)
            return c[0] == key[0] or c[1] == key[1]
        return kind == "grand" or c[0 if kind == "row" else 1] == key

    def closed(c: tuple[Hashable, Hashable]) -> bool:
        return c in table.hidden and not table.reads_hidden(c)

    yield from (("open", c) for c in order if closed(c) and near(c))
    yield from (("hide", c) for c in order if c not in table.hidden and near(c))
    yield from (("hide", c) for c in order if c not in table.hidden and not near(c))
    yield from (("open", c) for c in order if closed(c) and not near(c))
    if fixed_margins:
        return
    margins = [("row", r) for r in table.rows] + [("column", c) for c in table.columns]
    for m in [*margins, ("grand", None)]:
        if m in table.unprinted:
            continue
        if m not in table.hidden_margins:
            yield ("line", m)
        elif not table.open(m):
            yield ("open", m)


def _protect(table: _Table, *, fixed_margins: bool) -> bool:
    """Hide complements (``_moves``) until every hidden small number is protected; False if
    impossible."""
    known: set[tuple[str, Hashable]] = set()
    order = sorted(table.value, key=_stable_key)

    def changed_by(move: Move) -> list[Item]:
        item = move[1]
        return [("cell", item)] if item in table.value else table.line(item)

    def apply(move: Move, undo: bool = False) -> None:
        what, item = move
        if what == "line":
            table.hide_line(item)  # never undone (only tried last)
            return
        if what == "open":
            target: set[Any] = table.opened if item in table.value else table.opened_margins
        else:
            target = table.hidden
        if undo:
            target.discard(item)
        else:
            target.add(item)
        table.sync(*changed_by(move))

    def could_help(move: Move, cut: Cut) -> bool:
        """Without making it: can this move add room leaving ``cut``? A cell's move loosens only
        its own edge: opening adds room forward (row → factory), hiding a shown cell forward and,
        unless it is 0, backward. Moves on a total change a whole line: they are made to see."""
        what, item = move
        if item not in table.value:
            return True
        u, v = table.edge(("cell", item))
        if inside(cut, u) and not inside(cut, v):
            return True
        return what == "hide" and table.value[item] > 0 and inside(cut, v) and not inside(cut, u)

    while True:
        weak = table.weak(known)
        if weak is None:
            return True
        kind, key = weak
        # Trying a move costs a few searches; the moves are made lazily, in the base state (each
        # tried move is undone before the next is made).
        moves = _moves(table, weak, order, fixed_margins=fixed_margins)
        first = next(moves, None)
        if first is None:
            return False  # the margins shown elsewhere pin it: the caller coarsens
        # What keeps the number pinned: clauses of cuts with no room, each naming cuts of which
        # a move must open at least one (max-flow = min-cut). The first comes from the question
        # the number failed now; for a "fewer than k" number, each tried move that fails adds
        # the cut that stopped it (a move only loosens, so a cut with no room after it had none
        # before). A move that opens no cut of some clause cannot help and is not tried.
        table.protected(kind, key)
        clauses = [table.why] if table.why else []
        learn = bool(clauses) and table.capped(weak)
        own = table.edge(("cell", key) if kind == "cell" else weak)

        move = first
        for move in itertools.chain([first], moves):
            if move[0] == "line":
                break
            changed = [table.edge(i) for i in changed_by(move)]
            if own not in changed and not all(
                any(could_help(move, cut) for cut in clause) for clause in clauses
            ):
                continue
            before = table.capacities(changed)
            apply(move)
            if own in changed or all(
                any(table.adds_room(before, cut) for cut in clause) for clause in clauses
            ):
                if table.protected(kind, key):
                    break
                if learn and table.why:
                    clauses.append(table.why)
            apply(move, undo=True)
        else:
            move = first
        if move[0] == "line" or not table.protected(kind, key):
            # No single move is enough: make the first one and look again.
            apply(first)


def suppress(
    counts: Mapping[tuple[Hashable, Hashable], int],
    *,
    k: int,
    rows: list[Hashable] | None = None,
    columns: list[Hashable] | None = None,
    row_totals: Mapping[Hashable, Shown] | None = None,
    column_totals: Mapping[Hashable, Shown] | None = None,
    grand_total: Shown | Literal["compute"] = "compute",
    fixed_margins: bool = False,
) -> SuppressedTable:
    """Suppress a two-way table of counts (rows × columns) with its margins.

    Missing cells count as zero. ``row_totals`` / ``column_totals`` / ``grand_total`` give margins
    as they are already shown elsewhere (a chart of the same answers, respondents per group), so
    the tables stay consistent: a margin not an int there is hidden here with the same label.
    ``fixed_margins``: protection may only hide cells, never a margin (when even hiding every cell
    cannot protect a number, no cell is shown at all).
    """
    check_k(k)
    rows = rows if rows is not None else sorted({r for r, _ in counts}, key=str)
    columns = columns if columns is not None else sorted({c for _, c in counts}, key=str)
    value = {(r, c): int(counts.get((r, c), 0)) for r in rows for c in columns}
    table = _Table(
        rows=rows,
        columns=columns,
        value=value,
        k=k,
        row_total={r: sum(value[(r, c)] for c in columns) for r in rows},
        column_total={c: sum(value[(r, c)] for r in rows) for c in columns},
        grand=sum(value.values()),
        hidden={cell for cell, n in value.items() if n < k},
    )
    given = [("row", r, (row_totals or {}).get(r, 0)) for r in rows]
    given += [("column", c, (column_totals or {}).get(c, 0)) for c in columns]
    given.append(("grand", None, 0 if grand_total == "compute" else grand_total))
    for kind, key, label in given:
        margin = (kind, key)
        if table.margin_value(margin) < k or not isinstance(label, int):
            table.hide_line(margin)
            if isinstance(label, Hidden):
                table.open_margin(margin)
    if not _protect(table, fixed_margins=fixed_margins):
        table.hidden = set(value)  # the fixed margins pin something: show no cell at all
        table.sync(*table.items())
    return _result(table)


@functools.lru_cache(maxsize=2048)
def suppress_cached(
    cells: tuple[tuple[Hashable, Hashable, int], ...],
    rows: tuple[Hashable, ...],
    columns: tuple[Hashable, ...],
    row_totals: tuple[Shown, ...],
    column_totals: tuple[Shown, ...],
    grand_total: Shown,
    k: int,
) -> SuppressedTable:
    """``suppress`` with fixed margins, remembered by its inputs: protecting a wide table takes
    up to a second, and the same counts come back (a page and its CSV, two staff looking at one
    published batch, landing pages between two new cases). ``cells``: (row, column, count)."""
    return suppress(
        {(r, c): n for r, c, n in cells},
        k=k,
        rows=list(rows),
        columns=list(columns),
        row_totals=dict(zip(rows, row_totals, strict=True)),
        column_totals=dict(zip(columns, column_totals, strict=True)),
        grand_total=grand_total,
        fixed_margins=True,
    )


def _result(table: _Table) -> SuppressedTable:
    def margin(m: tuple[str, Hashable]) -> Shown:
        if m not in table.hidden_margins:
            return table.margin_value(m)
        return HIDDEN if table.open(m) else None

    return SuppressedTable(
        cells={
            c: n if c not in table.hidden else HIDDEN if table.reads_hidden(c) else None
            for c, n in table.value.items()
        },
        row_totals={r: margin(("row", r)) for r in table.rows},
        column_totals={c: margin(("column", c)) for c in table.columns},
        grand_total=margin(("grand", None)),
        open_lines=frozenset(m for m in table.hidden_margins if m[0] != "grand" and table.open(m)),
    )


def shown(n: int, k: int) -> int | None:
    """A single count as staff may see it: None ("fewer than k", 0 included) below k."""
    check_k(k)
    return n if n >= k else None


def suppress_line(
    counts: Mapping[Hashable, int], *, k: int, total_shown: bool = True
) -> tuple[dict[Hashable, Shown], Shown]:
    """A one-way breakdown (e.g. respondents by gender) and its total, as they may be shown.

    The total is hidden when no choice of complements can protect the small entries beside it.
    ``total_shown=False``: nothing prints the total, so small entries need no complement."""
    check_k(k)
    keys = list(counts)
    value: dict[tuple[Hashable, Hashable], int] = {(key, "n"): int(n) for key, n in counts.items()}
    grand = sum(value.values())

    def attempt(total_hidden: bool) -> tuple[_Table, bool]:
        table = _Table(
            rows=keys,
            columns=["n"],
            value=value,
            k=k,
            row_total={key: value[(key, "n")] for key in keys},
            column_total={"n": grand},
            grand=grand,
            hidden={cell for cell, n in value.items() if n < k},
            # Each entry is its own row; no per-row total is printed beside it.
            unprinted={("row", key) for key in keys},
        )
        if not total_shown:
            table.unprinted |= {("column", "n"), ("grand", None)}
        elif total_hidden or grand < k:
            table.hidden_margins |= {("column", "n"), ("grand", None)}
            if total_hidden:  # it reads "hidden": no upper bound to reason from
                table.opened_margins |= {("column", "n"), ("grand", None)}
        table.sync(*table.items())
        return table, _protect(table, fixed_margins=True)

    table, ok = attempt(False)
    if not ok:
        table, ok = attempt(True)
    result = _result(table)
    entries = {key: result.cells[(key, "n")] for key in keys}
    return entries, result.grand_total if total_shown else (grand if grand >= k else None)


def suppress_counts(
    counts: Mapping[Hashable, int], *, k: int, total_shown: bool = True
) -> dict[Hashable, Shown]:
    """The entries of ``suppress_line`` (for callers whose total is shown through it or not)."""
    return suppress_line(counts, k=k, total_shown=total_shown)[0]
