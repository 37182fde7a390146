"""The ``geo-antt`` command line.

Each feature module contributes its sub-commands through a ``register(subparsers)`` function
listed in ``_COMMAND_MODULES``; errors derived from :class:`GeoAnttError` become one clear message
and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from typing import Sequence

from . import __version__
from ._errors import GeoAnttError, ValidationError

__all__ = ["main", "build_parser"]

# Modules with a ``register(subparsers)`` function, in the order their commands are listed.
_COMMAND_MODULES: tuple[str, ...] = (
    "geo_antt._cmd_coverage",
    "geo_antt._cmd_io",
    "geo_antt._cmd_web",
    "geo_antt._cmd_demo",
    "geo_antt._cmd_plan",
    "geo_antt._cmd_report",
    "geo_antt._cmd_store",
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
    try:
        return int(args.func(args) or 0)
    except ValidationError as exc:
        print(f"geo-antt {args.command}: {exc.message}", file=sys.stderr)
        return 1
    except GeoAnttError as exc:
        print(f"geo-antt {args.command}: error: {exc.message}", file=sys.stderr)
        return 1
    except (FileNotFoundError, PermissionError, IsADirectoryError) as exc:
        print(f"geo-antt {args.command}: error: {exc.strerror}: {exc.filename}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:  # pragma: no cover
        return 130
