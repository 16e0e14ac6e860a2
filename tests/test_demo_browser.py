"""The demo as a visitor meets it: simulated workers report and answer the seeded survey through
the phone simulator in a real browser, and staff find the case and the answers in the console.
Screenshots go to build/screenshots/."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pyotp
import pytest
from sqlalchemy import select

from bot.i18n import gettext
from bot.i18n.digits import localize
from tests.journeys import answer
from tests.test_browser import ARGS, CHROMIUM, SHOTS
from workvoice.demo.seed import DEMO_COMMITTEE_NAMES

pytestmark = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed"
)


def bn(message: str) -> str:
    return gettext(message, locale="bn")


DEMO_START_SECONDS = 240


@pytest.fixture
async def demo(tmp_path: Path) -> AsyncIterator[tuple[str, Path]]:
    """``workvoice demo`` as a user starts it, in its own process (it owns its bot and simulator)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("WORKVOICE_")},
        "WORKVOICE_DATA_DIR": str(tmp_path),
    }
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "workvoice.cli",
        "demo",
        "--port",
        str(port),
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient() as client:
            # aiogram takes seconds to import; migrations and seeding follow. On a busy machine
            # (a CI run beside other work) that took over a minute once: wait by the clock, and
            # say so plainly rather than letting the first page load fail.
            deadline = time.monotonic() + DEMO_START_SECONDS
            while True:
                try:
                    if (await client.get(f"{url}/healthz")).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert proc.returncode is None, "the demo exited"
                assert time.monotonic() < deadline, "the demo did not answer /healthz in time"
                await asyncio.sleep(0.1)
        yield url, tmp_path / "demo" / "workvoice.db"
    finally:
        proc.send_signal(signal.SIGTERM)
        await asyncio.wait_for(proc.wait(), timeout=30)


async def tap(page: Any, phone: Any, label: str) -> None:
    await phone.locator("button.kb", has_text=label).last.click()


class Phone:
    """One simulated phone on the simulator page, driven as a visitor would."""

    def __init__(self, page: Any, locator: Any) -> None:
        self.page, self.locator = page, locator

    async def say(self, text: str) -> None:
        await self.locator.locator("input[name=text]").fill(text)
        await self.locator.locator(".composer button").click()

    async def step(self, label: str, expect: str) -> None:
        """Tap a button, then wait until the bot's next prompt is on the phone."""
        await tap(self.page, self.locator, label)
        await self.locator.locator(".bubble.bot", has_text=expect).last.wait_for()

    async def onboard_in_bangla(self) -> None:
        await self.onboard("bn", "বাংলা", "DEMO-DK")

    async def onboard(self, locale: str, native: str, factory: str) -> None:
        def t(message: str) -> str:
            return gettext(message, locale=locale)

        await self.say("/start")
        await self.locator.locator("button.kb", has_text=native).wait_for()
        await self.step(native, t("✅ I agree"))
        await self.step(t("✅ I agree"), "DK-01")
        await self.say(factory)
        await self.locator.locator("button.kb", has_text=t("Woman")).wait_for()
        await self.step(t("Woman"), t("How old are you?"))
        await self.step(t("Prefer not to say"), t("Thank you. You are all set."))


async def new_phone(page: Any, language_code: str) -> Phone:
    await page.select_option("#sim-lang", language_code)
    await page.click("#new-phone button")
    return Phone(page, page.locator(".phone").last)


async def test_tour_report_in_bangla_then_find_it_in_the_console(
    demo: tuple[str, Path],
) -> None:
    from playwright.async_api import async_playwright

    url, database = demo
    SHOTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = await browser.new_page(viewport={"width": 1400, "height": 1000})
        await page.goto(f"{url}/simulator")
        worker = await new_phone(page, "bn")
        phone, say, step = worker.locator, worker.say, worker.step
        await worker.onboard_in_bangla()
        await step(
            bn("📣 Report a problem"),
            bn(
                "Your report is safe: your name is never shown to the factory.\n\n"
                "<b>Are you or someone else in danger right now?</b>"
            )[:20],
        )
        await step(answer("No", "bn"), bn("What is the problem about?"))
        await step(bn("Harassment, violence or abuse"), bn("What happened?"))
        await step(
            bn("Sexual harassment"),
            bn(
                "Tell us what happened in your own words: when, where, who. You can write several "
                "messages, or send voice notes, photos or a PDF. Only the case handler can read "
                "them.\nTap ➡️ Done when you have told everything."
            )[:20],
        )
        await say("সুপারভাইজার রাতের শিফটে খারাপ কথা বলে")
        await phone.locator(
            ".bubble.bot",
            has_text=bn("🔒 Received and sealed. You can send more, or tap ➡️ Done.")[2:20],
        ).wait_for()
        await step(
            bn("➡️ Done"),
            bn("You can add a photo or a PDF as evidence now, or tap Skip.")[:20],
        )
        await step(bn("Skip"), bn("Does this also happen to other workers?"))
        await step(answer("Yes", "bn"), bn("🔢 Receipt number only")[2:])
        await step(
            bn("🔢 Receipt number only"),
            bn(
                "May we tell the factory about the problem so it can be "
                "fixed? We never give your name."
            )[:20],
        )
        await step(answer("No", "bn"), bn("✅ Send report")[2:])
        await tap(page, phone, bn("✅ Send report"))
        receipt = phone.locator(".bubble.bot code").last
        await receipt.wait_for()
        digits = "".join(ch for ch in await receipt.inner_text() if ch.isdigit())
        assert len(digits) == 16

        # A shared phone (review B3): her story and the review are gone once the report is sent,
        # and the receipt goes when she says she wrote it down.
        story = phone.locator(".bubble.mine", has_text="সুপারভাইজার রাতের শিফটে")
        await story.wait_for(state="detached")
        assert await phone.locator(".bubble.bot", has_text=bn("✅ Send report")[2:]).count() == 0
        await page.screenshot(path=str(SHOTS / "demo-receipt-bn.png"), full_page=True)
        await tap(page, phone, bn("✅ I wrote it down"))
        await phone.locator(".bubble.bot code").wait_for(state="detached")

        for index, code in ((1, "ar"), (2, "my")):  # more scripts on screen for the screenshot
            await page.select_option("#sim-lang", code)
            await page.click("#new-phone button")
            other = page.locator(".phone").nth(index)
            await other.wait_for()
            await other.locator("input[name=text]").fill("/start")
            await other.locator(".composer button").click()
        await page.wait_for_timeout(3000)
        content = await page.inner_text("#phones")
        prompts = (gettext("Choose your language:", locale="ar"), "သင့်ဘာသာစကားကို ရွေးပါ")
        assert all(prompt in content for prompt in prompts)  # ar and my prompts
        await page.screenshot(path=str(SHOTS / "demo-simulator.png"), full_page=True)

        # The case handler signs in with the demo password and the code the simulator shows.
        console = await sign_in(browser, url, database, "handler@demo.workvoice.org")
        await console.goto(f"{url}/reports")
        rows = await console.inner_text("table")
        # Stored keys read as words (the label filter), never as raw keys.
        assert "sexual harassment" in rows.lower() and "high" in rows.lower()
        await console.screenshot(path=str(SHOTS / "demo-queue.png"), full_page=True)
        await browser.close()


async def sign_in(browser: Any, url: str, database: Path, email: str) -> Any:
    """A console page signed in as a seeded demo account, with the code the simulator shows."""
    from bot.storage.db import create_engine, create_sessionmaker
    from bot.storage.models import Staff
    from services.accounts import open_totp
    from workvoice.kernel.settings import load_settings

    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    async with create_sessionmaker(engine)() as s:
        staff = await s.scalar(select(Staff).where(Staff.email == email))
        assert staff is not None and staff.totp_sealed
        key = load_settings(data_dir=database.parent).effective_secret_key
        secret = open_totp(key, staff.totp_sealed)
    await engine.dispose()
    page = await browser.new_page(viewport={"width": 1280, "height": 900})
    await page.goto(f"{url}/login")
    await page.fill("#email", email)
    await page.fill("#password", "demo-password-2026")
    await page.click("main button[type=submit]")
    await page.fill("#code", pyotp.TOTP(secret).now())
    await page.click("main button[type=submit]")
    return page


async def open_wave_and_respondents(database: Path) -> tuple[int, int]:
    from sqlalchemy import func

    from bot.storage.db import create_engine, create_sessionmaker
    from bot.storage.surveys import SurveyResponse, SurveyWave

    engine = create_engine(f"sqlite+aiosqlite:///{database}")
    async with create_sessionmaker(engine)() as s:
        wave_id = await s.scalar(select(SurveyWave.id).where(SurveyWave.status == "open"))
        assert wave_id is not None
        count = await s.scalar(
            select(func.count())
            .select_from(SurveyResponse)
            .where(SurveyResponse.wave_id == wave_id)
        )
    await engine.dispose()
    return wave_id, int(count or 0)


async def test_tour_survey_and_committee_in_bangla_then_results_in_the_console(
    demo: tuple[str, Path],
) -> None:
    from playwright.async_api import async_playwright

    from services.surveys.builder import template_definitions

    pulse = next(d for d in template_definitions() if d.key == "wellbeing-pulse")
    url, database = demo
    wave_id, before = await open_wave_and_respondents(database)
    SHOTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = await browser.new_page(viewport={"width": 1400, "height": 1000})
        await page.goto(f"{url}/simulator")
        worker = await new_phone(page, "bn")
        phone, step = worker.locator, worker.step

        def text(texts: dict[str, str]) -> str:
            return texts["bn"]

        await worker.onboard_in_bangla()
        questions = pulse.questions
        await step(
            bn("📋 Surveys"),
            bn("Surveys open for you. ↩️ continues one you started. Your answers are anonymous."),
        )
        await step("📋 " + text(pulse.title), text(questions[0].text))
        await step(localize("🙂 4", "bn"), text(questions[1].text))  # Bangla digits (B14)
        await step(answer("Yes", "bn"), text(questions[2].text))
        await step(text(questions[2].options[0].text), text(questions[3].text))
        await step(text(questions[3].options[0].text), text(questions[4].text))
        await tap(page, phone, text(questions[4].options[0].text))
        await phone.locator(
            "button.kb", has_text="✅ " + text(questions[4].options[0].text)
        ).wait_for()
        await page.screenshot(path=str(SHOTS / "demo-survey-bangla.png"), full_page=True)
        await step(
            bn("Done ➡️"),
            bn("Your answers were saved anonymously. Nobody can see who gave them.")[:15],
        )

        # The tour's committee step: the join code printed on the page, typed on the phone.
        tour = await page.inner_text(".tour")
        command = next(word for word in tour.split() if word.startswith("c_"))
        await worker.say(f"/start {command.rstrip('.,')}")
        invited = (
            gettext(
                "You are invited to join <b>{committee}</b>. "
                "Please type your name as the committee knows you.",
                locale="bn",
                committee=DEMO_COMMITTEE_NAMES["bn"][0],  # its Bangla name (B13)
            )
            .replace("<b>", "")
            .replace("</b>", "")
        )
        await phone.locator(".bubble.bot", has_text=invited[:25]).last.wait_for()
        await worker.say("শাহনাজ")
        thanks = bn("Thank you. The committee chair will confirm you soon. We will tell you here.")
        await phone.locator(".bubble.bot", has_text=thanks[:25]).last.wait_for()

        # Her answers wait for a batch of at least k: the results do not change by one person.
        _, after = await open_wave_and_respondents(database)
        assert after == before > 0
        console = await sign_in(browser, url, database, "analyst@demo.workvoice.org")
        await console.goto(f"{url}/surveys/waves/{wave_id}/results")
        body = await console.inner_text("main")
        assert f"Respondents: {after}" in body and "fewer than 5" in body
        assert "Waiting: fewer than 5." in body
        await console.screenshot(path=str(SHOTS / "demo-survey-results.png"), full_page=True)
        await browser.close()


async def test_tour_news_follow_a_topic_then_the_organiser_sends_the_draft(
    demo: tuple[str, Path],
) -> None:
    from playwright.async_api import async_playwright

    from workvoice.demo.seed import DEMO_TOPICS, GENERAL_MEETING

    union = DEMO_TOPICS[0].names["bn"]
    url, database = demo
    SHOTS.mkdir(parents=True, exist_ok=True)
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = await browser.new_page(viewport={"width": 1400, "height": 1000})
        await page.goto(f"{url}/simulator")
        assert "Union general meeting on Thursday" in await page.inner_text(".tour")
        worker = await new_phone(page, "bn")
        phone = worker.locator
        await worker.onboard_in_bangla()
        await tap(page, phone, bn("📰 News"))
        await phone.locator("button.kb", has_text=f"➕ {union}").wait_for()
        await tap(page, phone, f"➕ {union}")
        await phone.locator("button.kb", has_text=f"✅ {union}").wait_for()

        # The organiser opens the seeded draft, sees who it reaches, and sends it.
        console = await sign_in(browser, url, database, "organiser@demo.workvoice.org")
        await console.goto(f"{url}/broadcasts")
        await console.click("text=Union general meeting on Thursday")
        await console.screenshot(path=str(SHOTS / "demo-broadcast-draft.png"), full_page=True)
        # Sending to a whole topic asks first (M13): the button does nothing until the box says
        # how many it reaches and is ticked.
        box = console.locator("#send-now input[name=confirm_action]")
        assert "send it now to" in await console.inner_text("#send-now")
        await console.click("button:has-text('Send now')")
        assert "Nothing was done" not in await console.content()
        assert await box.evaluate("b => !b.validity.valid")  # the browser held the form back
        await box.check()
        await console.click("button:has-text('Send now')")
        await console.wait_for_selector("text=The message is on its way.")
        # The scheduler queues it within seconds; the phone shows it in Bangla under the topic.
        arrived = phone.locator(".bubble.bot", has_text=GENERAL_MEETING["bn"][:20]).last
        await arrived.wait_for(timeout=30_000)
        assert union in await arrived.inner_text()
        await page.screenshot(path=str(SHOTS / "demo-news-bangla.png"), full_page=True)
        await browser.close()


def exact(phone: Phone, label: str) -> Any:
    """The newest button whose whole text is ``label`` (short Arabic words hide inside others)."""
    return phone.locator.locator("button.kb", has_text=re.compile(f"^{re.escape(label)}$")).last


async def test_tour_an_arabic_receipt_reads_left_to_right(demo: tuple[str, Path]) -> None:
    """Review B6: in Arabic the receipt's four groups of digits are drawn in the order written, so
    the worker copies the right number (they came out backwards with a right-to-left mark alone)."""
    from playwright.async_api import async_playwright

    from tests.test_rtl_browser import MEASURE

    def ar(message: str) -> str:
        if message in ("Yes", "No"):  # answer buttons carry a msgctxt
            return answer(message, "ar")
        return gettext(message, locale="ar")

    url, _database = demo
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = await browser.new_page(viewport={"width": 1200, "height": 1000})
        await page.goto(f"{url}/simulator")
        worker = await new_phone(page, "ar")
        await worker.onboard("ar", "العربية", "DEMO-IR")
        # Each tap, then the button the next screen offers (button texts are unambiguous).
        for label, then in (
            ("📣 Report a problem", "No"),
            ("No", "Wages, overtime pay or benefits"),
            ("Wages, overtime pay or benefits", "Wages not paid or paid late"),
            ("Wages not paid or paid late", "Skip"),  # the story step, before any story
        ):
            await exact(worker, ar(label)).click()
            await exact(worker, ar(then)).wait_for()
        await worker.say("لم يُدفع أجر شهر أكتوبر")
        received = ar("🔒 Received and sealed. You can send more, or tap ➡️ Done.")
        await worker.locator.locator(".bubble.bot", has_text=received[2:12]).wait_for()
        # From here each screen is told by its question (old screens may still show a Skip).
        for label, then in (
            ("➡️ Done", "You can add a photo or a PDF as evidence now, or tap Skip."),
            ("Skip", "Does this also happen to other workers?"),
            ("Yes", "🔢 Receipt number only"),
            (
                "🔢 Receipt number only",
                "May we tell the factory about the problem so it can be fixed? We never give "
                "your name.",
            ),
            ("No", "✅ Send report"),
        ):
            await exact(worker, ar(label)).click()
            if then.startswith(("✅", "🔢")):
                await exact(worker, ar(then)).wait_for()
            else:
                await worker.locator.locator(".bubble.bot", has_text=ar(then)[:15]).last.wait_for()
        await tap(page, worker.locator, ar("✅ Send report"))
        code = worker.locator.locator(".bubble.bot code").last
        await code.wait_for()
        groups = (await code.inner_text()).strip("\u2066\u2069").split()
        assert len(groups) == 4 and all(len(g) == 4 for g in groups), groups
        await page.locator(".phone").screenshot(path=str(SHOTS / "demo-receipt-ar.png"))
        drawn = await page.evaluate(MEASURE, groups)
        await browser.close()
    assert drawn and drawn[-1] == sorted(drawn[-1]) and len(set(drawn[-1])) == 4, drawn
