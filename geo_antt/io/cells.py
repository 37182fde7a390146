"""Parsers for the cells of the spreadsheets people actually keep: numbers with a comma or dot
decimal, coordinates in decimal degrees or DMS, directions in degrees or compass points (English
or Vietnamese), dates (ISO or dd/mm/yyyy), yes/no.

Every parser returns the parsed value or raises :class:`ParseError` with a short reason that the
caller puts into a :class:`geo_antt._errors.Problem`.
"""

from __future__ import annotations

import datetime as _dt
import math
import re
from typing import Any

from ..i18n import msg
from ..text import fold

__all__ = [
    "ParseError",
    "AmbiguousDirection",
    "is_blank",
    "parse_number",
    "parse_coordinate",
    "parse_directions",
    "parse_date",
    "parse_bool",
    "parse_resolution",
    "MEGAPIXEL_WIDTHS",
    "COMPASS_EN",
    "COMPASS_VI",
]


class ParseError(ValueError):
    """A cell that cannot be read; the message (a translatable :class:`~geo_antt.i18n.Message`) says why."""

    @property
    def message(self) -> str:
        """The reason, as raised (a :class:`~geo_antt.i18n.Message` keeps its translations)."""
        return self.args[0] if self.args and isinstance(self.args[0], str) else str(self)


class AmbiguousDirection(ParseError):
    """A lone "N": North in English, Nam (South) in Vietnamese."""


def is_blank(v: Any) -> bool:
    """True for None, NaN, and strings of white space only."""
    if v is None:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    if isinstance(v, str) and not v.strip():
        return True
    return False


_NUM_UNIT = re.compile(
    r"^([+-]?[0-9][0-9.,\s\u00a0]*)\s*(m|met|meter|metre|metres|meters|°|º|deg|do|degrees|độ)?$", re.IGNORECASE
)


def parse_number(v: Any) -> float:
    """A number from a cell: int/float, or text with a dot or comma decimal ("10,5", "1.234,5",
    "20 m", "90°"). Raises ParseError for anything else.
    """
    if isinstance(v, bool):
        raise ParseError(msg("not a number"))
    if isinstance(v, (int, float)):
        f = float(v)
        if math.isnan(f) or math.isinf(f):
            raise ParseError(msg("not a number"))
        return f
    if hasattr(v, "__float__") and not isinstance(v, str):
        return float(v)
    s = str(v).strip()
    if s and (s[0].isdigit() or s[0] in "+-.") and s[-1].isdigit():  # fast path: "10.5", "10,5"
        t = s.replace(",", ".", 1) if "," in s and "." not in s and s.count(",") == 1 else s
        try:
            f = float(t)
        except ValueError:
            pass
        else:
            if math.isfinite(f) and " " not in t and "_" not in t:
                return f
    m = _NUM_UNIT.match(s)
    if not m:
        raise ParseError(msg("not a number"))
    t = m.group(1).replace("\u00a0", " ").strip()
    if " " in t:
        # spaces only as thousands separators ("1 234,5"), never between free numbers
        if not re.fullmatch(r"[+-]?\d{1,3}( \d{3})+([.,]\d+)?", t):
            raise ParseError(msg("not a number"))
        t = t.replace(" ", "")
    sign = ""
    if t[:1] in "+-":
        sign, t = t[:1], t[1:]
    if "," in t and "." in t:
        dec = "," if t.rfind(",") > t.rfind(".") else "."
        thousands = "." if dec == "," else ","
        t = t.replace(thousands, "").replace(dec, ".")
    elif "," in t:
        if t.count(",") > 1:
            raise ParseError(msg("not a number (several commas)"))
        t = t.replace(",", ".")
    elif t.count(".") > 1:
        raise ParseError(msg("not a number (several dots)"))
    try:
        return float(sign + t)
    except ValueError:
        raise ParseError(msg("not a number")) from None


_HEMI = {"n": 1, "s": -1, "e": 1, "w": -1, "bac": 1, "nam": -1, "dong": 1, "tay": -1}
_HEMI_AXIS = {"n": "lat", "s": "lat", "bac": "lat", "nam": "lat", "e": "lon", "w": "lon", "dong": "lon", "tay": "lon"}
_DMS = re.compile(
    r"""^\s*(?P<pre>n|s|e|w|bac|nam|dong|tay)?\s*
    (?P<deg>[+-]?\d+(?:[.,]\d+)?)\s*(?:°|º|˚|deg|do|d|:)?\s*
    (?:(?P<min>\d+(?:[.,]\d+)?)\s*(?:'|′|’|m|ph|phut|:|\s)\s*)?
    (?:(?P<sec>\d+(?:[.,]\d+)?)\s*(?:"|″|”|''|s|giay)?\s*)?
    (?P<post>n|s|e|w|bac|nam|dong|tay)?\s*$""",
    re.VERBOSE,
)


def parse_coordinate(v: Any, *, axis: str) -> float:
    r"""A latitude (``axis="lat"``) or longitude (``"lon"``) in decimal degrees.

    Accepts numbers ("10.1269", "10,1269") and degrees-minutes-seconds ("10°07'36.9\"N",
    "106 41 12 E", "N 10°07.615'", "10d07m36.9s"); S/W (Nam/Tây) make it negative.
    """
    if not isinstance(v, str):
        return parse_number(v)
    s = v.strip()
    try:
        return parse_number(s)
    except ParseError:
        pass
    f = fold(s).replace("''", '"')
    m = _DMS.match(f + " ") or _DMS.match(f)
    if not m or (m.group("pre") and m.group("post")):
        raise ParseError(msg("not a coordinate (use decimal degrees like 10.1269 or DMS like 10°07'36.9\"N)"))
    hemi = m.group("pre") or m.group("post")
    deg = parse_number(m.group("deg"))
    minutes = parse_number(m.group("min")) if m.group("min") else 0.0
    seconds = parse_number(m.group("sec")) if m.group("sec") else 0.0
    if minutes >= 60 or seconds >= 60:
        raise ParseError(msg("minutes and seconds must be below 60"))
    if (m.group("min") is None and m.group("sec") is None) and hemi is None:
        raise ParseError(msg("not a coordinate"))
    if m.group("sec") and not m.group("min"):
        raise ParseError(msg("not a coordinate"))
    value = abs(deg) + minutes / 60.0 + seconds / 3600.0
    sign = -1.0 if deg < 0 or str(m.group("deg")).startswith("-") else 1.0
    if hemi:
        if _HEMI_AXIS[hemi] != axis:
            want = "N/S" if axis == "lat" else "E/W"
            raise ParseError(
                msg("hemisphere {hemi} on a latitude (expected {want})", hemi=hemi.upper(), want=want)
                if axis == "lat"
                else msg("hemisphere {hemi} on a longitude (expected {want})", hemi=hemi.upper(), want=want)
            )
        sign *= _HEMI[hemi]
    return sign * value


# 16-point compass, degrees clockwise from north.
COMPASS_EN = {
    "n": 0.0, "nne": 22.5, "ne": 45.0, "ene": 67.5, "e": 90.0, "ese": 112.5, "se": 135.0, "sse": 157.5,
    "s": 180.0, "ssw": 202.5, "sw": 225.0, "wsw": 247.5, "w": 270.0, "wnw": 292.5, "nw": 315.0, "nnw": 337.5,
    "north": 0.0, "northeast": 45.0, "east": 90.0, "southeast": 135.0, "south": 180.0,
    "southwest": 225.0, "west": 270.0, "northwest": 315.0,
}  # fmt: skip
# Vietnamese words (folded, spaces removed) and abbreviations: Bắc, Đông Bắc/ĐB, Đông/Đ, ...
COMPASS_VI = {
    "bac": 0.0, "dongbac": 45.0, "dong": 90.0, "dongnam": 135.0, "nam": 180.0, "taynam": 225.0,
    "tay": 270.0, "taybac": 315.0,
    "huongbac": 0.0, "huongdongbac": 45.0, "huongdong": 90.0, "huongdongnam": 135.0, "huongnam": 180.0,
    "huongtaynam": 225.0, "huongtay": 270.0, "huongtaybac": 315.0,
    "bacdongbac": 22.5, "dongdongbac": 67.5, "dongdongnam": 112.5, "namdongnam": 157.5,
    "namtaynam": 202.5, "taytaynam": 247.5, "taytaybac": 292.5, "bactaybac": 337.5,
    "b": 0.0, "db": 45.0, "d": 90.0, "dn": 135.0, "n": 180.0, "tn": 225.0, "t": 270.0, "tb": 315.0,
    "bdb": 22.5, "ddb": 67.5, "ddn": 112.5, "ndn": 157.5, "ntn": 202.5, "ttn": 247.5, "ttb": 292.5, "btb": 337.5,
}  # fmt: skip


def _compass(token: str, *, lang: str | None) -> float:
    key = re.sub(r"[^0-9a-z]", "", fold(token))
    en = COMPASS_EN.get(key)
    vi = COMPASS_VI.get(key)
    if en is not None and vi is not None and en != vi:
        if lang == "en":
            return en
        if lang == "vi":
            return vi
        raise AmbiguousDirection(
            msg(
                "'{token}' is ambiguous: North in English, Nam (South) in Vietnamese; "
                "write degrees (0 or 180), Bắc/Nam, or choose the language (--kind-lang vi|en)",
                token=token.strip(),
            )
        )
    if en is not None:
        return en
    if vi is not None:
        return vi
    raise ParseError(msg("not a direction (use degrees clockwise from north, or N, NE, ... / Bắc, Đông Bắc, ĐB, ...)"))


def parse_directions(v: Any, *, lang: str | None = None) -> tuple[float, ...]:
    """Directions in degrees clockwise from north from a cell: a number, a compass point, or
    several separated by ';' (one camera sector each). Blank -> ().

    ``lang`` ("vi" or "en") settles a lone "N"; None leaves it ambiguous (ParseError).
    Values outside [0, 360] raise ParseError; 360 is returned as 0.
    """
    if is_blank(v):
        return ()
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        parts: list[Any] = [v]
    elif hasattr(v, "__iter__") and not isinstance(v, str):  # a JSON array / tuple
        parts = [float(x) if isinstance(x, (int, float)) else x for x in v]
    else:
        parts = [p for p in re.split(r"[;|]", str(v)) if p.strip()]
    out: list[float] = []
    for p in parts:
        try:
            d = parse_number(p)
        except ParseError:
            d = _compass(str(p), lang=lang)
        if not 0.0 <= d <= 360.0:
            raise ParseError(msg("direction {value:g} outside 0-360 degrees", value=d))
        out.append(d % 360.0)
    return tuple(out)


_DMY = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})$")
_YMD = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(?:[T ].*)?$")
_MY = re.compile(r"^(\d{1,2})[/.\-](\d{4})$")


def parse_date(v: Any) -> str:
    """An ISO date string from a cell: a date/datetime, "2025-07-01", "01/07/2025" (day first,
    as written in Vietnam), "07/2025" (-> first of the month) or a year "2025".
    """
    if isinstance(v, _dt.datetime):
        return v.date().isoformat()
    if isinstance(v, _dt.date):
        return v.isoformat()
    if isinstance(v, (int, float)) and not isinstance(v, bool) and float(v).is_integer() and 1900 <= v <= 2100:
        return f"{int(v):04d}-01-01"
    s = str(v).strip()
    try:
        if m := _YMD.match(s):
            return _dt.date(int(m[1]), int(m[2]), int(m[3])).isoformat()
        if m := _DMY.match(s):
            return _dt.date(int(m[3]), int(m[2]), int(m[1])).isoformat()
        if m := _MY.match(s):
            return _dt.date(int(m[2]), int(m[1]), 1).isoformat()
        if re.fullmatch(r"\d{4}", s) and 1900 <= int(s) <= 2100:
            return f"{s}-01-01"
    except ValueError:
        raise ParseError(msg("not a valid date")) from None
    raise ParseError(msg("not a date (use 2025-07-01 or 01/07/2025)"))


_TRUE = {"1", "yes", "y", "true", "co", "x", "dong y", "chia se", "co chia se", "ket noi", "da ket noi"}
_FALSE = {"0", "no", "n", "false", "khong", "khong chia se", "chua", "chua ket noi"}


def parse_bool(v: Any) -> bool:
    """Yes/no from a cell (yes/no, có/không, 1/0, true/false, x)."""
    if isinstance(v, bool):
        return v
    if isinstance(v, (int, float)) and v in (0, 1):
        return bool(v)
    key = fold(str(v))
    if key in _TRUE:
        return True
    if key in _FALSE:
        return False
    raise ParseError(msg("not yes/no (use có/không or yes/no)"))


# Horizontal pixels of the usual security-camera sensors, by the shorthand a sheet writes:
# megapixels (1MP 1280x720, 2MP 1920x1080, 3MP 2304x1296, 4MP 2560x1440, 5MP 2592x1944,
# 6MP 3072x2048, 8MP 3840x2160, 12MP 4000x3000) and video names (720p, 1080p, 2K, 4K, 8K).
MEGAPIXEL_WIDTHS = {
    1.0: 1280.0,
    1.3: 1280.0,
    2.0: 1920.0,
    3.0: 2304.0,
    4.0: 2560.0,
    5.0: 2592.0,
    6.0: 3072.0,
    8.0: 3840.0,
    12.0: 4000.0,
}
_VIDEO_WIDTHS = {
    "720p": 1280.0,
    "1080p": 1920.0,
    "2k": 2560.0,
    "1440p": 2560.0,
    "4k": 3840.0,
    "2160p": 3840.0,
    "8k": 7680.0,
}
_MEGAPIXEL = re.compile(r"^(\d+(?:[.,]\d+)?)\s*(?:mp|mpx|mpix|megapixels?|cham)$")
_PIXELS = re.compile(r"^(\d{3,5})(?:\s*px|\s*pixels?|\s*diem anh)?(?:\s*[x×*]\s*\d{3,5}(?:\s*px)?)?$")


def parse_resolution(v: Any) -> float:
    """A camera's horizontal resolution in pixels from a cell: a number of pixels (``1920``,
    ``"1920 px"``, ``"1920x1080"``), megapixels (``"2MP"``, ``"4 MP"``, ``"2 megapixel"``,
    ``"2 chấm"``; see :data:`MEGAPIXEL_WIDTHS`) or a video name (``"1080p"``, ``"4K"``).
    Raises ParseError for anything else (bounds are checked by the caller).
    """
    if isinstance(v, bool):
        raise ParseError(msg("not a resolution"))
    if isinstance(v, (int, float)):
        f = float(v)
        if not math.isfinite(f):
            raise ParseError(msg("not a resolution"))
        return f
    s = fold(str(v)).strip()
    if s in _VIDEO_WIDTHS:
        return _VIDEO_WIDTHS[s]
    m = _MEGAPIXEL.match(s)
    if m:
        mp = float(m.group(1).replace(",", "."))
        if mp in MEGAPIXEL_WIDTHS:
            return MEGAPIXEL_WIDTHS[mp]
        known = ", ".join(f"{k:g}MP" for k in MEGAPIXEL_WIDTHS)
        raise ParseError(
            msg(
                "unknown megapixel figure {mp:g}MP (known: {known}); write the horizontal pixels, e.g. 1920",
                mp=mp,
                known=known,
            )
        )
    m = _PIXELS.match(s)
    if m:
        return float(m.group(1))
    raise ParseError(msg("not a resolution: write the horizontal pixels (1920, 1920x1080) or 2MP, 4MP, 8MP, 4K"))
