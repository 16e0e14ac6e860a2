"""Evidence on the case page (review M6): voice notes play in the page, photos show as previews,
documents download under a name that says what they are; sizes in kB/MB in the staff language.

The bytes are opened only for an audited request (``services.reports.cases.access_evidence``) and
served with ``Cache-Control: no-store``. The type is read from the bytes themselves (their magic
numbers), falling back to the stored type: Telegram voice notes are Ogg Opus, a worker's audio file
may be MP3 or M4A. Only pictures and sound are ever shown inline; anything else is a download, so
no evidence can become a page of the console.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from fastapi.responses import Response

from admin.reports.history import file_size
from bot.storage.reports import CaseEvidence

OCTET = "application/octet-stream"
# Shown in the page (<img>, <audio>): nothing here can run code in the console's origin.
INLINE = {
    "image/jpeg",
    "image/png",
    "image/webp",
    "audio/ogg",
    "audio/mpeg",
    "audio/mp4",
    "audio/wav",
}
EXTENSIONS = {
    "image/jpeg": "jpg",
    "image/png": "png",
    "image/webp": "webp",
    "audio/ogg": "ogg",
    "audio/mpeg": "mp3",
    "audio/mp4": "m4a",
    "audio/wav": "wav",
    "application/pdf": "pdf",
}
STORED_ALIASES = {"audio/x-m4a": "audio/mp4", "audio/mp3": "audio/mpeg", "audio/opus": "audio/ogg"}
RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


def sniff(stored: str, content: bytes) -> str:
    """The media type of ``content``: from its first bytes, else the type stored with it."""
    head = content[:16]
    if head.startswith(b"OggS"):
        return "audio/ogg"
    if head.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if head.startswith(b"%PDF-"):
        return "application/pdf"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "audio/wav"
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "audio/mpeg"
    if head[4:8] == b"ftyp" and head[8:12] in {b"M4A ", b"M4B ", b"mp42", b"isom", b"dash"}:
        return "audio/mp4"
    stored = STORED_ALIASES.get(stored.lower(), stored.lower())
    return stored if stored in EXTENSIONS else OCTET


@dataclass(frozen=True)
class Shown:
    """One piece of evidence as the case page lists it."""

    id: int
    kind: str  # voice / photo / document
    number: int  # the n-th of its kind on this case
    size: str
    plays: bool  # an <audio> player
    previews: bool  # an <img> preview


def shown(items: list[CaseEvidence]) -> list[Shown]:
    """The case's evidence in the order it came, numbered per kind ("Photo 2")."""
    counts: dict[str, int] = {}
    out = []
    for item in sorted(items, key=lambda i: (i.added_at, i.id)):
        counts[item.kind] = counts.get(item.kind, 0) + 1
        mime = STORED_ALIASES.get(item.mime_type, item.mime_type)
        out.append(
            Shown(
                id=item.id,
                kind=item.kind,
                number=counts[item.kind],
                size=file_size(item.size),
                plays=item.kind == "voice" or mime.startswith("audio/"),
                previews=item.kind == "photo" or mime in {"image/jpeg", "image/png", "image/webp"},
            )
        )
    return out


def file_name(case_id: int, item: CaseEvidence, media_type: str) -> str:
    """``case-23-voice-4.ogg``: the case, what it is, and an extension every player knows."""
    kind = item.kind if item.kind in {"voice", "photo", "document"} else "file"
    return f"case-{case_id}-{kind}-{item.id}.{EXTENSIONS.get(media_type, 'bin')}"


def evidence_response(
    content: bytes, media_type: str, name: str, *, download: bool, range_header: str | None
) -> Response:
    """The opened file: inline for pictures and sound (unless a download was asked for), as an
    attachment otherwise; a single byte range for players that seek."""
    inline = media_type in INLINE and not download
    headers = {
        "Content-Disposition": f'{"inline" if inline else "attachment"}; filename="{name}"',
        "Cache-Control": "no-store",
        "Accept-Ranges": "bytes",
    }
    total = len(content)
    found = RANGE.match(range_header.strip()) if range_header else None
    if found and (found.group(1) or found.group(2)) and total:
        first, last = found.group(1), found.group(2)
        if first:
            start, end = int(first), min(int(last), total - 1) if last else total - 1
        else:  # the last N bytes
            start, end = max(0, total - int(last)), total - 1
        if start > end or start >= total:
            return Response(
                status_code=416, headers={**headers, "Content-Range": f"bytes */{total}"}
            )
        headers["Content-Range"] = f"bytes {start}-{end}/{total}"
        return Response(
            content[start : end + 1], status_code=206, media_type=media_type, headers=headers
        )
    return Response(content, media_type=media_type, headers=headers)
