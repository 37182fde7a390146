"""Progress bars of the long commands (import, db seed, coverage, report), on stderr.

Only the CLI draws them (rich); the functions doing the work take an optional
``progress(what, done, total)`` callable and know nothing of terminals. Nothing is drawn when
stderr is not a terminal (pipes, files, CI logs) or with ``--quiet``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["Progress", "add_quiet_argument", "progress_bar"]

#: ``progress(what, done, total)``: ``what`` the stage running, ``done`` of ``total`` steps.
Progress = Callable[[str, int, int], None]


def add_quiet_argument(parser: argparse.ArgumentParser) -> None:
    """``-q/--quiet``: no progress bar."""
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar on the terminal")


@contextmanager
def progress_bar(args: argparse.Namespace, label: str) -> Iterator[Progress | None]:
    """A progress bar on stderr for the command's work, labelled ``label``: yields the callable
    to hand to the work, or None (no terminal, or ``--quiet``). The bar is cleared at the end.
    """
    stream = sys.stderr
    if getattr(args, "quiet", False) or not (hasattr(stream, "isatty") and stream.isatty()):
        yield None
        return
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        TaskProgressColumn,
        TextColumn,
        TimeElapsedColumn,
    )
    from rich.progress import Progress as Bar

    console = Console(file=stream, stderr=True)
    with Bar(
        TextColumn("[bold]{task.fields[label]}"),
        BarColumn(),
        TaskProgressColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        redirect_stdout=False,
        redirect_stderr=False,
    ) as bar:
        task = bar.add_task("", total=None, label=label)

        def update(what: str, done: int, total: int) -> None:
            bar.update(task, description=what, completed=done, total=total)

        yield update
