"""How refusals reach people: an error page in their language, or JSON for the API."""
from flask import jsonify, render_template, request

from engine.errors import Conflict, NotAllowed, NotFound
from engine.messages import Msg

from . import guard, i18n


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
    def not_allowed_here(_error):
        return error_page(405, Msg("This address does not take that method."))

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
        limit = app.config["MAX_CONTENT_LENGTH"] // (1024 * 1024)
        return error_page(413, Msg("The request is larger than the %(limit)s MB limit.", limit=limit))


def error_page(code, message):
    """An error (a Msg or an engine refusal) as a page in the reader's language, or as JSON
    ({"error": English, "error_zh": Chinese}) for the API."""
    if request.path.startswith("/api/"):
        return jsonify(error=i18n.say_in("en", message), error_zh=i18n.say_in("zh", message)), code
    return render_template("error.html", code=code, message=i18n.say(message)), code
