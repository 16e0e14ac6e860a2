"""Grievance and harassment reporting (DESIGN §5): intake, the remediation protocol, anonymous
follow-up, deadlines and retention. Modules: ``protocol`` (the rules as data), ``crypto`` (sealed
boxes), ``receipts``, ``submission`` (new cases and their drafts), ``cases`` (handling a case:
access, transitions, closing, assigning, notes, referrals), ``conversation`` (handler ↔ reporter
messages), ``queue`` (the console's queue and counts), ``jobs`` (scheduled work)."""
