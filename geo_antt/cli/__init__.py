"""The ``geo-antt`` command line: :mod:`._main` (the parser, errors, exit) and one module per
command group (``coverage``, ``files``, ``serve``, ``demo``, ``plan``, ``report``, ``db``);
:mod:`.inputs` reads what the commands share (dataset folder, files, or the store).
"""

from __future__ import annotations

from ._main import build_parser, console_main, leave_for_exit, main

__all__ = ["main", "build_parser", "console_main", "leave_for_exit"]
