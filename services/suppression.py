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
and k−1 iff the circulation with that cell pinned is feasible (max-flow with lower bounds; the
network is totally unimodular, so the LP bound and the integer bound agree). Cells that fail get
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

import hashlib
from collections import defaultdict, deque
from collections.abc import Hashable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

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

_INF = 1 << 40


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


def _stable_key(item: Hashable) -> bytes:
    return hashlib.blake2b(repr(item).encode(), digest_size=8).digest()


def _check_k(k: int) -> None:
    if k < MIN_K:
        raise ValueError(f"k must be at least {MIN_K}")


class _Flow:
    """Max-flow (Edmonds–Karp) on a tiny graph: tables here have tens of rows and columns."""

    def __init__(self) -> None:
        self.cap: dict[Hashable, dict[Hashable, int]] = defaultdict(lambda: defaultdict(int))

    def add(self, u: Hashable, v: Hashable, c: int) -> None:
        self.cap[u][v] += c
        self.cap[v][u] += 0

    def run(self, s: Hashable, t: Hashable, need: int) -> int:
        flow = 0
        while flow < need:
            parent: dict[Hashable, Hashable] = {s: s}
            queue = deque([s])
            while queue and t not in parent:
                u = queue.popleft()
                for v, c in self.cap[u].items():
                    if c > 0 and v not in parent:
                        parent[v] = u
                        queue.append(v)
            if t not in parent:
                break
            push, v = need - flow, t
            while v != s:
                u = parent[v]
                push = min(push, self.cap[u][v])
                v = u
            v = t
            while v != s:
                u = parent[v]
                self.cap[u][v] -= push
                self.cap[v][u] += push
                v = u
            flow += push
        return flow


Bounds = tuple[int, int]  # inclusive; _INF for "no upper bound"


def feasible(edges: Iterable[tuple[Hashable, Hashable, int, int]]) -> bool:
    """Is there a circulation with every edge's flow within [low, high]?"""
    graph = _Flow()
    excess: dict[Hashable, int] = defaultdict(int)
    for u, v, low, high in edges:
        if low > high:
            return False
        graph.add(u, v, min(high, _INF) - low)
        excess[v] += low
        excess[u] -= low
    need = 0
    for node, e in excess.items():
        if e > 0:
            graph.add("__source", node, e)
            need += e
        elif e < 0:
            graph.add(node, "__sink", -e)
    return graph.run("__source", "__sink", need) == need


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
        return (0, _INF) if self.reads_hidden(cell) else (0, self.k - 1)

    def margin_bounds(self, margin: tuple[str, Hashable]) -> Bounds:
        if margin in self.unprinted:
            return (0, _INF)
        n = self.margin_value(margin)
        if margin not in self.hidden_margins:
            return (n, n)
        return (0, _INF) if self.open(margin) else (0, self.k - 1)

    def edges(
        self, pin: tuple[str, Hashable, int] | None = None
    ) -> list[tuple[Hashable, Hashable, int, int]]:
        """The circulation: S → row → column → T → S; ``pin`` fixes one cell or margin."""
        edges: list[tuple[Hashable, Hashable, int, int]] = []

        def bounded(kind: str, key: Hashable, b: Bounds) -> Bounds:
            if pin is not None and pin[0] == kind and pin[1] == key:
                return (max(b[0], pin[2]), min(b[1], pin[2]))
            return b

        # Shown cells are constants: fold them into their margins (a much smaller flow).
        row_shown: dict[Hashable, int] = defaultdict(int)
        column_shown: dict[Hashable, int] = defaultdict(int)
        for cell, n in self.value.items():
            if cell in self.hidden:
                b = bounded("cell", cell, self.cell_bounds(cell))
                edges.append((("r", cell[0]), ("c", cell[1]), b[0], b[1]))
            else:
                row_shown[cell[0]] += n
                column_shown[cell[1]] += n

        def less(b: Bounds, n: int) -> Bounds:
            return (max(0, b[0] - n), b[1] - n if b[1] < _INF else _INF)

        for r in self.rows:
            b = less(bounded("row", r, self.margin_bounds(("row", r))), row_shown[r])
            edges.append(("S", ("r", r), b[0], b[1]))
        for c in self.columns:
            b = less(bounded("column", c, self.margin_bounds(("column", c))), column_shown[c])
            edges.append((("c", c), "T", b[0], b[1]))
        b = less(
            bounded("grand", None, self.margin_bounds(("grand", None))), sum(row_shown.values())
        )
        edges.append(("T", "S", b[0], b[1]))
        return edges

    def can_be(self, kind: str, key: Hashable, n: int) -> bool:
        return feasible(self.edges((kind, key, n)))

    def protected(self, kind: str, key: Hashable) -> bool:
        """A hidden small number's feasible range spans at least k values."""
        if kind == "cell":
            assert isinstance(key, tuple)
            true, capped = self.value[key], not self.reads_hidden(key)
        else:
            true, capped = self.margin_value((kind, key)), not self.open((kind, key))
        if capped:  # "fewer than k": the range must be all of 0..k−1
            return self.can_be(kind, key, 0) and self.can_be(kind, key, self.k - 1)
        low, high = 0, true  # the feasible values form an interval around the true one
        while low < high:
            middle = (low + high) // 2
            if self.can_be(kind, key, middle):
                high = middle
            else:
                low = middle + 1
        return self.can_be(kind, key, low + self.k - 1)

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


def _protect(table: _Table, *, fixed_margins: bool) -> bool:
    """Hide complements until every hidden small number is protected; False if impossible.

    Moves, cheapest first: let a small cell near the weak one read "hidden" instead of "fewer than
    k" (the reader loses an upper bound, no number), hide a shown cell in its row or column, any
    other shown cell, then (unless the margins are fixed) a total."""
    known: set[tuple[str, Hashable]] = set()
    while True:
        weak = table.weak(known)
        if weak is None:
            return True
        kind, key = weak

        def near(c: tuple[Hashable, Hashable], kind: str = kind, key: Any = key) -> bool:
            if kind == "cell":
                assert isinstance(key, tuple)
                return c[0] == key[0] or c[1] == key[1]
            return kind == "grand" or c[0 if kind == "row" else 1] == key

        closed = [c for c in table.hidden if not table.reads_hidden(c)]
        free = [c for c in table.value if c not in table.hidden]
        moves: list[tuple[str, Any]] = [
            ("open", c) for c in sorted(filter(near, closed), key=_stable_key)
        ]
        moves += [("hide", c) for c in sorted(filter(near, free), key=_stable_key)]
        moves += [("hide", c) for c in sorted((c for c in free if not near(c)), key=_stable_key)]
        moves += [("open", c) for c in sorted((c for c in closed if not near(c)), key=_stable_key)]
        if not fixed_margins:
            margins = [("row", r) for r in table.rows] + [("column", c) for c in table.columns]
            margins = [*margins, ("grand", None)]
            for m in margins:
                if m in table.unprinted:
                    continue
                if m not in table.hidden_margins:
                    moves.append(("line", m))
                elif not table.open(m):
                    moves.append(("open", m))
        if not moves:
            return False  # the margins shown elsewhere pin it: the caller coarsens

        def apply(move: tuple[str, Any], undo: bool = False) -> None:
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

        for move in moves:
            if move[0] == "line":
                break
            apply(move)
            if table.protected(kind, key):
                break
            apply(move, undo=True)
        else:
            move = moves[0]
        if move[0] == "line" or not table.protected(kind, key):
            # No single move is enough: make the first one and look again.
            apply(moves[0])


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
    _check_k(k)
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
                table.opened_margins.add(margin)
    if not _protect(table, fixed_margins=fixed_margins):
        table.hidden = set(value)  # the fixed margins pin something: show no cell at all
    return _result(table)


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
    _check_k(k)
    return n if n >= k else None


def suppress_line(
    counts: Mapping[Hashable, int], *, k: int, total_shown: bool = True
) -> tuple[dict[Hashable, Shown], Shown]:
    """A one-way breakdown (e.g. respondents by gender) and its total, as they may be shown.

    The total is hidden when no choice of complements can protect the small entries beside it.
    ``total_shown=False``: nothing prints the total, so small entries need no complement."""
    _check_k(k)
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


# --- audience previews (M5) -------------------------------------------------------------------

PREVIEW_STEP = 10


def rounded(n: int, k: int, step: int = PREVIEW_STEP) -> int | None:
    """A count in an audience preview: None ("fewer than k") below ``k``, else the nearest
    multiple of ``step`` (at least ``step``), so two previews cannot be subtracted to one person."""
    _check_k(k)
    if n < k:
        return None
    return max(step, (n + step // 2) // step * step)


class PreviewRefused(Exception):
    """This preview's audience differs from an earlier one by fewer than k people."""


class PreviewGuard:
    """Remembers the audiences each staff member previewed recently (in this process) and refuses a
    preview whose audience differs from one of them by 1 to k−1 people: "every language" against
    "every language but Burmese" would count the one Burmese speaker, even rounded (M5).

    Each preview may show several counts (e.g. opted in / will receive it); each is an audience,
    and each is compared with every audience shown before. Two audiences that both read "fewer
    than k" are not compared (nothing to subtract). State is per process and short-lived
    (``window`` seconds since an audience was last shown, at most ``keep`` audiences per person):
    enough for one console session; several console processes each keep their own.
    """

    def __init__(self, *, window: float = 3600.0, keep: int = 60) -> None:
        self.window, self.keep = window, keep
        self._seen: dict[Hashable, dict[frozenset[int], float]] = {}

    def check(
        self, who: Hashable, audiences: Iterable[Iterable[int]], *, k: int, now: float
    ) -> None:
        _check_k(k)
        sets = list(dict.fromkeys(frozenset(a) for a in audiences))
        seen = self._seen.setdefault(who, {})
        for old in [s for s, at in seen.items() if at < now - self.window]:
            del seen[old]
        for now_set in sets:
            if now_set in seen:
                continue  # shown already (the same page again): nothing new to subtract
            for before in seen:
                if len(before) < k and len(now_set) < k:
                    continue  # both read "fewer than k"
                if 0 < len(before ^ now_set) < k:
                    raise PreviewRefused
        for now_set in sets:  # most recently shown last
            seen.pop(now_set, None)
            seen[now_set] = now
        while len(seen) > self.keep:
            del seen[next(iter(seen))]

    def forget(self) -> None:
        self._seen.clear()


PREVIEWS = PreviewGuard()
