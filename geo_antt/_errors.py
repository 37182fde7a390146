"""Errors of geo-antt.

Every error a user can cause derives from :class:`GeoAnttError`; the web layer maps them to JSON
responses in one place (``http_status``). :class:`ValidationError` carries *every* problem found
in one input (file, row, field, value, reason) so that a user fixes a file in one pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .i18n import msg, translate

# Longest value text a problem shows (characters); longer ones are cut with an ellipsis.
_MAX_VALUE_CHARS = 200

__all__ = [
    "GeoAnttError",
    "ValidationError",
    "Problem",
    "CRSError",
    "NotFoundError",
    "ConflictError",
    "PermissionDeniedError",
    "BusyError",
]


class GeoAnttError(Exception):
    """Base class of the errors geo-antt raises for bad input or bad requests."""

    http_status = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form used by the CLI and the web error handler."""
        return {"error": type(self).__name__, "message": str(self.message), "message_vi": self.text("vi")}

    def text(self, lang: str = "en") -> str:
        """The message in ``lang`` (a :func:`~geo_antt.i18n.msg` message is translated; other text stays)."""
        return translate(self.message, lang)


@dataclass(frozen=True)
class Problem:
    """One problem of one input: where it is (file, row, field), the value, and why it is wrong.

    ``row`` is the 1-based data row as a user sees it in a spreadsheet (header = row 1, so the
    first data row is row 2) or the 1-based feature number of a vector file; ``None`` when the
    problem concerns the whole file.
    """

    file: str
    row: int | None
    field: str | None
    value: Any
    reason: str
    severity: str = "error"  # "error" or "warning"
    model_id: str | None = None  # the row's model id, where the row has one

    def __str__(self) -> str:
        return self.text("en")

    def text(self, lang: str = "en") -> str:
        """The problem as one line in ``lang`` ("vi" or "en"): where, why, and the value."""
        where = self.file
        if self.row is not None:
            where += ", " + translate(msg("row {row}", row=self.row), lang)
        if self.field:
            where += ", " + translate(msg("field '{field}'", field=self.field), lang)
        val = ""
        if self.value is not None:
            val = " (" + translate(msg("value {value}", value=f"{self.value!r:.{_MAX_VALUE_CHARS}}"), lang) + ")"
        return f"{where}: {translate(self.reason, lang)}{val}"

    def to_dict(self) -> dict[str, Any]:
        v = self.value
        if v is not None and not isinstance(v, (str, int, float, bool)):
            v = str(v)
        elif isinstance(v, float) and not math.isfinite(v):
            v = str(v)  # strict JSON has no Infinity / NaN
        if isinstance(v, str) and len(v) > _MAX_VALUE_CHARS:  # never echo a megabyte back
            v = v[:_MAX_VALUE_CHARS] + "…"
        return {
            "file": self.file,
            "row": self.row,
            "field": self.field,
            "value": v,
            "reason": str(self.reason),
            # the reason in Vietnamese too (the catalogs of geo_antt/locale), for pages in either language
            "reason_vi": translate(self.reason, "vi"),
            "severity": self.severity,
        }


class ValidationError(GeoAnttError, ValueError):
    """One or more problems in an input; ``problems`` lists all of them."""

    def __init__(self, problems: list[Problem], *, message: str | None = None) -> None:
        self.problems = list(problems)
        self._own_message = message is None
        if message is None:
            message = self.text("en")
        super().__init__(message)

    def text(self, lang: str = "en", *, max_lines: int = 50) -> str:
        """The problems in ``lang``: a count, then one line each (at most ``max_lines``)."""
        if not self._own_message:
            return translate(self.message, lang)
        n = len(self.problems)
        head = translate(msg("1 problem found") if n == 1 else msg("{n} problems found", n=n), lang)
        lines = [p.text(lang) for p in self.problems[:max_lines]]
        if n > max_lines:
            lines.append(translate(msg("... and {n} more", n=n - max_lines), lang))
        return head + ":\n  " + "\n  ".join(lines)

    def to_dict(self) -> dict[str, Any]:
        d = super().to_dict()
        d["problems"] = [p.to_dict() for p in self.problems]
        return d

    def __reduce__(self) -> tuple[Any, ...]:
        # pickled with its problems (a process pool or a queue hands the error back whole)
        return (_validation_error, (type(self), self.problems, None if self._own_message else self.message))


def _validation_error(cls: type[ValidationError], problems: list[Problem], message: str | None) -> ValidationError:
    return cls(problems, message=message)


class CRSError(GeoAnttError, ValueError):
    """A missing, unknown or unsuitable coordinate reference system."""


class NotFoundError(GeoAnttError, LookupError):
    """An unknown unit, model, collection or feature."""

    http_status = 404


class ConflictError(GeoAnttError):
    """A write based on a stale version of a record (someone else saved first)."""

    http_status = 409


class PermissionDeniedError(GeoAnttError):
    """The user may not read or change this unit or model."""

    http_status = 403


class BusyError(GeoAnttError):
    """The database is busy with another writer (a long import): try the write again later.

    The web layer answers ``503`` with a ``Retry-After`` header of :attr:`retry_after` seconds.
    """

    http_status = 503
    retry_after = 10
