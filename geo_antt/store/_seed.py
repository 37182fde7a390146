"""Fill a store from a dataset folder (``dataset.toml``): what ``geo-antt db seed`` and the web
service's first run do.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from pathlib import Path

from .._errors import GeoAnttError
from ..io.features import read_buildings, read_roads
from ._files import read_models_file, read_units_file
from ._store import Store

__all__ = ["seed_from_dataset"]


def seed_from_dataset(
    store: Store,
    data_dir: str | Path,
    *,
    echo: Callable[[str], None] = print,
    max_lines: int = 20,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, int]:
    """Load the units, models, roads and buildings listed in ``<data_dir>/dataset.toml`` into ``store``.

    Units are inserted or replaced; models go through :meth:`Store.preview_import` and
    :meth:`Store.commit_import` (rejected rows are reported through ``echo`` and skipped), so a
    second seed of the same folder changes nothing. Runs as the ``system`` account; the audit
    log gets one batch entry per model file (its source and counts), not one per model.

    Parameters
    ----------
    store
        The store to fill.
    data_dir
        The dataset folder.
    echo
        Receives one line of progress per file (and the rejected rows).
    max_lines
        Rejected rows listed per file at most.
    progress
        Called as ``progress(what, done, total)`` as the files are read and written (units files
        count one step each, model files two: read and preview, then commit).

    Returns
    -------
    dict
        ``{"units": n, "models": n}``: units written and models new or updated (and
        ``"roads"``/``"buildings"``: features loaded, when the dataset lists such files; they
        replace the stored ones of every commune they meet).

    Raises
    ------
    GeoAnttError
        No or invalid ``dataset.toml``.
    """
    data = Path(data_dir)
    toml = data / "dataset.toml"
    if not toml.is_file():
        raise GeoAnttError(f"{toml}: no dataset.toml (give --data DIR of a dataset folder)")
    with toml.open("rb") as fh:
        try:
            meta = tomllib.load(fh)
        except tomllib.TOMLDecodeError as exc:
            raise GeoAnttError(f"{toml}: invalid TOML: {exc}") from None
    total = {"units": 0, "models": 0}
    n_steps = len(meta.get("units", [])) + 2 * len(meta.get("models", []))
    step = 0

    def advance(what: str) -> None:
        nonlocal step
        if progress is not None:
            progress(what, step, n_steps)
        step += 1

    for rel in meta.get("units", []):
        advance(f"units {rel}")
        counts = store.put_units(read_units_file(data / rel), user=None)
        total["units"] += counts["inserted"] + counts["updated"]
        echo(f"{rel}: {counts['inserted']} units inserted, {counts['updated']} updated")
    for rel in meta.get("models", []):
        advance(f"reading {rel}")
        gdf, problems = read_models_file(data / rel)
        for p in problems:
            echo(f"  {'rejected' if p.severity == 'error' else 'warning'}: {p}")
        preview = store.preview_import(gdf, user=None, source=rel)
        if preview.has_rejections:
            echo(preview.summary(max_lines=max_lines))
        advance(f"writing {rel}")
        counts = store.commit_import(preview, user=None, skip_rejected=True, audit_each=False)  # one batch entry
        total["models"] += counts["new"] + counts["update"]
        echo(
            f"{rel}: {counts['new']} models new, {counts['update']} updated, {counts['unchanged']} unchanged"
            + (f", {counts['rejected']} rejected" if counts["rejected"] else "")
        )
    for layer in ("roads", "buildings"):
        for rel in meta.get(layer, []):
            frame = (read_roads if layer == "roads" else read_buildings)(data / rel)
            done = store.load_context(layer, frame, user=None)
            total[layer] = total.get(layer, 0) + sum(c["inserted"] for c in done.values())
            echo(f"{rel}: {total[layer]} {layer} in {len(done)} unit(s)")
    if progress is not None:
        progress("done", n_steps, n_steps)
    return total
