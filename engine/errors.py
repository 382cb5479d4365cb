"""Refusals every verb may give, for the web layer to turn into 403 and 404."""


class NotAllowed(Exception):
    """The actor's role or unit does not allow this (HTTP 403)."""


class NotFound(Exception):
    pass


class StepFailed(Exception):
    """The engine could not carry out the step (a failing script, a gateway with no way out, a
    case grown past its size limit). Nothing was saved: the case stays where it was."""
