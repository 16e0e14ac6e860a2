"""Small-group suppression of one question broken down by factory (the results page's widest
table, issue 17: "readable with 500 factories").

    .venv/bin/python -m benchmarks.factory_breakdown

For each shape, a five-answer question over N factories whose respondents are drawn uniformly
from a range (many small factories is the hard case: every small cell needs protecting against
the chart and the respondents per factory printed beside it), suppressed as the results page
does (``services.surveys.results._breakdown``: the chart and the respondents line first, then
the table with fixed margins). Prints seconds per table, median of three seeds, and how many
cells end up hidden. No database: this is the suppression engine alone.
"""

from __future__ import annotations

import random
import statistics
import time

from services.suppression import suppress_cached, suppress_line
from services.surveys.results import _breakdown

K = 5
ANSWERS = ["1", "2", "3", "4", "5"]
SHAPES = [  # factories, respondents per factory (low, high)
    (55, (1, 8)),
    (200, (1, 60)),
    (500, (1, 60)),
    (500, (5, 100)),
    (500, (20, 300)),
    (1600, (20, 300)),
]


def one_table(factories: int, low: int, high: int, seed: int) -> tuple[float, int]:
    rng = random.Random(seed)
    cells: dict[tuple[str, str], int] = {}
    groups = [f"F{i:04d}" for i in range(factories)]
    for group in groups:
        for _ in range(rng.randint(low, high)):
            # Answers lean to the middle of the scale, as satisfaction answers do.
            answer = rng.choices(ANSWERS, weights=[1, 2, 4, 3, 1])[0]
            cells[(answer, group)] = cells.get((answer, group), 0) + 1
    chart, total = suppress_line(
        {a: sum(n for (b, _g), n in cells.items() if b == a) for a in ANSWERS}, k=K
    )
    people, _people_total = suppress_line(
        {g: sum(cells.get((a, g), 0) for a in ANSWERS) for g in groups}, k=K
    )
    suppress_cached.cache_clear()
    started = time.perf_counter()
    table = _breakdown(cells, list(ANSWERS), groups, chart, total, people, K)
    elapsed = time.perf_counter() - started
    return elapsed, sum(1 for n in table.cells.values() if not isinstance(n, int))


def main() -> None:
    print("| factories | respondents each | cells | hidden cells | seconds (median of 3) |")
    print("|---|---|---|---|---|")
    for factories, (low, high) in SHAPES:
        runs = [one_table(factories, low, high, seed) for seed in (1, 2, 3)]
        seconds = statistics.median(r[0] for r in runs)
        hidden = statistics.median(r[1] for r in runs)
        print(
            f"| {factories:,} | {low}–{high} | {factories * len(ANSWERS):,} | {hidden:,.0f} "
            f"| {seconds:.2f} |",
            flush=True,
        )


if __name__ == "__main__":
    main()
