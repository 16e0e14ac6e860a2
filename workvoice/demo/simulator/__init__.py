"""The in-process Telegram the demo and the tests talk to.

``entities``: Telegram's HTML and limits; ``server``: the Bot API server (``FakeTelegram``);
``people``: simulated workers (``FakeUser``).
"""
