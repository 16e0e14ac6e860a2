"""One module per conversation, each exposing ``router``. Flows parse, call a service, render.

They never import each other: shared keyboards and helpers are in ``bot.widgets``.
"""
