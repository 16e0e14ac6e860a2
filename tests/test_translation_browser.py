"""Issue 19 §2 in a real browser: the demo's translator for Bangla approves one message and changes
another in the console; a worker on the phone simulator reads the change at once, and
``workvoice i18n pull`` writes it into the ``.po`` file."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po

from bot.i18n import gettext, locales_dir
from tests.test_browser import ARGS, CHROMIUM, SHOTS
from tests.test_demo_browser import demo, new_phone, sign_in  # noqa: F401 (demo is a fixture)

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"
)

MENU_QUESTION = "What would you like to do?"
BN_NEW = "এখন কী করতে চান? বেছে নিন:"


async def test_translator_changes_bangla_and_the_worker_reads_it_at_once(
    demo: tuple[str, Path],  # noqa: F811
    tmp_path: Path,
) -> None:
    from playwright.async_api import async_playwright

    url, database = demo
    SHOTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        sim = await browser.new_page(viewport={"width": 1400, "height": 1000})
        await sim.goto(f"{url}/simulator")
        worker = await new_phone(sim, "bn")
        await worker.onboard_in_bangla()
        await worker.say("/menu")
        old = gettext(MENU_QUESTION, locale="bn")
        await worker.locator.locator(".bubble.bot", has_text=old).last.wait_for()

        console = await sign_in(browser, url, database, "translator@demo.workvoice.org")
        await console.goto(f"{url}/translations")
        await console.click("a[href='/translations/bn/core']")
        await console.fill("#t-q", "📰 News")
        await console.click("form.filters button[type=submit]")
        await console.click("text=Approve as it reads")
        await console.locator(".flash", has_text="Approved.").wait_for()

        await console.fill("#t-q", MENU_QUESTION)
        await console.click("form.filters button[type=submit]")
        row = console.locator("li.translation-row").first
        await row.locator("summary", has_text="Change the words").click()
        await row.locator("textarea[name=text]").fill(BN_NEW)
        await row.locator("input[name=note]").fill("plainer, and says what to do")
        await row.locator("button", has_text="Save the change").click()
        await console.locator(".flash", has_text="Changed.").wait_for()
        await console.screenshot(path=str(SHOTS / "translations-bn-core.png"), full_page=True)

        await worker.say("/menu")  # no restart: the next message already says it
        await worker.locator.locator(".bubble.bot", has_text=BN_NEW).last.wait_for()
        await sim.screenshot(path=str(SHOTS / "translations-worker-bn.png"), full_page=True)

        await console.goto(f"{url}/translations/bn/core?status=approved")
        text = await console.inner_text("main")
        assert BN_NEW in text and "📰 News" in text
        await browser.close()

    # The change flows back into locales/ (a copy here) with `workvoice i18n pull`.
    copy = tmp_path / "locales"
    shutil.copytree(locales_dir(), copy)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("WORKVOICE_")},
        "WORKVOICE_DATABASE_URL": f"sqlite+aiosqlite:///{database}",
        "WORKVOICE_DATA_DIR": str(database.parent),
        "WORKVOICE_LOCALES_DIR": str(copy),
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "workvoice.cli",
        "i18n",
        "pull",
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await proc.communicate()
    assert proc.returncode == 0, err.decode()
    assert "1 catalogs changed" in out.decode()
    with (copy / "bn" / "LC_MESSAGES" / "core.po").open("rb") as fh:
        assert read_po(fh, locale="bn").get(MENU_QUESTION).string == BN_NEW
