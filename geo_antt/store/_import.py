"""The result of previewing an import: what would be created, updated, left alone or rejected."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .._errors import Problem
from ._records import json_value, to_json_record

__all__ = ["ImportPreview"]


@dataclass(frozen=True)
class ImportPreview:
    """A dry run of an import; hand it to :meth:`Store.commit_import` to apply it.

    Attributes
    ----------
    source
        Name of the imported file (or any label), used in messages and the audit log.
    unit_code
        The unit the import is for (None: the user's whole area).
    user_name
        Who previewed it; the commit is recorded under this name.
    new
        Records (stored form, see ``geo_antt.store._records``) of models that do not exist yet.
    updates
        ``{id: {column: (old value, new value)}}`` for existing models the import changes.
    update_records
        ``{id: full new record}`` of those models.
    base_versions
        ``{id: version}`` the preview was computed against; the commit fails with
        :class:`~geo_antt.ConflictError` when any of them changed meanwhile.
    unchanged
        Ids of rows identical to the stored model.
    rejected
        One :class:`~geo_antt.Problem` per reason a row is rejected (several per row possible).
    rejected_ids
        Ids (or ``"row N"`` labels) of the rejected rows.
    warnings
        Problems that do not stop the import.
    store_url
        The store the preview was made against.
    rejected_model_ids
        The model id (None when the row has none, or could not be read) of each entry of
        ``rejected``, in the same order.
    outside
        One ``{"row", "id", "lon", "lat", "unit_code"}`` per row whose position lies outside the
        import area (the unit, or the account's area); these rows are rejected too.
    """

    source: str
    unit_code: str | None
    user_name: str
    new: tuple[Mapping[str, Any], ...]
    updates: Mapping[str, Mapping[str, tuple[Any, Any]]]
    update_records: Mapping[str, Mapping[str, Any]]
    base_versions: Mapping[str, int]
    unchanged: tuple[str, ...]
    rejected: tuple[Problem, ...]
    rejected_ids: tuple[str, ...]
    warnings: tuple[Problem, ...] = field(default=())
    store_url: str = ""
    rejected_model_ids: tuple[str | None, ...] = field(default=())
    outside: tuple[Mapping[str, Any], ...] = field(default=())

    @property
    def has_rejections(self) -> bool:
        """True when at least one row is rejected."""
        return bool(self.rejected)

    def counts(self) -> dict[str, int]:
        """Number of rows per outcome: new, update, unchanged, rejected."""
        return {
            "new": len(self.new),
            "update": len(self.updates),
            "unchanged": len(self.unchanged),
            "rejected": len(self.rejected_ids),
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (for the web preview page and ``--json`` output)."""
        return {
            "source": self.source,
            "unit_code": self.unit_code,
            "counts": self.counts(),
            "new": [to_json_record(r) for r in self.new],
            "updates": {
                i: {c: [json_value(c, ov), json_value(c, nv)] for c, (ov, nv) in d.items()}
                for i, d in self.updates.items()
            },
            "unchanged": list(self.unchanged),
            "rejected": [
                {**p.to_dict(), "id": self.rejected_model_ids[i] if i < len(self.rejected_model_ids) else None}
                for i, p in enumerate(self.rejected)
            ],
            "outside": [dict(o) for o in self.outside],
            "warnings": [p.to_dict() for p in self.warnings],
        }

    def fingerprint(self) -> str:
        """A digest of what the commit would do (new records, changes, rejections): a browser
        sends it back with the commit so that nothing else than what was shown is applied.
        """
        d = self.to_dict()
        d.pop("source", None)
        blob = json.dumps(d, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()

    def summary(self, *, max_lines: int = 50) -> str:
        """A human-readable report (English; the web page renders its own in Vietnamese)."""
        c = self.counts()
        lines = [
            f"import preview of {self.source or 'data'}"
            + (f" for unit {self.unit_code}" if self.unit_code else "")
            + f": {c['new']} new, {c['update']} updated, {c['unchanged']} unchanged, {c['rejected']} rejected"
            + (f" ({len(self.outside)} outside the area)" if self.outside else "")
        ]
        shown = 0
        mid: str | None
        for mid, diff in self.updates.items():
            if shown >= max_lines:
                lines.append(f"  ... and {len(self.updates) - shown} more updates")
                break
            parts = ", ".join(f"{col}: {_short(ov)} -> {_short(nv)}" for col, (ov, nv) in diff.items())
            lines.append(f"  update {mid}: {parts}")
            shown += 1
        ids = self.rejected_model_ids
        for i, p in enumerate(self.rejected[:max_lines]):
            mid = ids[i] if i < len(ids) else None
            lines.append(f"  rejected: {p}" + (f" [id {mid}]" if mid and p.row is not None else ""))
        if len(self.rejected) > max_lines:
            lines.append(f"  ... and {len(self.rejected) - max_lines} more problems")
        for p in self.warnings[:max_lines]:
            lines.append(f"  warning: {p}")
        return "\n".join(lines)


def _short(v: Any) -> str:
    if v is not None and hasattr(v, "wkt"):
        s = v.wkt
    else:
        s = repr(v)
    return s if len(s) <= 60 else s[:57] + "..."
