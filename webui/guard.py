"""Input no view should ever see, refused once for every route: text no database can store (NUL
characters, lone surrogates) in any query parameter, form field, file name, path or JSON body;
JSON nested too deep; integers in paths, query strings and forms beyond the database's integer
range. Each refusal is a 400 with a message in both languages (JSON under /api/), never a 500."""
from datetime import date

from flask import Request, current_app, request
from flask.json.provider import DefaultJSONProvider
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.exceptions import BadRequest
from werkzeug.routing import IntegerConverter

from engine.library import jsonsafe
from engine.messages import Msg

# Ids and counts are INTEGER columns: 32 bits on PostgreSQL (SQLite takes 64).
DB_INT_MIN, DB_INT_MAX = -2 ** 31, 2 ** 31 - 1


class BadInput(BadRequest):
    """A request refused before any view ran; `message` (an engine.messages.Msg) says what was wrong."""

    def __init__(self, message):
        super().__init__(str(message))
        self.message = message


def db_int(value):
    """int() for a parameter that becomes a database integer: a number beyond the column's range
    is a 400, not an overflow in the database driver. Non-numbers stay a ValueError, so
    `args.get(name, default, type=int)` keeps falling back to its default for them."""
    number = int(value)
    if not DB_INT_MIN <= number <= DB_INT_MAX:
        raise BadInput(Msg("The number %(value)s is out of range", value=str(value)[:24]))
    return number


def int_param(value):
    """A parameter that must be a database integer (an id a form posts): otherwise a 400."""
    try:
        return db_int(value)
    except ValueError:
        raise BadInput(Msg("“%(value)s” is not a valid number", value=str(value)[:24])) from None


EARLIEST, LATEST = date(1900, 1, 1), date(2100, 12, 31)


def date_param(value):
    """A date typed into a search or a period (YYYY-MM-DD), or None when there is none. Raises
    ValueError for one that is not a date or lies outside 1900-2100 (no date the cases can have,
    and the edge of what the time-zone arithmetic behind the filters can count)."""
    if not value:
        return None
    day = date.fromisoformat(value)
    if not EARLIEST <= day <= LATEST:
        raise ValueError(value)
    return day


class BoundedInt(IntegerConverter):
    """<int:...> in every route: an id beyond the database's range matches nothing (404)."""

    def __init__(self, map, fixed_digits=0, min=None, max=None, signed=False):
        super().__init__(map, fixed_digits, min, DB_INT_MAX if max is None else max, signed)


class Params(ImmutableMultiDict):
    """Query strings and forms: `type=int` means an integer the database can hold."""

    def get(self, key, default=None, type=None):
        return super().get(key, default, db_int if type is int else type)

    def getlist(self, key, type=None):
        return super().getlist(key, db_int if type is int else type)


class GuardedRequest(Request):
    parameter_storage_class = Params

    @property
    def max_content_length(self):
        """MAX_CONTENT_LENGTH, unless the view takes larger requests (`takes_uploads`): known
        from the route before anything of the body is read, this guard's own checks included."""
        view = current_app.view_functions.get(self.endpoint) if self.url_rule is not None else None
        room = getattr(view, "max_request_bytes", None)
        return room() if room is not None else super().max_content_length


def takes_uploads(size):
    """A view whose form carries files: its requests may hold `size()` bytes."""
    def mark(view):
        view.max_request_bytes = size
        return view
    return mark


class SafeJSONProvider(DefaultJSONProvider):
    """request.get_json() everywhere parses with engine.library.jsonsafe: depth, NUL, surrogates, NaN."""

    def loads(self, s, **kwargs):
        return jsonsafe.loads(s)


def _check_text(where, values):
    for value in values:
        why = jsonsafe.bad_text(value) if isinstance(value, str) else None
        if why:
            raise BadInput(Msg("%(where)s %(why)s", where=where, why=why))


def check_request():
    """Run before every view."""
    _check_text(Msg("The address"), [request.path])
    _check_text(Msg("A query parameter"), [*request.args.keys(), *request.args.values()])
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        _check_text(Msg("A form field"), [*request.form.keys(), *request.form.values()])
        _check_text(Msg("A file name"), [f.filename for f in request.files.values()])
        if request.is_json and request.get_data(cache=True):
            try:
                jsonsafe.loads(request.get_data(cache=True))
            except jsonsafe.JsonRefused as refused:
                raise BadInput(Msg("The JSON body is refused: %(why)s", why=refused.message)) from None
            except ValueError as exc:
                raise BadInput(Msg("The body is not valid JSON: %(why)s", why=str(exc))) from None


def install(app):
    """Before the blueprints are registered, so their <int:...> routes take the bounded converter."""
    app.request_class = GuardedRequest
    app.url_map.converters["int"] = BoundedInt
    app.json = SafeJSONProvider(app)
    app.before_request(check_request)
