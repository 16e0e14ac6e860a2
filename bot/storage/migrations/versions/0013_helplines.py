"""Helplines as data: each line has a kind, a number, names per language and who it serves.

``countries.helplines`` stays a JSON list; each entry becomes
``{"kind", "phone", "labels": {locale: name}, "languages", "nationality", "verified", "label"}``
(``label`` is the English name, kept for readers written before this revision). The eight
programme countries still holding the first seed get a fuller list (police, ambulance, fire,
violence against women, labour inspection where a well-known public number exists); all of it is
marked unverified, for country staff to check in the console. Other rows are converted as they are.

Revision ID: 0013_helplines
Revises: 0012_report_sealing
"""

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0013_helplines"
down_revision: str | Sequence[str] | None = "0012_report_sealing"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen copy of 0001's seed: a country still holding exactly this gets SEED below.
FIRST_SEED: dict[str, list[dict[str, str]]] = {
    "BD": [
        {"label": "National emergency", "phone": "999"},
        {"label": "Violence against women and children", "phone": "109"},
    ],
    "KH": [{"label": "Police", "phone": "117"}, {"label": "Ambulance", "phone": "119"}],
    "ET": [{"label": "Police", "phone": "991"}, {"label": "Ambulance", "phone": "907"}],
    "HT": [{"label": "Police", "phone": "114"}, {"label": "Ambulance", "phone": "116"}],
    "ID": [{"label": "Emergency", "phone": "112"}, {"label": "Police", "phone": "110"}],
    "JO": [{"label": "Emergency", "phone": "911"}],
    "NI": [{"label": "Police", "phone": "118"}, {"label": "Ambulance (Red Cross)", "phone": "128"}],
    "VN": [
        {"label": "Police", "phone": "113"},
        {"label": "Ambulance", "phone": "115"},
        {"label": "Child protection", "phone": "111"},
    ],
}


def _line(kind: str, phone: str, en: str | None = None) -> dict[str, Any]:
    # Only an English name where it says more than the kind; workers of every other language see
    # the kind's translated name until staff name the line in theirs.
    return {
        "kind": kind,
        "phone": phone,
        "labels": {"en": en} if en else {},
        "languages": [],
        "nationality": None,
        "verified": False,
        "label": en or kind.replace("_", " ").capitalize(),
    }


# Public national numbers only; no NGO or embassy number that could not be checked (country staff
# add those, and Jordan's embassy and community lines for migrants, in the console).
SEED: dict[str, list[dict[str, Any]]] = {
    "BD": [
        _line("emergency", "999", "National emergency"),
        _line("violence_against_women", "109", "Violence against women and children"),
        _line("labour_inspectorate", "16357", "Labour inspection (DIFE) helpline"),
    ],
    "KH": [
        _line("police", "117", "Police"),
        _line("fire", "118", "Fire brigade"),
        _line("ambulance", "119", "Ambulance"),
    ],
    "ET": [
        _line("police", "991", "Police"),
        _line("ambulance", "907", "Ambulance"),
        _line("fire", "939", "Fire brigade"),
    ],
    "HT": [
        _line("police", "114", "Police"),
        _line("fire", "115", "Fire brigade"),
        _line("ambulance", "116", "Ambulance"),
    ],
    "ID": [
        _line("emergency", "112", "Emergency"),
        _line("police", "110", "Police"),
        _line("ambulance", "119", "Ambulance"),
        _line("violence_against_women", "129", "SAPA 129: violence against women and children"),
    ],
    "JO": [_line("emergency", "911", "Emergency")],
    "NI": [
        _line("police", "118", "Police"),
        _line("fire", "115", "Fire brigade"),
        _line("ambulance", "128", "Ambulance (Red Cross)"),
    ],
    "VN": [
        _line("police", "113", "Police"),
        _line("fire", "114", "Fire brigade"),
        _line("ambulance", "115", "Ambulance"),
        _line("child_protection", "111", "Child protection"),
    ],
}

_GUESSES = (
    ("violence", "violence_against_women"),
    ("child", "child_protection"),
    ("police", "police"),
    ("ambulance", "ambulance"),
    ("fire", "fire"),
    ("labour", "labour_inspectorate"),
)


def _convert(old: dict[str, Any]) -> dict[str, Any]:
    if "kind" in old:
        return old
    label = str(old.get("label", ""))
    kind = next((k for word, k in _GUESSES if word in label.lower()), "emergency")
    return _line(kind, str(old.get("phone", "")), label or None)


def _countries() -> sa.TableClause:
    return sa.table("countries", sa.column("code", sa.String), sa.column("helplines", sa.JSON))


def upgrade() -> None:
    bind = op.get_bind()
    countries = _countries()
    for code, lines in bind.execute(sa.select(countries.c.code, countries.c.helplines)).all():
        lines = lines or []
        new = (
            SEED[code] if code in SEED and lines == FIRST_SEED[code] else list(map(_convert, lines))
        )
        bind.execute(countries.update().where(countries.c.code == code).values(helplines=new))


def downgrade() -> None:
    bind = op.get_bind()
    countries = _countries()
    for code, lines in bind.execute(sa.select(countries.c.code, countries.c.helplines)).all():
        old = [
            {"label": str(line.get("label") or line.get("kind", "")), "phone": str(line["phone"])}
            for line in lines or []
            if isinstance(line, dict) and line.get("phone")
        ]
        bind.execute(countries.update().where(countries.c.code == code).values(helplines=old))
