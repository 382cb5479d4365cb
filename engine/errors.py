"""Refusals every verb may give, for the web layer to turn into 403 and 404."""


class NotAllowed(Exception):
    """The actor's role or unit does not allow this (HTTP 403)."""


class NotFound(Exception):
    pass
