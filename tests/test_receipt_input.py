"""Whatever a worker types where a receipt is asked, the check never crashes, and only text of
exactly 16 digits counts against the chat (review B2.1, B18.1)."""

from __future__ import annotations

import asyncio
import unicodedata
from datetime import UTC, datetime
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from bot.i18n import LRI, PDI, gettext, ltr_isolate
from bot.storage.reports import ReceiptAttempt
from services.reports import receipts
from tests import journeys
from tests.factories import make_worker
from tests.harness import BotHarness

NOW = datetime(2026, 12, 4, 8, 0, tzinfo=UTC)


class OnlyReadsAttempts:
    """A session holding one earlier wrong guess; any query or write fails the test."""

    def __init__(self) -> None:
        self.row = ReceiptAttempt(key="k", window_start=NOW, failures=2)

    async def get(self, model: type, key: str, **_: Any) -> ReceiptAttempt:
        assert model is ReceiptAttempt
        return self.row

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"session.{name} used for text that is not a receipt")


def _check(text: str) -> tuple[receipts.ReceiptCheck, int]:
    session = OnlyReadsAttempts()
    found = asyncio.run(
        receipts.check_receipt(
            session,  # type: ignore[arg-type]
            text,
            secret_key="s",
            chat_ref="c",
            now=NOW,
        )
    )
    return found, session.row.failures


def _decimal_count(text: str) -> int:
    return sum(unicodedata.decimal(ch, None) is not None for ch in text)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_normalise_never_raises_and_maps_every_script_to_ascii(text: str) -> None:
    digits = receipts.normalise(text)
    assert digits is None or (len(digits) == 16 and digits.isascii() and digits.isdigit())


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40).filter(lambda t: receipts.normalise(t) is None))
def test_text_that_is_not_16_digits_never_counts(text: str) -> None:
    found, failures = _check(text)
    assert found.outcome is receipts.ReceiptOutcome.NOT_A_RECEIPT
    assert failures == 2  # unchanged, and nothing was queried or written


@given(st.lists(st.characters(categories=["Nd"]), min_size=16, max_size=16).map("".join))
def test_any_script_digits_are_a_receipt(text: str) -> None:
    digits = receipts.normalise(text)
    assert digits == "".join(str(unicodedata.decimal(ch)) for ch in text)


def test_what_workers_typed_in_the_review() -> None:
    for chat in ("hi", "ok", "thanks", "?", "👍", "¹²³", "1234 5678 9012 345²", "①②③④"):
        assert receipts.normalise(chat) is None
        assert _check(chat)[0].outcome is receipts.ReceiptOutcome.NOT_A_RECEIPT
    assert receipts.normalise("٣٩٩١ ١٠٨٥ ٨٣٠٠ ٦٣٢٩") == "3991108583006329"
    assert receipts.normalise("၃၉၉၁ ၁၀၈၅ ၈၃၀၀ ၆၃၂၉") == "3991108583006329"
    assert _decimal_count("၃၉၉၁") == 4


def test_receipts_display_left_to_right_in_arabic_and_urdu() -> None:
    receipt = "2983 3926 3806 3733"
    for rtl in ("ar", "ur"):
        shown = receipts.display_receipt(receipt, locale=rtl)
        assert shown == f"{LRI}{receipt}{PDI}"
    assert receipts.display_receipt(receipt, locale="bn") == receipt
    # Balanced isolates even when nested (a phone inside a line that is itself isolated).
    nested = ltr_isolate(f"📞 {ltr_isolate('+880 999')}")
    assert nested.count(LRI) == nested.count(PDI) == 2
    assert receipts.normalise(shown) == "2983392638063733"  # copied back with the isolates


async def test_b2_chat_after_follow_up_does_not_lock_the_worker_out(app: BotHarness) -> None:
    """transcript-my.txt §6b: "hi", "ok", "thanks", "?", 👍 after Follow up, then her receipt."""
    await make_worker(app.sessions, 4101, locale="bn")
    worker = app.user(4101, language_code="bn")
    await journeys.start_report(worker, "সুপারভাইজার খারাপ কথা বলে", locale="bn")
    await journeys.report_to_review(worker, follow=journeys.RECEIPT_ONLY, locale="bn")
    receipt = journeys.receipt_digits(await journeys.send_report(worker, locale="bn"))
    await worker.send("/follow")
    await worker.wait_reply()
    hint = gettext(
        "A receipt number has 16 digits, like {example}. Please type the number you wrote down.",
        locale="bn",
        example=ltr_isolate("1234 5678 9012 3456"),
    )
    for chat in ("hi", "ok", "thanks", "?", "👍", "¹²³"):
        await worker.send(chat)
        assert (await worker.wait_reply()).plain_text() == hint
    await worker.wait_idle()
    async with app.sessions() as s:
        assert await s.scalar(text("SELECT count(*) FROM receipt_attempts")) == 0
    await worker.send(receipt)
    shown = await worker.wait_reply()
    assert gettext("Too many tries. Please wait 15 minutes and try again.", locale="bn") not in (
        shown.plain_text()
    )
    received = gettext("<b>Report {number}</b> was received. We will look into it.", locale="bn")
    assert received.split("</b>")[1] in shown.plain_text()
