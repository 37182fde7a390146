"""Translations through gettext catalogs (Babel): the words a user reads, in Vietnamese and English.

The source language of every message is English; the Vietnamese lives in one catalog,
``geo_antt/locale/vi/LC_MESSAGES/messages.po``, that a translator edits with any PO editor
(Poedit, Lokalize, Weblate). ``geo_antt/locale/messages.pot`` is the template, extracted from the
code by ``python scripts/i18n.py extract`` (Babel's extractor) and merged into the catalog with
``python scripts/i18n.py update``; ``tests/test_i18n.py`` fails when the template is stale or a
message has no Vietnamese.

A message that carries values is built with :func:`msg` from a template and its parameters::

    msg("duplicate id (first at row {row})", row=3)

It is a ``str`` (its English text), so every caller that logs, compares or prints it keeps
working, and it remembers its template and parameters so that :func:`translate` can write it in
another language later, in the process that knows the reader's language. Parameters that are
messages themselves are translated too.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from babel.messages.catalog import Catalog
from babel.messages.pofile import read_po

__all__ = [
    "LANGUAGES",
    "Message",
    "msg",
    "gettext",
    "pgettext",
    "translate",
    "catalog",
    "locale_dir",
    "language_from_environment",
    "N_",
    "strings_table",
]

log = logging.getLogger(__name__)

LANGUAGES = ("vi", "en")
SOURCE_LANGUAGE = "en"


class Message(str):
    """A message's English text, with the template and parameters that translate it.

    Parameters
    ----------
    template : str
        The English template (a :meth:`str.format` pattern); the msgid of the catalogs.
    params : mapping
        The values of the template's fields.
    """

    template: str
    params: dict[str, Any]

    def __new__(cls, template: str, params: Mapping[str, Any] | None = None) -> Message:  # noqa: D102
        params = dict(params or {})
        try:
            text = template.format(**params) if params else template
        except (KeyError, IndexError, ValueError):  # a wrong template must not hide the error it reports
            text = template + " " + repr(params)
        obj = super().__new__(cls, text)
        obj.template = template
        obj.params = params
        return obj

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickle the template and parameters (a job's result crosses process boundaries)."""
        return (Message, (self.template, self.params))

    def in_language(self, lang: str) -> str:
        """The message in ``lang`` ("vi" or "en"); English where the catalog has no translation."""
        return translate(self, lang)


def language_from_environment(environ: Mapping[str, str] | None = None) -> str:
    """The language of the command line: ``GEO_ANTT_LANG``, else the POSIX locale variables
    (``LC_ALL``, ``LC_MESSAGES``, ``LANG``; ``vi_VN.UTF-8`` -> "vi"); English when none says vi.
    """
    import os

    env = os.environ if environ is None else environ
    for var in ("GEO_ANTT_LANG", "LC_ALL", "LC_MESSAGES", "LANG"):
        v = (env.get(var) or "").strip().lower()
        if v:
            return "vi" if v.startswith("vi") else "en"
    return "en"


def msg(template: str, /, **params: Any) -> Message:
    """A translatable message: ``template`` (English, :meth:`str.format` fields) with ``params``.

    The template must be a literal string (Babel extracts it into the catalog template).
    """
    return Message(template, params)


def locale_dir() -> Path:
    """The directory holding ``messages.pot`` and ``<lang>/LC_MESSAGES/messages.po`` (in the package)."""
    return Path(__file__).resolve().parent / "locale"


@functools.cache
def catalog(lang: str) -> Catalog | None:
    """The catalog of ``lang`` read from its ``.po`` file (once per process), or None for English."""
    if lang == SOURCE_LANGUAGE:
        return None
    path = locale_dir() / lang / "LC_MESSAGES" / "messages.po"
    try:
        with open(path, "rb") as f:
            return read_po(f, locale=lang)
    except OSError:
        log.error("no translation catalog for %r at %s: messages stay in English", lang, path)
        return None


def _lookup(lang: str, msgid: str, context: str | None) -> str | None:
    cat = catalog(lang)
    if cat is None:
        return None
    m = cat.get(msgid, context=context)
    if m is None or m.fuzzy or not m.string or not isinstance(m.string, str):
        return None
    return m.string


def gettext(lang: str, msgid: str) -> str:
    """``msgid`` (English) in ``lang``; the English itself where no translation exists."""
    return _lookup(lang, msgid, None) or msgid


def pgettext(lang: str, context: str, msgid: str) -> str:
    """``msgid`` of ``context`` (where the same English needs different words) in ``lang``."""
    return _lookup(lang, msgid, context) or msgid


def translate(text: Any, lang: str) -> str:
    """A message (or plain text) written in ``lang``.

    A :class:`Message` is written from the translation of its template with its parameters (each
    translated in turn); plain text is looked up whole in the catalog and returned unchanged when
    it is not there (a unit's name, a value, a message from a library).
    """
    if text is None:
        return ""
    if lang == SOURCE_LANGUAGE or lang not in LANGUAGES:
        return str(text)
    if isinstance(text, Message):
        tmpl = _lookup(lang, text.template, None)
        if tmpl is None:
            return str(text)
        params = {k: translate(v, lang) if isinstance(v, Message) else v for k, v in text.params.items()}
        try:
            return tmpl.format(**params)
        except (KeyError, IndexError, ValueError):
            log.error("the %s translation of %r does not fit its parameters", lang, text.template)
            return str(text)
    if isinstance(text, str):
        return _lookup(lang, text, None) or text
    return str(text)


def N_(context: str, text: str) -> str:  # noqa: N802 (the gettext convention for a marker)
    """Mark ``text`` (English) as a message of ``context`` for the catalog; returns it unchanged.

    The entries of a page's string table are written ``"key": N_("pages", "English")``; Babel
    extracts them with their context (``msgctxt``), so that the same English may read
    differently in two places ("Field": a column of a form, or a model's lĩnh vực).
    """
    return text


def strings_table(context: str, entries: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """A page's strings in every language: ``{"vi": {key: text}, "en": {key: text}}``.

    Parameters
    ----------
    context : str
        The entries' context in the catalog (the table's name: "pages", "maps", ...).
    entries : mapping
        Key to English text (each written ``N_(context, "...")``).
    """
    out: dict[str, dict[str, str]] = {}
    for lang in LANGUAGES:
        out[lang] = {k: (pgettext(lang, context, v) if lang != SOURCE_LANGUAGE else v) for k, v in entries.items()}
    return out
