"""Sound files for the audio tests, made with ffmpeg's own signal generator (no fixtures on disk),
and a clip stored as staff would store it."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.storage.audio import AudioClip
from bot.storage.db import transaction
from services.audio import clips, media
from services.scope import Scope

needs_ffmpeg = pytest.mark.skipif(
    not media.tools_available(),
    reason="ffmpeg/ffprobe not installed (Debian package ffmpeg; scripts/test installs it)",
)


def tone(seconds: float, fmt: str = "m4a", *, hz: int = 440) -> bytes:
    """A sine tone of ``seconds`` as a phone would send it: m4a (AAC), mp3, ogg (Opus), wav;
    "png" makes a picture instead (not sound)."""
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder, f"made.{fmt}")
        source = ["-f", "lavfi", "-i", f"sine=frequency={hz}:duration={seconds}"]
        if fmt == "png":
            source = ["-f", "lavfi", "-i", "color=c=red:s=32x32", "-frames:v", "1"]
        codec = {"ogg": ["-c:a", "libopus"], "m4a": ["-c:a", "aac"]}.get(fmt, [])
        subprocess.run(
            ["ffmpeg", "-nostdin", "-loglevel", "error", "-y", *source, *codec, str(out)],
            check=True,
            timeout=60,
        )
        return out.read_bytes()


async def store_clip(
    sessions: async_sessionmaker[AsyncSession],
    target: str,
    locale: str,
    *,
    seconds: float = 1.0,
    hz: int = 440,
) -> AudioClip:
    async with transaction(sessions) as session:
        return await _store(session, target, locale, seconds, hz)


async def _store(
    session: AsyncSession, target: str, locale: str, seconds: float, hz: int
) -> AudioClip:
    checked = await clips.check_target(session, target, Scope.everywhere())
    voice = media.convert(tone(seconds, hz=hz))
    return await clips.do_store_clip(session, checked, locale, voice, actor=None)
