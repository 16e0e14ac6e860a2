"""Which countries a staff member may act in: one value every ``access_*`` verb and console query
takes, so "out of scope" is decided the same way everywhere (and looks like "not found")."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, true

from bot.storage.models import Staff, StaffRole
from services.errors import NotFound


@dataclass(frozen=True)
class Scope:
    """Every country (administrators) when ``countries`` is None, else exactly that set."""

    countries: frozenset[str] | None

    @classmethod
    def everywhere(cls) -> Scope:
        return cls(None)

    @classmethod
    def of(cls, staff: Staff) -> Scope:
        return cls(None if staff.role == StaffRole.ADMIN else staff.country_codes)

    @classmethod
    def only(cls, *codes: str) -> Scope:
        return cls(frozenset(codes))

    @property
    def is_everywhere(self) -> bool:
        return self.countries is None

    def allows(self, code: str) -> bool:
        return self.countries is None or code in self.countries

    def allows_all(self, codes: Iterable[str]) -> bool:
        return self.countries is None or set(codes) <= self.countries

    def check(self, code: str) -> None:
        """Refuse an object in another country as if it did not exist (no hint that it does)."""
        if not self.allows(code):
            raise NotFound()

    def within(self, codes: Iterable[str]) -> list[str]:
        """``codes`` narrowed to this scope, order kept."""
        return [c for c in codes if self.allows(c)]

    def where(self, column: Any) -> ColumnElement[bool]:
        """A SQL condition on a country-code column: true everywhere, else membership."""
        if self.countries is None:
            return true()
        return column.in_(sorted(self.countries))
