"""What people write with a case action (a reason, an approver, a note for a move or a reminder):
kept whole or refused with a message, never cut to fit (the case page counts as one types)."""
from engine.errors import Conflict
from engine.messages import Msg

REASON = 1000      # a reason or note on a step or a case
APPROVER = 100     # who approved an extension
MOVE_NOTE = 2000   # a note for the unit a case moves to


def note(value, limit, missing=None):
    """`value` stripped; Conflict if it is longer than `limit` characters, or empty and `missing`
    (the message saying what is needed) is given."""
    text = (value or "").strip()
    if missing is not None and not text:
        raise Conflict(missing)
    if len(text) > limit:
        raise Conflict(Msg("A note may have at most %(limit)s characters and this one has %(n)s: "
                           "shorten it and submit again", limit=limit, n=len(text)))
    return text
