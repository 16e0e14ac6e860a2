"""Grievance and harassment reporting (DESIGN §5): intake, the remediation protocol, anonymous
follow-up, deadlines and retention. Modules: ``protocol`` (the rules as data), ``crypto`` (sealed
boxes), ``receipts``, ``cases`` (the verbs), ``jobs`` (scheduled work)."""
