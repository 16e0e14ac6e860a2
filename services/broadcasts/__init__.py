"""Organiser broadcasts (DESIGN §8): topics workers opt into, and one message per language sent to
a topic's subscribers at Telegram's pace, each worker at most once.

``topics`` holds the topics and the workers' opt-ins; ``messages`` composes, schedules and fans a
broadcast out into the outbox, and keeps its delivery report.
"""
