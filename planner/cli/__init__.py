"""The ``planner`` command line.

Each command lives in its own module of this package, which exposes
``register(subparsers)``; the module adds its sub-command with
``parser.set_defaults(func=...)``. ``func(args)`` returns the exit code.
Exit codes: 0 success, 2 refused input (bad file, bad config), 1 other errors.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from planner import __version__
from planner.errors import PlannerError

#: Command modules, in the order they appear in ``planner --help``.
COMMAND_MODULES = (
    "planner.cli.workspace",
    "planner.cli.sample",
    "planner.cli.ingest",
    "planner.cli.classify",
    "planner.cli.sites",
    "planner.cli.scenario",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="planner",
        description="Land-revitalization planner: three-low industrial land, contiguous sites, "
        "standardized-park scenarios. 低效工业用地（三低）识别、连片策划与标准化园区情景模拟。",
    )
    parser.add_argument("--version", action="version", version=f"planner {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        return int(args.func(args) or 0)
    except PlannerError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and the like
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("interrupted; the workspace was left as it was before this command", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
