"""The fake Telegram Bot API for tests: the same engine as the demo's simulator."""

from workvoice.simulator import ApiError, FakeTelegram, FakeUser, SentMessage, visible_text

__all__ = ["ApiError", "FakeTelegram", "FakeUser", "SentMessage", "visible_text"]
