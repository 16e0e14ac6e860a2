"""The conversation pattern every flow shares (``bot.wizard``), shown on the committee join: a wrong
code keeps the worker on the step, Back, Cancel and /cancel, stale and forged taps re-ask the
current step, an expired conversation says so, and a step table that names an unknown step fails
at import, not as a dead button."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from bot import flowdocs
from bot.flows.committees.join import JOIN, JoinStep
from bot.i18n import gettext
from bot.storage.db import transaction
from bot.storage.models import Factory
from bot.wizard import Nav, Step, StepTap, Wizard
from services.committees import members
from tests.factories import make_factory, make_worker
from tests.harness import BotHarness


def t(message: str, locale: str, **params: object) -> str:
    return gettext(message, locale=locale, **params)


CLOSED = (
    "This conversation was closed: it ended, or it was left for a long time and deleted to keep "
    "you safe. Please start again from the menu."
)
CODE_PROMPT = "You are not on a committee yet. If you have an invitation code, type it here."


async def _invite(app: BotHarness) -> str:
    factory = await make_factory(app.sessions, "KH-01", country="KH", timezone="Asia/Phnom_Penh")
    async with transaction(app.sessions) as session:
        here = await session.get(Factory, factory.id)
        assert here is not None
        committee = await members.do_create_committee(
            session, here, kind="picc", name="PICC Phnom Penh", actor=None
        )
        invite = await members.do_create_invite(session, committee, side="worker", actor=None)
        return invite.code


async def test_join_keeps_the_code_step_after_a_wrong_code_and_goes_back_and_cancels(
    app: BotHarness,
) -> None:
    code = await _invite(app)
    await make_worker(app.sessions, 8101, locale="bn", factory_code="KH-01")
    worker = app.user(8101, language_code="bn")
    await worker.send("/committee")
    prompt = await worker.wait_reply()
    assert prompt.plain_text() == t(CODE_PROMPT, "bn")
    assert t("✖️ Cancel", "bn") in prompt.buttons()
    assert t("⬅️ Back", "bn") not in prompt.buttons()  # nothing to go back to

    # B2.3: one wrong code no longer throws the worker out of the step.
    await worker.send("ABC123")
    await worker.wait_reply(contains=t(members.UnknownInvite.message, "bn"))
    again = await worker.wait_reply(contains=t(CODE_PROMPT, "bn"))
    assert t("✖️ Cancel", "bn") in again.buttons()
    await worker.send(code)
    name = await worker.wait_reply(contains="PICC Phnom Penh")
    assert name.buttons() == [t("⬅️ Back", "bn"), t("✖️ Cancel", "bn")]

    await worker.tap(t("⬅️ Back", "bn"))
    await worker.wait_reply(contains=t(CODE_PROMPT, "bn"))
    await worker.send(code)
    await worker.wait_reply(contains="PICC Phnom Penh")
    await worker.tap(t("✖️ Cancel", "bn"))
    done = await worker.wait_reply()
    assert done.plain_text() == t("You did not join the committee. Nothing was kept.", "bn")
    await worker.wait_idle()
    await worker.send("Rahima")  # the conversation is over: a name now is just chat
    reply = await worker.wait_reply()
    assert "PICC" not in reply.plain_text()


async def test_cancel_command_and_stale_taps(app: BotHarness) -> None:
    code = await _invite(app)
    await make_worker(app.sessions, 8102, locale="ar", factory_code="KH-01")
    worker = app.user(8102, language_code="ar")
    await worker.send("/committee")
    await worker.wait_reply(contains=t(CODE_PROMPT, "ar"))
    await worker.send(code)
    await worker.wait_reply(contains="PICC Phnom Penh")
    await worker.wait_idle()

    # A button of the earlier step (its message kept it on another device): the current step again.
    stale = StepTap(flow=JOIN.flow, step=JoinStep.CODE, value=Nav.CANCEL).pack()
    await worker.tap_data(stale)
    again = await worker.wait_reply()
    assert "PICC Phnom Penh" in again.plain_text()
    assert worker.answered_callbacks[-1]["text"] == t("This button is no longer active.", "ar")
    # In Arabic, Back points right.
    assert "➡️" in " ".join(again.buttons()) and "⬅️" not in " ".join(again.buttons())

    # A forged value for the current step: re-asked, nothing stored.
    await worker.tap_data(StepTap(flow=JOIN.flow, step=JoinStep.NAME, value="x").pack())
    assert "PICC Phnom Penh" in (await worker.wait_reply()).plain_text()

    await worker.send("/cancel")
    assert (await worker.wait_reply()).plain_text() == t(
        "You did not join the committee. Nothing was kept.", "ar"
    )
    await worker.send("/cancel")
    assert (await worker.wait_reply()).plain_text() == t("There is nothing to cancel.", "ar")

    # A button of a conversation that is gone (ended, or expired by the storage's TTL).
    await worker.tap_data(StepTap(flow=JOIN.flow, step=JoinStep.NAME, value=Nav.BACK).pack())
    gone = await worker.wait_reply()
    assert gone.plain_text() == t(CLOSED, "ar")


async def test_menu_and_start_end_the_step_the_worker_was_in(app: BotHarness) -> None:
    code = await _invite(app)
    await make_worker(app.sessions, 8103, locale="en", factory_code="KH-01")
    worker = app.user(8103)
    for leave in ("/start", "/menu"):
        await worker.send("/committee")
        await worker.wait_reply(contains=CODE_PROMPT)
        await worker.send(leave)
        await worker.wait_idle()
        await worker.send(code)  # typed after leaving: not taken as the invitation code
        reply = await worker.wait_reply()
        assert "PICC" not in reply.plain_text()


class _Draft(BaseModel):
    a: str = ""


def test_a_step_table_naming_an_unknown_step_fails_at_once() -> None:
    with pytest.raises(ValueError, match="unknown steps"):
        Wizard(
            "broken",
            [Step(name="a", prompt=lambda d: "?", next="nowhere")],
            draft=_Draft,
            finish=lambda turn: None,  # type: ignore[arg-type,return-value]
            cancelled=lambda: "",
        )


def test_every_screen_of_the_join_has_cancel_and_back_after_the_first_step() -> None:
    draft = JOIN.draft_model(committee="PICC")
    first = JOIN.screen(JoinStep.CODE, draft, can_go_back=False)
    second = JOIN.screen(JoinStep.NAME, draft)
    assert [b.label for b in first.buttons] == ["✖️ Cancel"]
    assert [b.label for b in second.buttons] == ["⬅️ Back", "✖️ Cancel"]


def test_docs_flows_md_is_generated_from_the_step_tables() -> None:
    assert flowdocs.DOC.read_text(encoding="utf-8") == flowdocs.render(), (
        "docs/flows.md is stale: run `workvoice flows --write`"
    )
