"""Giving memory back to the system after large temporaries (a catalog rebuild, an import).

CPython frees objects into its own arenas and glibc's ``malloc`` keeps freed heap pages for
reuse, so a process that once held two catalogs (the one it serves and the one being built)
keeps that peak as RSS. :func:`release_memory` collects cyclic garbage (optional: it holds the
GIL while it walks every tracked object) and asks glibc to return free pages (``malloc_trim``;
ctypes releases the GIL during the call). Elsewhere than glibc it only collects.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import threading

__all__ = ["release_memory"]

_LIBC: ctypes.CDLL | None | bool = None
_LOCK = threading.Lock()


def _libc() -> ctypes.CDLL | None:
    global _LIBC
    with _LOCK:
        if _LIBC is None:
            try:
                lib = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
                _LIBC = lib if hasattr(lib, "malloc_trim") else False
            except OSError:
                _LIBC = False
        return _LIBC if isinstance(_LIBC, ctypes.CDLL) else None


def release_memory(*, collect: bool = True) -> None:
    """Collect garbage (when ``collect``) and return the free heap pages to the system (glibc)."""
    if collect:
        gc.collect()
    lib = _libc()
    if lib is not None:
        lib.malloc_trim(0)
