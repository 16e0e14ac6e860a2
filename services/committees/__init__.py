"""Bipartite committees (DESIGN §6): ``core`` (committees, members, meetings, agenda, minutes,
actions, statistics), ``schedule`` (RRULE and time-zone rules), ``jobs`` (materialising meetings
and sending due reminders, claimed once across replicas).

Committee business is kept apart from union business: nothing here reads or writes union data.
"""
