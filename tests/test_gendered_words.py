"""Review B8: where a language words a message differently for a woman and a man, a worker who gave
her gender reads her own words; anyone else, and every language without a variant, the neutral
wording. Messages marked "gendered" for translators get optional variants in the catalogs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine
from babel.messages.pofile import read_po

from bot.i18n import gettext, locales_dir, use_gender
from services.committees import jobs
from tests.factories import make_committee, make_factory, make_worker
from tests.harness import BotHarness
from workvoice import i18n_tools
from workvoice.context import AppContext

START = datetime(2027, 1, 1, 3, 0, tzinfo=UTC)
FIRST = datetime(2027, 1, 5, 8, 0, tzinfo=UTC)
# (telegram id, language, gender): Hindi for a woman, a man and one who did not say; Bangla has
# no variant (its "I will come" is the same for all).
PEOPLE = [
    (7401, "hi", "woman"),
    (7402, "hi", "man"),
    (7403, "hi", "undisclosed"),
    (7404, "bn", "woman"),
]


def test_the_neutral_wording_unless_a_variant_exists() -> None:
    assert gettext("✅ I will come", locale="hi") == "✅ हाँ, आना है"  # review row 19: no slash
    with use_gender("woman"):
        assert gettext("✅ I will come", locale="hi") == "✅ मैं आऊँगी"
        assert gettext("✅ I will come", locale="ur") == "✅ میں آؤں گی"
        assert gettext("✅ I will come", locale="bn") == gettext("✅ I will come", locale="bn")
        assert gettext("What would you like to do?", locale="hi") == gettext(
            "What would you like to do?", locale="hi"
        )  # not gendered: one wording
    with use_gender("man"):
        assert gettext("❌ I cannot come", locale="hi") == "❌ मैं नहीं आ पाऊँगा"
    with use_gender("other"):
        assert gettext("✅ I will come", locale="hi") == "✅ हाँ, आना है"


def test_gendered_messages_have_optional_variants_in_every_catalog() -> None:
    with (locales_dir() / "committees.pot").open("rb") as fh:
        template = read_po(fh)
    for context in ("feminine", "masculine"):
        assert template.get("✅ I will come", context) is not None
    # Left empty where a language needs none: not a missing translation.
    with (locales_dir() / "bn" / "LC_MESSAGES" / "committees.po").open("rb") as fh:
        assert read_po(fh, locale="bn").get("✅ I will come", "feminine").string == ""
    assert not [p for p in i18n_tools.check() if "I will come" in p]


async def test_each_member_reads_the_answers_in_her_own_words(app: BotHarness) -> None:
    with time_machine.travel(START, tick=False):
        factory = await make_factory(app.sessions, "DK-09", country="BD", timezone="Asia/Dhaka")
        for telegram_id, locale, gender in PEOPLE:
            await make_worker(
                app.sessions, telegram_id, locale=locale, factory_code="DK-09", gender=gender
            )
        await make_committee(
            app.sessions, factory, [tid for tid, _l, _g in PEOPLE], location="Canteen", now=START
        )
    users = {tid: app.user(tid, language_code=loc) for tid, loc, _g in PEOPLE}
    at = FIRST - timedelta(days=3)
    with time_machine.travel(at, tick=False):
        await jobs.run_committees(
            AppContext(settings=app.settings, engine=None, sessions=app.sessions),  # type: ignore[arg-type]
            now=at,
        )
        assert await app.deliver() == len(PEOPLE)
    buttons = {tid: users[tid].messages[-1].buttons() for tid in users}
    assert "✅ मैं आऊँगी" in buttons[7401] and "❌ मैं नहीं आ पाऊँगी" in buttons[7401]
    assert "✅ मैं आऊँगा" in buttons[7402] and "❌ मैं नहीं आ पाऊँगा" in buttons[7402]
    assert "✅ हाँ, आना है" in buttons[7403]  # did not say: the neutral wording
    assert gettext("✅ I will come", locale="bn") in buttons[7404]
    # Her tap is answered in her words too (the reply goes through the middleware, not delivery).
    await users[7401].tap("✅ मैं आऊँगी")
    await users[7401].wait_idle()
    assert any("मैं आऊँगी" in label for label in users[7401].messages[-1].buttons())
