"""Sound files in, Telegram voice out: probe an upload with ffprobe, convert it with ffmpeg to
OGG/Opus mono (what Telegram plays as a voice message), or synthesise a demo clip with espeak-ng.

Uploads are recognised by what ffprobe finds inside, never by their name or the browser's type: a
phone's OGG/Opus, M4A (AAC) or MP3, or the WebM the console's recorder makes. A file that is too
big, too long, silent or not sound is refused with a reason staff can act on; nothing is kept.

Synchronous and CPU-bound (a subprocess each): callers on an event loop run these in a thread.
ffmpeg and ffprobe come from Debian's ``ffmpeg`` package, espeak-ng from ``espeak-ng``.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from bot.i18n import N_
from services.errors import DomainError

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
MAX_SECONDS = 60
MIN_SECONDS = 0.3
TIMEOUT_SECONDS = 60  # a 60-second clip converts in well under a second; anything slower is stuck
VOICE_BITRATE = "32k"  # speech, mono: clear on a cheap phone, ~240 KB a minute
# What ffprobe calls the containers and codecs a phone (or the console's recorder) records in.
ACCEPTED = {
    "ogg": {"opus", "vorbis"},
    "mov,mp4,m4a,3gp,3g2,mj2": {"aac", "alac", "opus", "mp3"},
    "mp3": {"mp3"},
    "matroska,webm": {"opus", "vorbis"},
}
# espeak-ng's voice for each language it speaks (not Khmer); the demo's clips only.
ESPEAK_VOICES = {
    "en": "en",
    "am": "am",
    "ar": "ar",
    "bn": "bn",
    "es": "es",
    "fr": "fr-fr",
    "hi": "hi",
    "ht": "ht",
    "id": "id",
    "my": "my",
    "ne": "ne",
    "si": "si",
    "ta": "ta",
    "ur": "ur",
    "vi": "vi",
}


class AudioRefused(DomainError):
    code = "audio_refused"
    message = N_(
        "This file is not a recording we can use. Upload a recording from a phone: OGG, M4A or MP3."
    )


class AudioTooBig(AudioRefused):
    code = "audio_too_big"
    message = N_("The file is larger than {megabytes} MB. Please record a shorter message.")


class AudioTooLong(AudioRefused):
    code = "audio_too_long"
    message = N_("The recording is longer than {seconds} seconds. Please record a shorter one.")


class AudioTooShort(AudioRefused):
    code = "audio_too_short"
    message = N_("The recording is empty or too short.")


class AudioToolsMissing(AudioRefused):
    code = "audio_tools_missing"
    status = 503
    message = N_("Audio cannot be converted on this server: ffmpeg is not installed.")


@dataclass(frozen=True)
class Voice:
    """A clip ready for Telegram: OGG/Opus bytes and its length."""

    content: bytes
    duration_ms: int

    @property
    def size(self) -> int:
        return len(self.content)


def tools_available() -> bool:
    return shutil.which("ffmpeg") is not None and shutil.which("ffprobe") is not None


def synthesis_available() -> bool:
    return tools_available() and shutil.which("espeak-ng") is not None


def _run(args: list[str]) -> subprocess.CompletedProcess[bytes]:
    # A fixed program and arguments, no shell; the upload is a temporary file's path.
    try:
        return subprocess.run(  # noqa: S603
            args, capture_output=True, timeout=TIMEOUT_SECONDS, check=False
        )
    except subprocess.TimeoutExpired:
        raise AudioRefused() from None


def probe(path: Path) -> tuple[str, set[str], float | None]:
    """ffprobe's container name, the audio codecs inside, and the duration when it says."""
    result = _run(
        [
            "ffprobe",
            "-v",
            "error",
            "-print_format",
            "json",
            "-show_format",
            "-show_streams",
            str(path),
        ]
    )
    if result.returncode != 0:
        raise AudioRefused()
    try:
        info = json.loads(result.stdout or b"{}")
        container = str(info.get("format", {}).get("format_name", ""))
        codecs = {
            str(s.get("codec_name", ""))
            for s in info.get("streams", [])
            if s.get("codec_type") == "audio"
        }
        raw = info.get("format", {}).get("duration")
        duration = float(raw) if raw not in (None, "N/A") else None
    except (ValueError, TypeError, AttributeError):
        raise AudioRefused() from None
    return container, codecs, duration


def _check_length(seconds: float | None) -> None:
    if seconds is None or seconds != seconds:  # unknown or NaN: measured after conversion
        return
    if seconds > MAX_SECONDS + 0.5:  # a phone's 60-second recording can run a few ms over
        raise AudioTooLong(seconds=MAX_SECONDS)
    if seconds < MIN_SECONDS:
        raise AudioTooShort()


def _encode(source: Path, target: Path) -> None:
    result = _run(
        [
            "ffmpeg",
            "-nostdin",
            "-hide_banner",
            "-loglevel",
            "error",
            "-y",
            "-i",
            str(source),
            "-map",
            "0:a:0",  # the first sound track; cover pictures and other tracks stay behind
            "-map_metadata",
            "-1",  # no phone model, place or date from the recording travels on
            "-t",
            str(MAX_SECONDS + 1),
            "-ac",
            "1",
            "-ar",
            "48000",
            "-c:a",
            "libopus",
            "-b:a",
            VOICE_BITRATE,
            "-application",
            "voip",
            "-f",
            "ogg",
            str(target),
        ]
    )
    if result.returncode != 0 or not target.exists() or target.stat().st_size == 0:
        raise AudioRefused()


def _finish(target: Path) -> Voice:
    _container, codecs, seconds = probe(target)
    if codecs != {"opus"} or seconds is None:
        raise AudioRefused()
    _check_length(seconds)
    return Voice(target.read_bytes(), round(seconds * 1000))


def convert(content: bytes) -> Voice:
    """An uploaded recording as a Telegram voice clip, or ``AudioRefused`` saying why not."""
    if len(content) > MAX_UPLOAD_BYTES:
        raise AudioTooBig(megabytes=MAX_UPLOAD_BYTES // (1024 * 1024))
    if not content:
        raise AudioTooShort()
    if not tools_available():
        raise AudioToolsMissing()
    with tempfile.TemporaryDirectory(prefix="wv-audio-") as folder:
        source, target = Path(folder, "upload"), Path(folder, "voice.ogg")
        source.write_bytes(content)
        container, codecs, seconds = probe(source)
        if not codecs & ACCEPTED.get(container, set()):
            raise AudioRefused()
        _check_length(seconds)
        _encode(source, target)
        return _finish(target)


def synthesise(text: str, locale: str) -> Voice | None:
    """``text`` read by espeak-ng in ``locale``'s voice (the demo's clips), or None when espeak-ng
    is missing or has no voice for the language."""
    voice = ESPEAK_VOICES.get(locale)
    if voice is None or not synthesis_available() or not text.strip():
        return None
    with tempfile.TemporaryDirectory(prefix="wv-speak-") as folder:
        wav, target = Path(folder, "speech.wav"), Path(folder, "voice.ogg")
        # The text as an argument, not through a shell; "--" so a text cannot read as an option.
        result = _run(["espeak-ng", "-v", voice, "-s", "140", "-w", str(wav), "--", text])
        if result.returncode != 0 or not wav.exists():
            return None
        try:
            _encode(wav, target)
            return _finish(target)
        except AudioRefused:
            return None
