"""Bipartite committees (DESIGN §6), one module per noun: ``members`` (committees, seats,
invitations, enums, the event and audit trail), ``meetings`` (schedule, one-off, cancel, move,
holidays), ``planning`` (meeting rows and due tasks for the horizon), ``participation`` (RSVP,
quorum, agenda, attendance, minutes), ``actions`` (action items), ``stats`` (health figures),
``schedule`` (RRULE and time-zone rules) and ``jobs`` (the runner: due tasks claimed once across
replicas).

Committee business is kept apart from union business: nothing here reads or writes union data.
"""
