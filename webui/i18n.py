"""Language: Simplified Chinese by default, English on request. Texts are written once, in
English, and translated through the gettext catalogue webui/translations/zh/LC_MESSAGES/
messages.po (`_("Inbox")` in templates, `gettext as _` in Python, engine.messages.Msg for what
the engine says). How to add or convert strings: babel.cfg and the catalogue's tests in
tests/web/test_i18n.py. What a designer writes (form titles, option labels, sections, the risk
table's reasons) is data in both languages, shown by `authored`."""
from flask import request, session
from flask_babel import force_locale, format_datetime, get_locale, gettext

from engine.messages import text_of

LANGS = ("zh", "en")


def select_locale():
    lang = session.get("lang")
    if lang in LANGS:
        return lang
    return request.accept_languages.best_match(LANGS, default="zh") if request else "zh"


def lang():
    return "en" if str(get_locale()).startswith("en") else "zh"


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
    return format_datetime(as_utc(value), fmt)


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
