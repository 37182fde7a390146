"""Vietnamese text: NFC normalisation and diacritic-insensitive folding for search and headers."""

from __future__ import annotations

import re
import unicodedata
from typing import overload

__all__ = ["nfc", "fold", "fold_key", "strip_unit_type"]

_SPACE = re.compile(r"\s+")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")
# Words that start official unit names (folded), longest first so that "thi xa" wins over "xa".
_UNIT_TYPE_WORDS = tuple(
    sorted(
        (
            "thanh pho",
            "thi xa",
            "thi tran",
            "dac khu",
            "tinh",
            "huyen",
            "quan",
            "xa",
            "phuong",
            "to dan pho",
            "khu pho",
            "ap",
            "thon",
            "ban",
            "buon",
            "soc",
            "xom",
            "khom",
            "to",
        ),
        key=len,
        reverse=True,
    )
)


@overload
def nfc(text: str) -> str: ...
@overload
def nfc(text: None) -> None: ...
@overload
def nfc(text: str | None) -> str | None: ...
def nfc(text: str | None) -> str | None:
    """Return ``text`` in Unicode NFC with surrounding white space removed (None stays None)."""
    if text is None:
        return None
    return unicodedata.normalize("NFC", str(text)).strip()


def fold(text: str | None) -> str:
    """Fold ``text`` for matching: no diacritics, lower case, single spaces.

    ``đ``/``Đ`` are folded to ``d`` explicitly: Unicode decomposition leaves them alone.

    Examples
    --------
    >>> fold("  Hương   Mỹ ")
    'huong my'
    >>> fold("ĐÔNG NAM")
    'dong nam'
    """
    if text is None:
        return ""
    s = unicodedata.normalize("NFD", str(text))
    s = "".join(ch for ch in s if unicodedata.category(ch) != "Mn")
    s = s.replace("đ", "d").replace("Đ", "D").replace("ð", "d").replace("Ð", "D")
    return _SPACE.sub(" ", s.lower()).strip()


def fold_key(text: str | None) -> str:
    """Fold ``text`` to a compact key (letters and digits only) for header matching.

    >>> fold_key("Kinh độ (°)")
    'kinhdo'
    """
    return _NON_ALNUM.sub("", fold(text))


def strip_unit_type(folded: str) -> str:
    """The folded name of a unit without its leading unit-type word ("xa an thanh" -> "an
    thanh", "thi tran thanh phu" -> "thanh phu"); a name without one is returned as it is.

    >>> strip_unit_type(fold("Tổ dân phố 5"))
    '5'
    """
    for w in _UNIT_TYPE_WORDS:
        if folded.startswith(w + " "):
            return folded[len(w) + 1 :]
    return folded
