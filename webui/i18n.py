"""Language: Simplified Chinese by default, English on request. Strings are written as pairs
beside each other in the templates (t("中文", "English")), so a translation never drifts from
its source; Flask-Babel picks the locale and formats dates."""
from flask import request, session
from flask_babel import format_datetime, get_locale

LANGS = ("zh", "en")


def select_locale():
    lang = session.get("lang")
    if lang in LANGS:
        return lang
    return request.accept_languages.best_match(LANGS, default="zh") if request else "zh"


def lang():
    return "en" if str(get_locale()).startswith("en") else "zh"


def t(zh, en):
    return en if lang() == "en" else zh


def pick(pair):
    """A (zh, en) pair or list -> the current language's text."""
    if isinstance(pair, (list, tuple)) and len(pair) == 2:
        return pair[1] if lang() == "en" else pair[0]
    return pair


def when(value, fmt="yyyy-MM-dd HH:mm"):
    if value is None:
        return ""
    from engine.legaltime.clock import as_utc
    return format_datetime(as_utc(value), fmt)


def enum_label(prop, value):
    labels = prop.get("x-enum-labels", {}) if prop else {}
    if value in labels:
        return pick(labels[value])
    return value


def field_title(prop):
    return prop.get("x-title-en") if lang() == "en" and prop.get("x-title-en") else prop.get("title", "")


def unit_name(unit):
    if unit is None:
        return ""
    return unit.name_en if lang() == "en" and unit.name_en else unit.name
