"""Review B4 and B6 through the fake Bot API: the danger step names every helpline in the worker's
language, and in Arabic the receipt is isolated left to right.

Strict xfail until the report flow calls ``services.helplines`` and ``display_receipt`` (the lead
applies that change to ``bot/flows/reports/intake.py``; then remove the marker: the test must pass).
"""

from __future__ import annotations

import pytest

from bot.i18n import LRI, PDI, gettext
from tests import journeys
from tests.factories import make_worker
from tests.harness import BotHarness

pytestmark = pytest.mark.xfail(
    strict=True, reason="needs intake.py to call services.helplines and display_receipt"
)


async def test_b4_danger_lists_helplines_in_bangla_without_english(app: BotHarness) -> None:
    """transcript-bn.txt §4: the danger answer showed "999 – National emergency" in English."""
    await make_worker(app.sessions, 4201, locale="bn")
    worker = app.user(4201, language_code="bn")
    await journeys.start_report(worker, "সুপারভাইজার রাতে গায়ে হাত দেয়", locale="bn")
    await journeys.report_to_review(worker, danger="Yes", follow="💬 In this chat", locale="bn")
    shown = next(m.plain_text() for m in worker.messages if "999" in m.plain_text())
    assert "National emergency" not in shown and "Violence against women" not in shown
    for kind in ("Emergency", "Violence against women", "Labour inspectorate"):
        assert gettext(kind, locale="bn") in shown, kind
    assert shown.index("999") < shown.index("109") < shown.index("16357")  # emergency first


async def test_b6_arabic_receipt_is_isolated_left_to_right(app: BotHarness) -> None:
    await make_worker(app.sessions, 4202, locale="ar", factory_code="JO-01", country="JO")
    worker = app.user(4202, language_code="ar")
    await journeys.start_report(worker, "المشرف يصرخ علينا", locale="ar")
    await journeys.report_to_review(worker, danger="Yes", locale="ar")
    danger = next(m.plain_text() for m in worker.messages if "911" in m.plain_text())
    assert f"{LRI}911{PDI}" in danger and "Emergency" not in danger
    receipt = await journeys.send_report(worker, locale="ar")
    digits = journeys.receipt_digits(receipt)
    grouped = " ".join(digits[i : i + 4] for i in range(0, 16, 4))
    assert f"{LRI}{grouped}{PDI}" in receipt.plain_text()
