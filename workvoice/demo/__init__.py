"""Demo mode and its test double: the whole product on a laptop, with no Telegram.

``run``: the demo itself (``run_demo``, the console's simulated phones); ``seed``: realistic demo
data made through the real services; ``simulator``: the in-process Telegram that the demo and the
tests talk to.
"""
