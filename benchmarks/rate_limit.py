"""The shared send budget: two replicas pacing through one Redis stay under the configured rate.

    .venv/bin/python -m benchmarks.rate_limit [--seconds 20] [--per-second 25] [--replicas 2]
                                              [--redis redis://127.0.0.1:6379/0]

Each replica is its own process with its own Redis client (``RedisRateLimiter``, wall clock, real
sleeps), sending to a new chat each time as fast as the limiter lets it for ``--seconds`` of real
time, all starting at the same instant. Three runs:

1. paced, shared: the combined rate against the configured one, the most sends in any 1 s
   window (what Telegram counts), and the round trip of one reservation (clock read to sleep);
2. paced, each replica with its own in-process ``RateLimiter`` (how it was): the rate doubles;
3. flat out, shared, with a rate no one reaches: what one reservation costs when nothing waits
   (client round trip per replica, and Redis's own time per script call from INFO commandstats).

Keys live under a fresh prefix and expire by themselves within seconds.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from itertools import pairwise
from multiprocessing import get_context
from typing import Any

from redis.asyncio import Redis

from bot.ratelimit import RateLimiter, RedisRateLimiter, SendLimiter


class _Timed:
    """Clock and sleep hooks that time the Redis round trip between them (paced runs)."""

    def __init__(self) -> None:
        self.asked = 0.0
        self.round_trips: list[float] = []

    def clock(self) -> float:
        self.asked = time.perf_counter()
        return time.time()

    async def sleep(self, seconds: float) -> None:
        self.round_trips.append(time.perf_counter() - self.asked)
        await asyncio.sleep(seconds)


async def _replica(
    index: int,
    replicas: int,
    mode: str,
    url: str,
    prefix: str,
    per_second: float,
    start: float,
    seconds: float,
) -> dict[str, Any]:
    timed = _Timed()
    limiter: SendLimiter
    if mode == "memory":
        limiter = RateLimiter(per_second, clock=time.time)
    elif mode == "paced":
        limiter = RedisRateLimiter.from_url(
            url, prefix=prefix, per_second=per_second, clock=timed.clock, sleep=timed.sleep
        )
    else:  # flat out: no slot is ever in the future, so each wait is one script call
        limiter = RedisRateLimiter.from_url(url, prefix=prefix, per_second=1e9, per_chat_interval=0)
    await limiter.wait(-1 - index)  # connect and load the script before the clock starts
    await asyncio.sleep(max(0.0, start - time.time()))
    sent: list[float] = []
    calls: list[float] = []
    chat = index
    end = start + seconds
    while time.time() < end:
        began = time.perf_counter()
        await limiter.wait(chat)
        calls.append(time.perf_counter() - began)
        sent.append(time.time())
        chat += replicas  # a new chat each time: only the global pace holds a send back
    await limiter.close()
    return {
        "sent": [t for t in sent if t < end],
        "round_trips": timed.round_trips if mode == "paced" else calls,
    }


def _run_replica(*args: Any) -> dict[str, Any]:
    return asyncio.run(_replica(*args))


def _most_in_one_second(times: list[float]) -> int:
    most, first = 0, 0
    for last, t in enumerate(times):
        while t - times[first] >= 1.0:
            first += 1
        most = max(most, last - first + 1)
    return most


async def _script_stats(url: str) -> tuple[int, int]:
    redis = Redis.from_url(url)
    try:
        stats = await redis.info("commandstats")
    finally:
        await redis.aclose()
    evalsha = stats.get("cmdstat_evalsha", {})
    return int(evalsha.get("calls", 0)), int(evalsha.get("usec", 0))


def _us(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1e6


async def run(mode: str, args: argparse.Namespace) -> None:
    prefix = f"bench:rate:{uuid.uuid4().hex[:8]}"
    start = time.time() + 3.0  # time for the processes to start and import
    before = await _script_stats(args.redis)
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(args.replicas, mp_context=get_context("spawn")) as pool:
        results = await asyncio.gather(
            *(
                loop.run_in_executor(
                    pool,
                    _run_replica,
                    i,
                    args.replicas,
                    mode,
                    args.redis,
                    prefix,
                    args.per_second,
                    start,
                    args.seconds,
                )
                for i in range(args.replicas)
            )
        )
    after = await _script_stats(args.redis)
    sent = sorted(t for r in results for t in r["sent"])
    shares = " / ".join(str(len(r["sent"])) for r in results)
    trips = [t for r in results for t in r["round_trips"]]
    rate = len(sent) / args.seconds
    if mode == "flat":
        calls, usec = after[0] - before[0], after[1] - before[1]
        print(
            f"flat out, shared: {rate:,.0f} reservations/s over {args.replicas} replicas "
            f"({shares}); client round trip p50 {_us(trips, 0.5):.0f} µs, "
            f"p99 {_us(trips, 0.99):.0f} µs; Redis time per script call "
            f"{usec / max(calls, 1):.1f} µs"
        )
        return
    gaps = [b - a for a, b in pairwise(sent)]
    label = "shared through Redis" if mode == "paced" else "in process, one limiter each"
    line = (
        f"paced, {label}: {rate:.2f} sends/s combined (configured {args.per_second:g}/s; "
        f"replicas {shares}); most in any 1 s: {_most_in_one_second(sent)}; "
        f"smallest gap {min(gaps) * 1e3:.1f} ms, median gap {statistics.median(gaps) * 1e3:.1f} ms"
    )
    if mode == "paced":
        line += (
            f"; reservation round trip p50 {_us(trips, 0.5):.0f} µs, p99 {_us(trips, 0.99):.0f} µs"
        )
    print(line)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--per-second", type=float, default=25.0)
    parser.add_argument("--replicas", type=int, default=2)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args()
    print(f"{args.replicas} replicas (processes), {args.seconds:g} s each run")
    for mode in ("paced", "memory", "flat"):
        await run(mode, args)


if __name__ == "__main__":
    asyncio.run(main())
