"""Audience previews (M5): counts rounded so that two previews cannot be subtracted to one
person, and a guard that refuses a preview whose audience differs from a recent one by fewer
than k people."""

from __future__ import annotations

from collections.abc import Hashable, Iterable

from services.suppression import check_k

PREVIEW_STEP = 10


def rounded(n: int, k: int, step: int = PREVIEW_STEP) -> int | None:
    """A count in an audience preview: None ("fewer than k") below ``k``, else the nearest
    multiple of ``step`` (at least ``step``), so two previews cannot be subtracted to one person."""
    check_k(k)
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
        check_k(k)
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
