"""Language: Simplified Chinese by default, English on request. Texts are written once, in
English, and translated through the gettext catalogue webui/translations/zh/LC_MESSAGES/
messages.po (`_("Inbox")` in templates, `gettext as _` in Python, engine.messages.Msg for what
the engine says). How to add or convert strings: babel.cfg and the catalogue's tests in
tests/web/test_i18n.py. What a designer writes (form titles, option labels, sections, the risk
table's reasons) is data in both languages, shown by `authored`."""
from babel import dates
from flask import request, session
from flask.globals import _cv_app
from flask_babel import force_locale, get_locale, get_timezone, get_translations

from engine.messages import text_of

LANGS = ("zh", "en")


def _babel_context():
    """flask_babel's per-request namespace (g._flask_babel), or None outside a request or before
    flask_babel made it (read without going through the `g` proxy)."""
    ctx = _cv_app.get(None)
    return None if ctx is None else ctx.g.__dict__.get("_flask_babel")


def _per_locale(key, make):
    """`make()` once per request and locale: a page asks for hundreds of translations and dates,
    and flask_babel looks the locale, the domain and the catalogue up again on every call. Kept in
    flask_babel's own per-request namespace beside the locale it was made for, so force_locale()
    and refresh(), which replace that locale, get it made again; never kept across requests."""
    ns = _babel_context()
    if ns is not None:
        made = ns.__dict__.get(key)
        if made is not None and made[0] is ns.__dict__.get("babel_locale") is not None:
            return made[1]
    value = make()
    ns = _babel_context()
    locale = None if ns is None else ns.__dict__.get("babel_locale")
    if locale is not None:
        setattr(ns, key, (locale, value))
    return value


def translations():
    """The request's gettext catalogue (flask_babel.get_translations, once per request and locale)."""
    return _per_locale("yizhan_translations", get_translations)


def gettext(string, **variables):
    """flask_babel.gettext, through the catalogue looked up once per request."""
    text = translations().ugettext(string)
    return text % variables if variables else text


def install_gettext(app):
    """The templates' _(), ngettext() and the rest through `translations()` (after babel.init_app,
    which installs flask_babel's own)."""
    app.jinja_env.install_gettext_callables(
        gettext=lambda s: translations().ugettext(s),
        ngettext=lambda s, p, n: translations().ungettext(s, p, n),
        pgettext=lambda c, s: translations().upgettext(c, s),
        npgettext=lambda c, s, p, n: translations().unpgettext(c, s, p, n),
        newstyle=True)


def select_locale():
    lang = session.get("lang")
    if lang in LANGS:
        return lang
    return request.accept_languages.best_match(LANGS, default="zh") if request else "zh"


def lang():
    return _per_locale("yizhan_lang", lambda: "en" if str(get_locale()).startswith("en") else "zh")


def say(value):
    """What an engine refusal, a Msg or a vocabulary text (N_) says, in the reader's language; a
    designer's [zh, en] pair (a form's own pattern message) is shown as `authored`."""
    if isinstance(value, str):
        return gettext(value) if value else ""
    if isinstance(value, (list, tuple)):
        return authored(value)
    return text_of(value, gettext)


def say_in(language, value):
    """`say` in a given language (the API answers in both)."""
    with force_locale(language):
        return say(value)


def label(table, value):
    """A code's name from an English vocabulary (engine.access.policy.ROLES, labels.STATUS...),
    translated; an unknown code is shown as it is."""
    return gettext(table[value]) if value in table else (value or "")


def authored(pair):
    """A text a designer or administrator wrote in both languages, as [zh, en] (forms' option
    labels and sections, the risk table's reasons): the reader's one, or the Chinese when the
    English is missing. Anything else is shown as it is."""
    if isinstance(pair, (list, tuple)) and len(pair) == 2:
        return pair[1] if lang() == "en" and pair[1] else pair[0]
    return pair


def when(value, fmt="yyyy-MM-dd HH:mm"):
    if value is None:
        return ""
    from engine.legaltime.clock import as_utc
    locale, zone = _per_locale("yizhan_dates", lambda: (get_locale(), get_timezone()))
    plain = _DIGITS_ONLY.get(fmt)
    if plain is not None:
        local = as_utc(value).astimezone(zone)
        return plain.format(zone.normalize(local) if hasattr(zone, "normalize") else local)
    # flask_babel.format_datetime(value, fmt) without its look-ups: the user's time zone, their locale.
    return dates.format_datetime(as_utc(value), fmt, tzinfo=zone, locale=locale)


# The patterns the pages use most, which are digits in every locale: written directly, as Babel
# writes them (Babel parses and applies the pattern field by field, ~150 times on an inbox).
_DIGITS_ONLY = {"yyyy-MM-dd HH:mm": "{0.year:04d}-{0.month:02d}-{0.day:02d} {0.hour:02d}:{0.minute:02d}",
                "yyyy-MM-dd": "{0.year:04d}-{0.month:02d}-{0.day:02d}", "HH:mm": "{0.hour:02d}:{0.minute:02d}"}


def enum_label(prop, value):
    labels = prop.get("x-enum-labels", {}) if prop else {}
    if value in labels:
        return authored(labels[value])
    return value


def field_title(prop):
    return prop.get("x-title-en") if lang() == "en" and prop.get("x-title-en") else prop.get("title", "")


def unit_name(unit):
    if unit is None:
        return ""
    return unit.name_en if lang() == "en" and unit.name_en else unit.name
