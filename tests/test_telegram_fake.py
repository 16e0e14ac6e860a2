"""The fake Bot API validates what Telegram validates, so tests catch what production would."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiogram import Bot
from aiogram.exceptions import TelegramBadRequest, TelegramForbiddenError, TelegramRetryAfter
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup

from bot.runtime import create_bot
from tests.telegram_fake import FakeTelegram


@pytest.fixture
async def fake() -> AsyncIterator[tuple[FakeTelegram, Bot]]:
    telegram = FakeTelegram()
    await telegram.start()
    bot = create_bot(telegram.token, telegram.base_url)
    telegram.user(42)
    yield telegram, bot
    await bot.session.close()
    await telegram.stop()


async def test_get_me_and_send(fake: tuple[FakeTelegram, Bot]) -> None:
    telegram, bot = fake
    me = await bot.get_me()
    assert me.username == "workvoice_test_bot"
    sent = await bot.send_message(42, "<b>hi</b> &amp; bye")
    assert sent.text == "hi & bye"
    assert (
        telegram.sent[-1].text == "<b>hi</b> &amp; bye"
        and telegram.sent[-1].plain_text() == "hi & bye"
    )


async def test_length_limit_counts_visible_utf16(fake: tuple[FakeTelegram, Bot]) -> None:
    _, bot = fake
    await bot.send_message(42, "x" * 4096)
    await bot.send_message(42, "<b>" + "x" * 4096 + "</b>")  # tags do not count
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(42, "x" * 4097)
    with pytest.raises(TelegramBadRequest, match="message is too long"):
        await bot.send_message(42, "😀" * 2049)  # 4098 UTF-16 units


@pytest.mark.parametrize(
    "text", ["<blink>x</blink>", "<b>open", "a < b", "fish & chips", "<b><i>x</b></i>"]
)
async def test_bad_html_is_refused(fake: tuple[FakeTelegram, Bot], text: str) -> None:
    _, bot = fake
    with pytest.raises(TelegramBadRequest, match="can't parse entities"):
        await bot.send_message(42, text)


async def test_callback_data_over_64_bytes_is_refused(fake: tuple[FakeTelegram, Bot]) -> None:
    _, bot = fake
    ok = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="a", callback_data="x" * 64)]]
    )
    await bot.send_message(42, "fits", reply_markup=ok)
    too_long = InlineKeyboardMarkup(
        inline_keyboard=[[InlineKeyboardButton(text="a", callback_data="é" * 33)]]
    )
    with pytest.raises(TelegramBadRequest, match="BUTTON_DATA_INVALID"):
        await bot.send_message(42, "too long", reply_markup=too_long)


async def test_identical_edit_is_not_modified(fake: tuple[FakeTelegram, Bot]) -> None:
    _, bot = fake
    sent = await bot.send_message(42, "same")
    with pytest.raises(TelegramBadRequest, match="message is not modified"):
        await bot.edit_message_text("same", chat_id=42, message_id=sent.message_id)
    await bot.edit_message_text("changed", chat_id=42, message_id=sent.message_id)
    with pytest.raises(TelegramBadRequest, match="message to edit not found"):
        await bot.edit_message_text("x", chat_id=42, message_id=999)


async def test_429_and_blocked_and_unknown_chat(fake: tuple[FakeTelegram, Bot]) -> None:
    telegram, bot = fake
    telegram.fail_next("sendMessage", retry_after=7)
    with pytest.raises(TelegramRetryAfter) as err:
        await bot.send_message(42, "later")
    assert err.value.retry_after == 7
    await bot.send_message(42, "now fine")
    telegram.block(42)
    with pytest.raises(TelegramForbiddenError):
        await bot.send_message(42, "blocked")
    with pytest.raises(TelegramBadRequest, match="chat not found"):
        await bot.send_message(43, "who?")


async def test_long_poll_returns_pushed_updates_and_times_out(
    fake: tuple[FakeTelegram, Bot],
) -> None:
    telegram, bot = fake
    assert await bot.get_updates(timeout=0) == []
    update_id = telegram.push_update(telegram.make_message_update(42, "/start"))
    updates = await bot.get_updates(timeout=5)
    assert [u.update_id for u in updates] == [update_id]
    assert updates[0].message is not None and updates[0].message.text == "/start"
    assert await bot.get_updates(offset=update_id + 1, timeout=0) == []


async def test_files_round_trip(fake: tuple[FakeTelegram, Bot]) -> None:
    telegram, bot = fake
    file_id = telegram.add_file(b"evidence-bytes", suffix="pdf")
    file = await bot.get_file(file_id)
    assert file.file_path is not None
    data = await bot.download_file(file.file_path)
    assert data is not None and data.read() == b"evidence-bytes"
