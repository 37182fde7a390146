"""The translation catalogs: extract the messages of the code, merge them into the catalogs.

    python scripts/i18n.py extract   # geo_antt/locale/messages.pot from the code (Babel's extractor)
    python scripts/i18n.py update    # merge the template into geo_antt/locale/vi/LC_MESSAGES/messages.po
    python scripts/i18n.py check     # exit 1 when the template is stale or a message lacks Vietnamese

A message is ``msg("English template {field}", field=...)`` (geo_antt/i18n.py); the English is the
msgid and a translator writes the Vietnamese in messages.po with any PO editor. New messages
arrive in messages.po with an empty translation (``update``), which ``check`` and
tests/test_i18n.py report until they are filled in.
"""

from __future__ import annotations

import datetime as dt
import io
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "geo_antt"
LOCALE = PACKAGE / "locale"
POT = LOCALE / "messages.pot"
LANGS = ("vi",)
# msg(template, **params): the first argument is the msgid; N_(context, text): a page string
KEYWORDS = {"msg": None, "N_": ((1, "c"), 2)}
# a fixed date, so that the template changes only when the messages do
_DATE = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def extract() -> Catalog:
    """The template: every ``msg("...")`` of the package, with the files that use it."""
    cat = Catalog(project="geo-antt", domain="messages", creation_date=_DATE, charset="utf-8")
    found = extract_from_dir(
        str(PACKAGE),
        method_map=[("**/_data/**", "ignore"), ("**.py", "python")],
        keywords=KEYWORDS,
        comment_tags=("TRANSLATORS:",),
        strip_comment_tags=True,
    )
    for fname, lineno, message, comments, context in found:
        path = "geo_antt/" + Path(fname).as_posix()
        cat.add(message, None, [(path, lineno)], auto_comments=comments, context=context)
    return cat


def _write(cat: Catalog, path: Path) -> None:
    buf = io.BytesIO()
    write_po(buf, cat, width=100, sort_output=True, include_lineno=False, omit_header=False)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_bytes(buf.getvalue())
    tmp.replace(path)


def _read(path: Path, locale: str | None = None) -> Catalog:
    with open(path, "rb") as f:
        return read_po(f, locale=locale)


def update() -> None:
    """Write the template, then merge it into each language's catalog (new messages empty)."""
    template = extract()
    _write(template, POT)
    for lang in LANGS:
        po = LOCALE / lang / "LC_MESSAGES" / "messages.po"
        cat = _read(po, lang) if po.exists() else Catalog(locale=lang, project="geo-antt", creation_date=_DATE)
        cat.update(template, update_creation_date=False)
        cat.revision_date = _DATE
        cat.obsolete.clear()  # a message the code no longer uses leaves the catalog
        cat.fuzzy = False
        _write(cat, po)


def problems() -> list[str]:
    """Why the catalogs do not match the code (empty when they do)."""
    out: list[str] = []
    code = {(m.id, m.context) for m in extract() if m.id}
    if not POT.exists():
        return [f"{POT} is missing: run python scripts/i18n.py update"]
    pot = {(m.id, m.context) for m in _read(POT) if m.id}
    if code != pot:
        out.append(
            f"{POT.relative_to(ROOT)} is stale (run python scripts/i18n.py update): "
            f"new {sorted(code - pot)[:5]}, gone {sorted(pot - code)[:5]}"
        )
    for lang in LANGS:
        po = LOCALE / lang / "LC_MESSAGES" / "messages.po"
        cat = _read(po, lang)
        for mid, ctx in sorted(code, key=lambda t: (t[1] or "", t[0])):
            m = cat.get(mid, context=ctx)
            if m is None or not m.string or m.fuzzy:
                where = f" ({ctx})" if ctx else ""
                out.append(f"{po.relative_to(ROOT)}: no {lang} translation of {mid!r}{where}")
    return out


def main(argv: list[str]) -> int:
    """The command line: extract, update or check."""
    cmd = argv[1] if len(argv) > 1 else "check"
    if cmd == "extract":
        _write(extract(), POT)
    elif cmd == "update":
        update()
    elif cmd == "check":
        found = problems()
        for p in found:
            print(p)
        return 1 if found else 0
    else:
        print(__doc__)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
