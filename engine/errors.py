"""Refusals every verb may give, in one place, for the web layer to turn into pages and messages:
NotAllowed (403), NotFound (404), Conflict and Busy (a message on the page the person came from),
StepFailed and FormInvalid (the form again, with what was typed), Throttled (429) and UploadRefused
(a file that is not kept, with the reason)."""


class NotAllowed(Exception):
    """The actor's role or unit does not allow this (HTTP 403)."""


class NotFound(Exception):
    pass


class Conflict(Exception):
    """The case is not in a state that allows this now: someone else changed it first, or it
    already moved on (HTTP 409, or a message on the case page)."""


class Busy(Conflict):
    """The database could not take the write now (SQLite's single writer stayed locked past the
    busy timeout; PostgreSQL gave up on a lock, a serialisation or a deadlock). Nothing was saved,
    so the whole action may simply be run again."""


class StepFailed(Exception):
    """The engine could not carry out the step (a failing script, a gateway with no way out, a
    case grown past its size limit). Nothing was saved: the case stays where it was."""


class FormInvalid(Exception):
    """What was typed does not pass the form's rules; `errors` maps a field to its (zh, en) message
    and `data` is what was typed, to show again."""

    def __init__(self, errors, data):
        super().__init__("the form has errors")
        self.errors = errors
        self.data = data


class Throttled(Exception):
    """Too many tries from one phone or one address in a while (HTTP 429). `retry_after` is the
    number of seconds before the next try can succeed; the message says what to do."""

    def __init__(self, message, retry_after):
        super().__init__(message)
        self.retry_after = max(1, int(retry_after))


class UploadRefused(ValueError):
    """An uploaded file that is not kept: not a photo or a PDF by its content (whatever its name
    says), damaged, empty, too large, or one too many. `kind` names why, for counting refusals."""

    def __init__(self, message, kind):
        super().__init__(message)
        self.kind = kind
