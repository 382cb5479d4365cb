"""How refusals reach people: an error page in their language, or JSON for the API. Under /api/
every answer that is not a success is JSON ({"error": English, "error_zh": Chinese}), whatever
raised it: an outside system parses the body, and an HTML page there is a broken contract."""
import uuid

from flask import current_app, jsonify, render_template, request
from sqlalchemy.exc import DBAPIError, TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException, InternalServerError

from engine.errors import Conflict, NotAllowed, NotFound
from engine.messages import Msg
from engine.persistence.uow import is_unavailable, outage_behind, outage_summary

from . import guard, i18n
from .extensions import db, login_manager

API_PREFIX = "/api/"
# How long a client is told to wait when the database is out of reach: a restart takes seconds.
RETRY_AFTER_SECONDS = 15


def register(app):
    @app.errorhandler(403)
    @app.errorhandler(NotAllowed)
    def forbidden(_error):
        return error_page(403, Msg("You may not see this page or do this."))

    @app.errorhandler(404)
    @app.errorhandler(NotFound)
    def not_found(_error):
        return error_page(404, Msg("Not found."))

    @app.errorhandler(405)
    def not_allowed_here(error):
        # The Allow header names the methods the address does take (RFC 9110 15.5.6).
        return error_page(405, Msg("This address does not take that method."), headers=_headers_of(error))

    @app.errorhandler(Conflict)
    def conflict(error):
        return error_page(409, error)

    @app.errorhandler(400)
    def bad_request(error):
        if isinstance(error, guard.BadInput):
            return error_page(400, error.message)
        return error_page(400, Msg("Bad request (the page may have expired; reload and try again)."))

    @app.errorhandler(413)
    def too_large(_error):
        limit = (request.max_content_length or app.config["MAX_CONTENT_LENGTH"]) // (1024 * 1024)
        return error_page(413, Msg("The request is larger than the %(limit)s MB limit.", limit=limit))

    @app.errorhandler(415)
    def not_json(_error):
        return error_page(415, Msg("The body must be JSON (Content-Type: application/json)."))

    @app.errorhandler(429)
    def throttled(error):
        return error_page(429, Msg("Too many requests; wait a moment and try again."), headers=_headers_of(error))

    @app.errorhandler(DBAPIError)
    @app.errorhandler(PoolTimeout)
    def database_error(error):
        """The database down or out of reach (restarting, say): a 503 telling to try again, the
        transaction rolled back, a page that reads nothing more from the database. Any other
        database error is unexpected (500)."""
        if not is_unavailable(error):
            return unexpected(InternalServerError(original_exception=error))
        return _database_unavailable(error)

    def _database_unavailable(error):
        current_app.logger.warning("database unavailable on %s %s: %s", request.method, request.path,
                                   outage_summary(error))
        _roll_back()
        # The page is shown as to someone not logged in: the login (and the menu's counts) would be
        # read from the database, which is what failed.
        login_manager._update_request_context_with_user()
        return error_page(503, Msg("The database cannot be reached just now and nothing was saved. Please try "
                                   "again in a moment."), headers={"Retry-After": str(RETRY_AFTER_SECONDS)})

    @app.errorhandler(500)
    def unexpected(error):
        # The reader gets a reference and nothing of the error itself (no traceback, no SQL);
        # the log holds the traceback under the same reference.
        cause = getattr(error, "original_exception", None) or error
        outage = outage_behind(cause)
        if outage is not None:
            # The database went away, and what reached us is not the driver's error itself (the
            # next statement's "invalid transaction", a library that wrapped it): still a 503.
            return _database_unavailable(outage)
        reference = uuid.uuid4().hex[:12]
        current_app.logger.error("unexpected error, reference %s, on %s %s", reference, request.method,
                                 request.path, exc_info=(type(cause), cause, cause.__traceback__))
        # A failed statement leaves PostgreSQL's transaction aborted: whatever the answer still
        # reads (a lazy relation in the page's top bar) must not fail on it.
        _roll_back()
        return error_page(500, Msg("Something went wrong on our side (reference %(reference)s); "
                                   "nothing was saved. Please try again later.", reference=reference),
                          reference=reference)

    @app.errorhandler(HTTPException)
    def other_http_error(error):
        # Any other status werkzeug raises (411, 414, 416, 431, 501...): its English description
        # is all there is, in one language, which still beats an HTML page under /api/.
        if error.code is None or error.code < 400:
            return error
        return error_page(error.code, Msg("The request was refused (HTTP %(code)s).", code=error.code),
                          headers=_headers_of(error))


def _roll_back():
    try:
        db.session.rollback()
    except Exception:  # noqa: BLE001 - the connection is gone: drop it, the server rolls back
        db.session.invalidate()


def _headers_of(error):
    """Headers a werkzeug exception carries for the client (Allow, Retry-After), not its own
    Content-Type: the body is ours."""
    if not isinstance(error, HTTPException):
        return {}
    return {name: value for name, value in error.get_headers() if name.lower() != "content-type"}


def is_api_request():
    return request.path.startswith(API_PREFIX)


def api_error(code, message, headers=None, **extra):
    """An API refusal: the message (a Msg or an engine refusal) in English and Chinese, with any
    extra fields (`fields` / `fields_zh` for invalid input, `reference` for an unexpected error)."""
    response = jsonify(error=i18n.say_in("en", message), error_zh=i18n.say_in("zh", message), **extra)
    response.status_code = code
    response.headers.update(headers or {})
    return response


def error_page(code, message, headers=None, **extra):
    """An error (a Msg or an engine refusal) as a page in the reader's language, or as JSON
    ({"error": English, "error_zh": Chinese}) for the API."""
    if is_api_request():
        return api_error(code, message, headers, **extra)
    return render_template("error.html", code=code, message=i18n.say(message)), code, headers or {}
