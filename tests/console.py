"""Driving the console over HTTP in tests: the real ASGI app through httpx, signed in as anyone.

``ConsoleHarness.client_for(staff)`` writes the same signed session cookie a real sign-in writes
(tests of sign-in itself go through the login form), so capability tests stay short.
"""

from __future__ import annotations

import json
import re
import secrets
import time
from base64 import b64encode
from collections.abc import Iterable
from html.parser import HTMLParser
from typing import Any

import httpx
import itsdangerous
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from admin.app import create_console
from bot.flowdocs import ScreenBook
from bot.storage.db import transaction
from bot.storage.models import Staff
from services.accounts import do_create_staff
from workvoice.context import AppContext
from workvoice.kernel.settings import load_settings

TEST_SECRET = "test-secret-key-for-the-console-only"
PASSWORD = "correct horse battery staple"


class ConsoleHarness:
    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.app: FastAPI = create_console(ctx)
        self._clients: list[httpx.AsyncClient] = []
        self._counter = 0

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return self.ctx.sessions

    def anonymous(self) -> httpx.AsyncClient:
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app),
            base_url="http://console.test",
            follow_redirects=False,
        )
        self._clients.append(client)
        return client

    def client_for(self, staff: Staff, *, mfa: bool = True, **session: Any) -> httpx.AsyncClient:
        now = int(time.time())
        data = {
            "staff_id": staff.id,
            "ver": staff.session_version,
            "mfa": mfa,
            "csrf": secrets.token_urlsafe(24),
            "since": now,
            "seen": now,
            **session,
        }
        signer = itsdangerous.TimestampSigner(TEST_SECRET)
        cookie = signer.sign(b64encode(json.dumps(data).encode())).decode()
        client = self.anonymous()
        client.cookies.set("wv_session", cookie, domain="console.test")
        client.csrf = data["csrf"]  # type: ignore[attr-defined]
        return client

    async def staff(
        self, role: str, countries: Iterable[str] = ("BD",), *, email: str | None = None, **kw: Any
    ) -> Staff:
        self._counter += 1
        if role == "translator":
            kw.setdefault("languages", ["bn"])  # a translator always reviews some language
        async with transaction(self.sessions) as session:
            return await do_create_staff(
                session,
                email=email or f"{role}{self._counter}@example.org",
                role=role,
                countries=() if role == "admin" else countries,
                password=PASSWORD,
                **kw,
            )

    async def close(self) -> None:
        for client in self._clients:
            await client.aclose()


def csrf_of(html: str) -> str:
    """The CSRF token of the first form on a page."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF field on the page"
    return found.group(1)


def make_context(
    db_sessions: async_sessionmaker[AsyncSession], engine: Any, data_dir: Any
) -> AppContext:
    settings = load_settings(data_dir=data_dir, secret_key=TEST_SECRET)
    return AppContext(settings=settings, engine=engine, sessions=db_sessions, screens=ScreenBook())


class _Tables(HTMLParser):
    """Every <table> of a page as rows of cell texts, with the table's class."""

    def __init__(self) -> None:
        super().__init__()
        self.tables: list[tuple[str, list[list[str]]]] = []
        self._stack: list[tuple[str, list[list[str]]]] = []
        self._cell: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "table":
            self._stack.append((dict(attrs).get("class") or "", []))
        elif tag == "tr" and self._stack:
            self._stack[-1][1].append([])
        elif tag in ("td", "th") and self._stack:
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None and self._stack:
            self._stack[-1][1][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table" and self._stack:
            self.tables.append(self._stack.pop())

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)


def tables(html: str, cls: str) -> list[list[list[str]]]:
    """The page's tables whose class includes ``cls``, as rows of cell texts."""
    parser = _Tables()
    parser.feed(html)
    return [rows for c, rows in parser.tables if not cls or cls in c.split()]
