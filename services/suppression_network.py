"""The attacker's view of a suppressed table as a flow network (``services.suppression``).

A table with its margins is a circulation S → row → column → T → S: cells are the row → column
edges, row and column totals the S → row and column → T edges, the grand total T → S, each edge
bounded by what its label tells the reader (a shown number fixes it, "fewer than k" is 0..k−1,
"hidden" is anything from 0). The true counts are one circulation within those bounds; what else
a number could be is what the residual graph around them lets it become.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Hashable

INF = 1 << 40  # "no upper bound"

Bounds = tuple[int, int]  # inclusive; INF for "no upper bound"
Item = tuple[str, Hashable]  # ("cell", (row, column)), ("row", r), ("column", c), ("grand", None)
Node = Hashable


class Residual:
    """The table as a circulation S → row → column → T → S whose flows are the true counts (they
    satisfy every bound the reader knows), kept as residual capacities: how far each edge's flow
    may rise (forward) or fall (backward) within its bounds.

    How far a number can move is then a small question: changing one edge's flow by d needs d
    units around a cycle through it, i.e. a flow of d from one end of the edge to the other in
    the residual graph without that edge (flow decomposition; the network is totally
    unimodular, so integer and LP answers agree). d is below k for the numbers checked, so each
    question costs at most k augmenting paths, not a circulation from scratch."""

    def __init__(self) -> None:
        self.cap: dict[Node, dict[Node, int]] = defaultdict(dict)
        # Where each node can still send flow: the search below takes set differences of these
        # in C instead of looping over a row's hundreds of cells in Python.
        self.out: dict[Node, set[Node]] = defaultdict(set)
        self.into: dict[Node, set[Node]] = defaultdict(set)
        # After a question answered no by the search: the nodes the source could still reach.
        # No capacity leaves them, so a change that adds none from them outward cannot turn
        # that answer (max-flow = min-cut), which lets the caller skip trying it.
        self.cut: Cut | None = None

    def _put(self, u: Node, v: Node, c: int) -> None:
        self.cap[u][v] = c
        if c > 0:
            self.out[u].add(v)
            self.into[v].add(u)
        else:
            self.out[u].discard(v)
            self.into[v].discard(u)

    def set(self, u: Node, v: Node, flow: int, bounds: Bounds) -> None:
        low, high = bounds
        self._put(u, v, INF if high >= INF else high - flow)
        self._put(v, u, flow - low)

    def _search(self, source: Node, target: Node, skip: tuple[Node, Node]) -> list[Node] | None:
        """A shortest path with room from ``source`` to ``target`` without ``skip``, searched
        from both ends, the smaller frontier first: a row reaches hundreds of factories in one
        step, a factory only its few answers, so the two searches meet after a handful of set
        operations. None when there is none (and ``cut`` then holds the source's side)."""
        ahead: dict[Node, Node] = {source: source}
        behind: dict[Node, Node] = {target: target}
        front, back = [source], [target]
        while front and back:
            forward = len(front) <= len(back)
            seen, links = (ahead, self.out) if forward else (behind, self.into)
            following: list[Node] = []
            for u in front if forward else back:
                reach = links[u].difference(seen)
                if u in skip:
                    reach.discard(skip[1] if u == skip[0] else skip[0])
                for v in reach:
                    seen[v] = u
                    if v in (behind if forward else ahead):
                        return self._join(ahead, behind, v)
                following.extend(reach)
            if forward:
                front = following
            else:
                back = following
        # Nothing leaves the nodes the source reaches, and nothing enters those that reach the
        # target from outside them: either side is a cut of capacity zero.
        self.cut = (frozenset(ahead), False) if not front else (frozenset(behind), True)
        return None

    @staticmethod
    def _join(ahead: dict[Node, Node], behind: dict[Node, Node], meet: Node) -> list[Node]:
        path = [meet]
        while ahead[path[0]] != path[0]:
            path.insert(0, ahead[path[0]])
        while behind[path[-1]] != path[-1]:
            path.append(behind[path[-1]])
        return path

    def flow(self, source: Node, target: Node, limit: int, skip: tuple[Node, Node]) -> int:
        """How many units, up to ``limit``, can go from ``source`` to ``target`` without the edge
        ``skip``. Below ``limit``: ``cut`` holds a cut with no room left. Changes nothing."""
        changed: list[tuple[Node, Node, int]] = []
        sent = 0
        self.cut = None
        try:
            while sent < limit:
                found = self._search(source, target, skip)
                if found is None:
                    break
                steps = list(itertools.pairwise(found))
                push = min(limit - sent, *(self.cap[u][v] for u, v in steps))
                for u, v in steps:
                    changed.append((u, v, self.cap[u][v]))
                    changed.append((v, u, self.cap[v][u]))
                    self._put(u, v, self.cap[u][v] - push)
                    self._put(v, u, self.cap[v][u] + push)
                sent += push
            return sent
        finally:
            for u, v, c in reversed(changed):  # the question changes nothing
                self._put(u, v, c)


Cut = tuple[frozenset[Node], bool]  # the source's side: these nodes, or (True) all but these


def inside(cut: Cut, node: Node) -> bool:
    nodes, complement = cut
    return (node not in nodes) if complement else (node in nodes)
