"""One way to open Redis for every part: with timeouts, so a hung Redis fails fast.

redis-py waits forever by default: a Redis stopped with SIGSTOP (or a network that drops packets)
held every handler that touched it, and the webhook kept answering 200 for updates nobody could
handle (reliability review, §4). With these limits a hung Redis is an error within seconds, which
the bot treats as an outage: the update stays stored and is handled when Redis is back.
"""

from __future__ import annotations

from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

# Every call Redis serves here takes microseconds; a second is already an outage.
COMMAND_TIMEOUT = 3.0
CONNECT_TIMEOUT = 2.0


def connect(
    url: str, *, timeout: float = COMMAND_TIMEOUT, connect_timeout: float = CONNECT_TIMEOUT
) -> Redis:
    # One immediate retry: a pooled connection that went stale when Redis restarted fails once
    # and the next one works; more retries would only stretch an outage.
    return Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=connect_timeout,
        retry=Retry(NoBackoff(), 1),
        health_check_interval=30,
    )
