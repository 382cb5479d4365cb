"""Texts for people, written once in English and translated through the gettext catalogue
(webui/translations/<lang>/LC_MESSAGES/messages.po). The engine never imports Flask, so it does
not translate: it marks its texts for `pybabel extract` and hands them over as they are.

- `N_("Mediator")` marks a plain English text (a vocabulary entry, say) and returns it unchanged;
  the web layer translates it when it renders it (webui.i18n.label).
- `Msg("Already with %(who)s", who=name)` is a text with values: an exception or a refusal
  carries one, `str()` gives the English (for logs), and the web layer shows it in the reader's
  language (webui.i18n.say). A value may itself be a Msg or an N_ text; it is translated too.
- `in_chinese(text)` is for what the engine writes for people outside a request, in the
  deployment's language: a step title that names a department, an SMS reminder."""
from functools import lru_cache
from pathlib import Path

CATALOGUES = Path(__file__).resolve().parent.parent / "webui" / "translations"


def N_(msgid):
    return msgid


class Msg:
    __slots__ = ("msgid", "params")

    def __init__(self, msgid, **params):
        self.msgid, self.params = msgid, params

    def render(self, gettext):
        """The text through `gettext` (a function msgid -> translation), values included."""
        text = gettext(self.msgid)
        if not self.params:
            return text
        return text % {key: value.render(gettext) if isinstance(value, Msg) else value
                       for key, value in self.params.items()}

    def __str__(self):
        return self.render(lambda msgid: msgid)

    def __repr__(self):
        return f"Msg({self.msgid!r}, **{self.params!r})"

    def __eq__(self, other):
        return isinstance(other, Msg) and (self.msgid, self.params) == (other.msgid, other.params)

    def __hash__(self):
        return hash((self.msgid, repr(sorted(self.params.items()))))


def text_of(value, gettext):
    """An exception's, a Msg's or a plain text's words through `gettext`. A plain str is shown
    as it is: it is data (a name, a designer's text), not a catalogue entry."""
    if isinstance(value, BaseException):
        value = value.args[0] if len(value.args) == 1 else str(value)
    if isinstance(value, Msg):
        return value.render(gettext)
    return "" if value is None else str(value)


@lru_cache(maxsize=None)
def _translations(lang):
    from babel.support import Translations
    return Translations.load(str(CATALOGUES), [lang])


def in_chinese(value):
    """`value` (a Msg, an N_ text or an exception) in Chinese, from the compiled catalogue."""
    translations = _translations("zh")
    if isinstance(value, str):
        return translations.gettext(value)
    return text_of(value, translations.gettext)
