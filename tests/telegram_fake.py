"""The fake Telegram Bot API for tests: the same engine as the demo's simulator."""

from workvoice.demo.simulator.entities import ApiError, SentMessage, visible_text
from workvoice.demo.simulator.people import FakeUser
from workvoice.demo.simulator.server import FakeTelegram

__all__ = ["ApiError", "FakeTelegram", "FakeUser", "SentMessage", "visible_text"]
