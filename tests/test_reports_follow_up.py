"""Issue 16: following a report up with its receipt, on the wizard (review B2.1, B2.4, B6, B18).

Each test replays the review's transcript through the real bot on the fake Bot API and shows the
fix. Cases followed in the chat (the PIN), notifications, check-ins and files in replies are in
``test_reports_follow_up_chat.py``.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.i18n import LRI, PDI, ltr_isolate
from services.reports import receipts
from services.reports.conversation import RECEIPT_DIGITS, typed_digits
from tests.harness import BotHarness
from tests.reports_follow_up import attempts, file_case, state_of, t

EXAMPLE = "1234 5678 9012 3456"


def not_a_receipt(locale: str = "en") -> str:
    return t(
        "A receipt number has 16 digits, like {example}. Please type the number you wrote down.",
        locale,
        example=ltr_isolate(EXAMPLE),
    )


async def test_b2_1_chatting_never_counts_as_wrong_receipts_nor_locks_her_out(
    app: BotHarness,
) -> None:
    """transcript-my §6b: 🏠, then "hi", "ok", "thanks", "?", "👍", then her right receipt. Before,
    each was "No report matches this number" and the receipt then met "Too many tries"."""
    case, receipt = await file_case(app, 6_100_001, locale="my")
    worker = app.user(6_100_001, language_code="my")
    await worker.send("/follow")
    prompt = await worker.wait_reply()
    await worker.tap(t("🏠 Main menu", "my"), message=prompt)
    await worker.wait_reply()
    await worker.wait_idle()
    assert (await state_of(app, 6_100_001))[0] is None  # 🏠 left the receipt step
    for chat in ("hi", "ok"):  # outside the follow-up: not a receipt guess at all
        await worker.send(chat)
        await worker.wait_reply()
    await worker.wait_idle()
    assert await attempts(app) == 0

    await worker.tap(t("🔎 Follow up a report", "my"))
    await worker.wait_reply()
    for chat in ("hi", "ok", "thanks", "?", "👍"):
        await worker.send(chat)
        answer = await worker.wait_reply()
        assert answer.plain_text() == not_a_receipt("my")
        # Cancel and 🏠 stay in reach under the answer (B2.4).
        assert answer.buttons() == [t("🏠 Main menu", "my"), t("✖️ Cancel", "my")]
    await worker.wait_idle()
    assert await attempts(app) == 0
    await worker.send(receipt)
    opened = await worker.wait_reply()
    assert case.reference in opened.plain_text()
    assert t("Too many tries. Please wait 15 minutes and try again.", "my") not in [
        m.plain_text() for m in worker.messages
    ]


async def test_b2_1_sixteen_wrong_digits_still_count_and_still_lock(app: BotHarness) -> None:
    """What stays: a 16-digit guess that matches nothing is a counted wrong guess."""
    await file_case(app, 6_100_002)
    worker = app.user(6_100_002)
    await worker.send("/follow")
    await worker.wait_reply()
    for _ in range(receipts.MAX_FAILURES):
        await worker.send(EXAMPLE)
        wrong = await worker.wait_reply()
        assert wrong.plain_text() == t(
            "No report matches this number. Check the 16 digits and try again."
        )
    await worker.send(EXAMPLE)
    locked = await worker.wait_reply()
    assert locked.plain_text() == t("Too many tries. Please wait 15 minutes and try again.")
    await worker.wait_idle()
    assert await attempts(app) == receipts.MAX_FAILURES


async def test_b2_4_every_step_has_cancel_and_home_and_back_where_it_makes_sense(
    app: BotHarness,
) -> None:
    """The receipt prompt, the case and "write to the case handler" had no way out (B2.4)."""
    _case, receipt = await file_case(app, 6_100_003)
    worker = app.user(6_100_003)
    await worker.send("/follow")
    prompt = await worker.wait_reply()
    assert prompt.plain_text() == t("Type your 16-digit receipt number to see your report.")
    assert prompt.buttons() == [t("🏠 Main menu"), t("✖️ Cancel")]
    await worker.send(receipt)
    opened = await worker.wait_reply()
    assert opened.buttons() == [
        t("✍️ Write to the case handler"),
        t("🏠 Main menu"),
        t("✖️ Cancel"),
    ]
    await worker.tap(t("✍️ Write to the case handler"))
    write = await worker.wait_reply()
    assert write.buttons() == [t("✅ Done"), t("🏠 Main menu"), t("⬅️ Back"), t("✖️ Cancel")]
    await worker.tap(t("⬅️ Back"))
    back = await worker.wait_reply()
    assert back.plain_text() == t("Your report is open. What would you like to do?")
    assert t("✍️ Write to the case handler") in back.buttons()

    # A button of an earlier opening re-asks the step the worker is on; it writes nothing.
    await worker.send("/follow")
    await worker.wait_reply()
    await worker.tap(t("✍️ Write to the case handler"), message=opened)
    reasked = await worker.wait_reply()
    assert reasked.plain_text() == t("Type your 16-digit receipt number to see your report.")
    assert worker.answered_callbacks[-1]["text"] == t("This button is no longer active.")

    # Cancel and /cancel end it, and nothing about the case stays in the conversation.
    await worker.tap(t("✖️ Cancel"), message=reasked)
    closed = await worker.wait_reply()
    assert closed.plain_text() == t("Closed. You can open your report again from the menu.")
    await worker.wait_idle()
    assert await state_of(app, 6_100_003) == (None, {})
    await worker.send("/follow")
    await worker.wait_reply()
    await worker.send(receipt)
    await worker.wait_reply()
    await worker.send("/cancel")
    await worker.wait_reply()
    await worker.wait_idle()
    assert await state_of(app, 6_100_003) == (None, {})


async def test_b6_receipt_example_and_report_number_keep_their_order_in_arabic(
    app: BotHarness,
) -> None:
    """worker-ux-receipt-ar.png: digit groups were drawn right to left. They are isolated."""
    case, receipt = await file_case(app, 6_100_004, locale="ar")
    worker = app.user(6_100_004, language_code="ar")
    await worker.send("/follow")
    await worker.wait_reply()
    await worker.send("مرحبا")
    hint = await worker.wait_reply()
    assert f"{LRI}{EXAMPLE}{PDI}" in (hint.text or "")
    await worker.send(receipt)
    opened = await worker.wait_reply()
    assert f"{LRI}{case.reference}{PDI}" in (opened.text or "")


# --- B18: whatever is typed at the receipt step, nothing crashes --------------------------------


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=60) | st.text(st.characters(categories=["Nd", "No", "Nl"]), max_size=40))
def test_b18_any_text_at_the_receipt_step_reads_as_digits_without_error(typed: str) -> None:
    digits = typed_digits(typed)
    assert digits.isascii() and (digits == "" or digits.isdecimal())
    if len(digits) == RECEIPT_DIGITS:  # what the flow hands the receipt check
        assert receipts.normalise(digits) == digits


@pytest.fixture
async def sqlite_db(databases: dict[str, Any]) -> AsyncIterator[Any]:
    db = await databases["get"]("sqlite")
    yield db
    await db.clean()


CHATS = itertools.count(1)
# Sixteen decimal digits of any script, mixed with superscripts, numerals that are no decimal digits
# and spaces: what a worker's keyboard may produce for a receipt.
ODD_DIGITS = (
    st.tuples(
        st.lists(st.characters(categories=["Nd"]), min_size=15, max_size=17),
        st.lists(st.characters(categories=["No", "Nl", "Zs"]) | st.sampled_from("-²¹"), max_size=6),
    )
    .flatmap(lambda parts: st.permutations(parts[0] + parts[1]))
    .map("".join)
)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(typed=ODD_DIGITS)
async def test_b18_random_digits_through_the_receipt_check_never_raise(
    sqlite_db: Any, typed: str
) -> None:
    """What the receipt step hands the service, for digits of every script and none: a wrong
    number is None (counted only when it has 16 digits); it never raises."""
    digits = typed_digits(typed)
    if len(digits) != RECEIPT_DIGITS:
        return  # the flow answers "a receipt has 16 digits" and never calls the check
    async with sqlite_db.sessions() as s:
        found = await receipts.access_case_by_receipt(
            s, digits, secret_key="k" * 32, chat_ref=f"b18-{next(CHATS)}"
        )
        await s.rollback()
    assert found is None


async def test_b18_odd_digits_never_crash_and_her_own_script_opens_the_case(
    app: BotHarness,
) -> None:
    """transcript-edge §C: superscript digits showed "Sorry, something went wrong"."""
    case, receipt = await file_case(app, 6_100_005, locale="bn")
    worker = app.user(6_100_005, language_code="bn")
    await worker.send("/follow")
    await worker.wait_reply()
    for odd in ("¹²³⁴ ⁵⁶⁷⁸ ⁹⁰¹² ³⁴⁵⁶", "①②③④⑤⑥⑦⑧⑨⑩", "٣٤٥²", "𝟏𝟐𝟑"):
        await worker.send(odd)
        answer = await worker.wait_reply()
        assert answer.plain_text() == not_a_receipt("bn")
    bengali = receipt.translate(str.maketrans("0123456789", "০১২৩৪৫৬৭৮৯"))
    await worker.send(bengali)
    opened = await worker.wait_reply()
    assert case.reference in opened.plain_text()
    await worker.wait_idle()
    assert await attempts(app) == 0
