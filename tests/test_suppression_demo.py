"""H5 on real-looking data: every number the results page and its CSV show for a demo wave (all
breakdowns, charts, margins, "Answered", respondents per group) attacked together as one linear
program per wave (DESIGN §4.2). The interval attack must find nothing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bot.storage.surveys import SurveyWave
from services.surveys.definition import QuestionType
from services.surveys.results import DIMENSIONS, WaveResults, wave_results
from tests.lp_attack import Attack, add_table
from workvoice.demo.seed import seed_demo


def attack_wave(found: WaveResults, raw: dict[str, Any], k: int) -> Attack:
    attack = Attack(k)
    attack.number("N", raw["total"], found.respondents)
    for dim in DIMENSIONS:
        counts = {key[0]: n for key, n in raw["by_response"][dim].items()}
        for group, n in counts.items():
            attack.number(("r", dim, group), n, found.respondents_by[dim][group])
        if counts:
            attack.equal({("r", dim, g): 1 for g in counts} | {"N": -1})
    for qr in found.questions:
        q = qr.question
        if qr.counts:
            overall = raw["overall"].get(q.key, {})
            values = q.values()
            for v in values:
                attack.number(("bar", q.key, v), overall.get(v, 0), qr.counts[v])
            ticks = sum(overall.get(v, 0) for v in values)
            multi = q.type == QuestionType.MULTI
            total = ("ticks", q.key) if multi else ("answered", q.key)
            first = next(iter(qr.breakdowns.values()), None)
            shown_total = first.grand_total if multi and first is not None else qr.answered
            attack.number(total, ticks, shown_total)
            attack.equal({("bar", q.key, v): 1 for v in values} | {total: -1})
            if multi:
                people = overall.get("*", 0)
                attack.number(("answered", q.key), people, qr.answered)
                attack.at_most({("answered", q.key): 1, "N": -1})
                for v in values:  # a tick per person at most
                    attack.at_most({("bar", q.key, v): 1, ("answered", q.key): -1})
            else:
                attack.at_most({("answered", q.key): 1, "N": -1})
            for dim, table in qr.breakdowns.items():
                cells = raw["by_dim"][dim].get(q.key, {})
                groups = found.groups[dim]
                add_table(
                    attack,
                    (q.key, dim),
                    cells,
                    table,
                    rows=list(values),
                    columns=list(groups),
                    row_names={v: ("bar", q.key, v) for v in values},
                    grand_name=total,
                )
                if not multi:  # who answered in a group is at most the group
                    for g in groups:
                        attack.at_most({((q.key, dim), "column", g): 1, ("r", dim, g): -1})
        if qr.numbers is not None:
            bins = raw["bins"][q.key]
            for label, n in qr.numbers.bins:
                attack.number(("bin", q.key, label), bins[label], n)
            attack.number(("answered", q.key), sum(bins.values()), qr.numbers.answered)
            attack.equal({("bin", q.key, b): 1 for b in bins} | {("answered", q.key): -1})
            attack.at_most({("answered", q.key): 1, "N": -1})
            mean = qr.numbers.mean
            if mean is not None:  # printed to one decimal: the sum of answers within ±0.05·n
                assert q.min is not None and q.max is not None
                width = (q.max - q.min) / len(bins)
                total = ("sum", q.key)
                attack.unshown(total, 0)  # its true value is not needed by the bounds
                attack.truth[attack.index[total]] = round(mean * sum(bins.values()), 6)
                attack.at_most({total: 1, ("answered", q.key): -(round(mean, 1) + 0.05)})
                attack.at_most({total: -1, ("answered", q.key): round(mean, 1) - 0.05})
                low = {label: q.min + i * width for i, label in enumerate(bins)}
                attack.at_most({total: -1} | {("bin", q.key, b): low[b] for b in bins})
                attack.at_most({total: 1} | {("bin", q.key, b): -(low[b] + width) for b in bins})
    return attack


async def test_h5_rule2_demo_waves_resist_the_interval_attack(console) -> None:  # type: ignore[no-untyped-def]
    ctx = console.ctx
    await seed_demo(ctx)
    k = 5
    async with ctx.sessions() as s:
        waves = (await s.scalars(select(SurveyWave).order_by(SurveyWave.id))).all()
        assert len(waves) >= 2
        for wave in waves:
            raw: dict[str, Any] = {}
            found = await wave_results(s, wave, k=k, raw=raw)
            attack = attack_wave(found, raw, k)
            assert len(attack.hidden) > 20  # the demo has small groups to protect
            assert attack.weak() == [], wave.name
