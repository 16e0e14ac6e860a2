"""Domain services shared by the bot, the console and the scheduler.

No module here imports aiogram or web code (import-linter checks it). Conventions (STYLE.md):
``check_*`` validates, ``do_*`` makes one complete change, ``access_*`` loads or refuses for a staff
member, ``notify_*`` enqueues an outbound message. Services ``flush`` and never ``commit``: the edge
that opened the transaction commits it. Anything that must reach a worker goes through
``services.outbox.enqueue`` and so leaves only after that commit.
"""
