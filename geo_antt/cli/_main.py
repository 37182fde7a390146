"""The ``geo-antt`` command line.

Each feature module contributes its sub-commands through a ``register(subparsers)`` function
listed in ``_COMMAND_MODULES``; errors derived from :class:`GeoAnttError` become one clear message
and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

from .. import __version__
from .._errors import GeoAnttError, ValidationError
from ..i18n import LANGUAGES, language_from_environment, msg, translate

__all__ = ["main", "build_parser", "console_main", "leave_for_exit"]

# Modules with a ``register(subparsers)`` function, in the order their commands are listed.
_COMMAND_MODULES: tuple[str, ...] = (
    "geo_antt.cli.coverage",
    "geo_antt.cli.files",
    "geo_antt.cli.serve",
    "geo_antt.cli.demo",
    "geo_antt.cli.plan",
    "geo_antt.cli.report",
    "geo_antt.cli.db",
    "geo_antt.cli.osm",
)

EPILOG = """\
examples:
  geo-antt --help                       this help
  geo-antt COMMAND --help               help of one command
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="geo-antt",
        description=(
            "geo-antt: coverage and gap analysis of community security models "
            "(camera an ninh, ánh sáng an ninh, chốt dân phòng, cổng rào) per commune and hamlet."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"geo-antt {__version__}")
    parser.add_argument(
        "--lang",
        choices=LANGUAGES,
        default=None,
        help="language of messages and problems (vi or en; default: GEO_ANTT_LANG, else LANG, e.g. vi_VN.UTF-8)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    lang = args.lang or language_from_environment()
    args.lang_messages = lang
    try:
        return int(args.func(args) or 0)
    except ValidationError as exc:
        print(f"geo-antt {args.command}: {exc.text(lang)}", file=sys.stderr)
        return 1
    except GeoAnttError as exc:
        print(
            f"geo-antt {args.command}: {translate(msg('error'), lang)}: {translate(exc.message, lang)}", file=sys.stderr
        )
        return 1
    except (FileNotFoundError, PermissionError, IsADirectoryError) as exc:
        print(f"geo-antt {args.command}: error: {exc.strerror}: {exc.filename}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # pragma: no cover
        return 130


# Set by console_main: the command runs as the geo-antt program, not called from Python.
_PROGRAM = False
_LEFT_FOR_EXIT: list[tuple[Any, ...]] = []


def leave_for_exit(*objects: Any) -> bool:
    """Keep ``objects`` (a batch command's large results) until the process ends, and end it at
    once when the command returns, without the interpreter's teardown.

    Freeing a coverage run's millions of geometries one by one, then every module, takes
    about half a second (Hà Nội bench) and serves nothing once the outputs are written: the
    operating system reclaims the memory at once. Only the geo-antt program does this
    (:func:`console_main`); when a command is called from Python (``main([...])``, the tests)
    nothing is kept and the call returns as usual.

    Returns
    -------
    bool
        Whether the process will end when the command returns.
    """
    if _PROGRAM:
        _LEFT_FOR_EXIT.append(objects)
    return _PROGRAM


def console_main() -> None:
    """The ``geo-antt`` program (console script and ``python -m geo_antt``): :func:`main`, then
    the exit; a command that called :func:`leave_for_exit` ends the process at once, after the
    standard streams and the log handlers are flushed.
    """
    global _PROGRAM
    _PROGRAM = True
    code = main()
    if _LEFT_FOR_EXIT:
        for stream in (sys.stdout, sys.stderr):
            stream.flush()
        logging.shutdown()
        os._exit(code)
    raise SystemExit(code)
