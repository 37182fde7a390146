"""The preview of an uploaded models file, computed in a worker process.

A web import job reads the file and checks every row against the store (ids, units, areas,
bounds): tens of seconds of Python for a large file. Done on a thread of the server, it holds
the interpreter's lock and every other request waits; done here, in the parse process, the
server only waits for the answer. The worker opens the store itself (its URL and layer specs
from :meth:`Store.reopen_args`) and reads it only; the commit stays with the server.
"""

from __future__ import annotations

from typing import Any

from ._files import read_models_upload
from ._import import ImportPreview
from ._store import Store, User

__all__ = ["preview_upload"]


def preview_upload(
    path: str,
    filename: str,
    *,
    store_args: tuple[str, str | None],
    user: User,
    unit_code: str | None,
    keep_preview: bool,
) -> tuple[dict[str, Any], ImportPreview | None, list[Any]]:
    """Read ``path`` (uploaded as ``filename``) and preview its import into the store.

    Parameters
    ----------
    path, filename
        The uploaded file on disk and the name the user gave it (named in every problem).
    store_args
        ``(url, layers_dir)`` of :meth:`Store.reopen_args`.
    user
        The account importing (its scope applies).
    unit_code
        The unit the file is for, or None.
    keep_preview
        Also return the :class:`ImportPreview` (a commit needs its records).

    Returns
    -------
    (dict, ImportPreview or None, list of Problem)
        The preview as the web answers it (with ``file_problems`` and ``fingerprint``), the
        preview itself when asked, and the file's problems.
    """
    gdf, file_problems = read_models_upload(path, filename)
    url, layers_dir = store_args
    with Store.open(url, upgrade=False, layers_dir=layers_dir) as store:
        preview = store.preview_import(gdf, user=user, unit_code=unit_code, source=filename, problems=file_problems)
    del gdf
    out = preview.to_dict()
    out["file_problems"] = [p.to_dict() for p in file_problems]
    out["fingerprint"] = preview.fingerprint()
    return out, (preview if keep_preview else None), file_problems
