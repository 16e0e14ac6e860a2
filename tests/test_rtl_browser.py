"""Review B6: in Arabic and Urdu the receipt's four digit groups are drawn in the order they are
written (left to right), checked where a worker would see them: the phone simulator in a real
browser (Debian's chromium), with the message sent through the simulator's Telegram server.

The old formatting (an RLM before the receipt) is sent too and must come out reversed: that is the
bug, and it shows the measurement can fail.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from bot.i18n import bidi, gettext
from services.helplines import HelplineKind, HelplineLine, danger_text
from services.reports.receipts import display_receipt
from tests.console import ConsoleHarness
from tests.test_browser import ARGS, CHROMIUM, SHOTS

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"
)
RECEIPT = "2983 3926 3806 3733"
RECEIVED = (
    "<b>Your report was received.</b>\nYour receipt number:\n<code>{receipt}</code>\n\n"
    "Write it down and keep it safe. With it you can check your report and talk to the case "
    "handler without giving your name. We will not show it again.\n"
    "You can clear this chat now."
)

# x of each group's first character, in the order the groups are written, for every <code> (or
# the bubble) holding the receipt's digits.
MEASURE = """(groups) => {
  const out = [];
  for (const bubble of document.querySelectorAll('.bubble.bot .text')) {
    const walker = document.createTreeWalker(bubble, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const at = groups.map((g) => node.data.indexOf(g));
      if (at.some((i) => i < 0)) continue;
      out.push(at.map((i) => {
        const range = document.createRange();
        range.setStart(node, i); range.setEnd(node, i + 1);
        return range.getBoundingClientRect().left;
      }));
    }
  }
  return out;
}"""


@pytest.fixture
async def simulator(console: ConsoleHarness) -> AsyncIterator[tuple[str, Any, Any]]:
    from workvoice.demo.run import Phones
    from workvoice.demo.simulator.server import FakeTelegram

    telegram = FakeTelegram()
    await telegram.start()
    console.ctx.phones = Phones(telegram)
    config = uvicorn.Config(console.app, host="127.0.0.1", port=0, log_config=None, lifespan="off")
    server = uvicorn.Server(config)
    server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
    task = asyncio.create_task(server.serve())
    while not server.started:
        await asyncio.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", telegram, console.ctx.phones
    finally:
        server.should_exit = True
        await task
        await telegram.stop()
        console.ctx.phones = None


async def bot_says(telegram: Any, chat_id: int, text: str) -> None:
    async with httpx.AsyncClient() as client:
        r = await client.post(
            f"{telegram.base_url}/bot{telegram.token}/sendMessage",
            json={"chat_id": chat_id, "text": text, "parse_mode": "HTML"},
        )
        assert r.status_code == 200, r.text


@pytest.mark.parametrize("locale", ["ar", "ur"])
async def test_receipt_and_helplines_read_left_to_right_in_rtl(
    simulator: tuple[str, Any, Any], locale: str, backend: str
) -> None:
    if backend != "sqlite":
        pytest.skip("one database is enough for the browser")
    from playwright.async_api import async_playwright

    url, telegram, phones = simulator
    phone = phones.create(language_code=locale)
    groups = RECEIPT.split()
    old = gettext(RECEIVED, locale=locale, receipt=bidi(RECEIPT, locale=locale))
    new = gettext(RECEIVED, locale=locale, receipt=display_receipt(RECEIPT, locale=locale))
    assert new != old and RECEIPT in new
    await bot_says(telegram, phone.id, old)
    await bot_says(telegram, phone.id, new)
    lines = [
        HelplineLine(gettext("Emergency", locale=locale), "911", HelplineKind.EMERGENCY),
        HelplineLine(
            gettext("Workers' hotline", locale=locale), "+96265000000", HelplineKind.UNION_OR_NGO
        ),
    ]
    # As intake's helplines_text draws a line today (RLM only), then through danger_text.
    await bot_says(
        telegram, phone.id, bidi(f"📞 {lines[1].phone} – {lines[1].label}", locale=locale)
    )
    await bot_says(telegram, phone.id, danger_text(lines, locale=locale))

    SHOTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = await browser.new_page(viewport={"width": 1200, "height": 900})
        await page.goto(f"{url}/simulator")
        await page.locator(".bubble.bot", has_text="+962").last.wait_for()
        await page.locator(".phone").screenshot(path=str(SHOTS / f"receipt-rtl-{locale}.png"))
        receipts = await page.evaluate(MEASURE, groups)
        # Unisolated, the "+" of an international number jumps to the far end in an RTL line.
        phone_groups = await page.evaluate(MEASURE, ["+", "96265", "000000"])
        await browser.close()
    assert len(receipts) == 2, receipts
    before, after = receipts
    assert before == sorted(before, reverse=True), "the old RLM form is drawn backwards (B6)"
    assert after == sorted(after) and len(set(after)) == 4, after  # 2983 3926 3806 3733
    assert len(phone_groups) == 2, phone_groups
    assert phone_groups[0][0] > phone_groups[0][1], "unisolated, the + is drawn after the number"
    assert phone_groups[1] == sorted(phone_groups[1]), phone_groups  # +96265000000
