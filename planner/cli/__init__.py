"""The ``planner`` command line.

Each command lives in its own module of this package, which exposes
``register(subparsers)``; the module adds its sub-command with
``parser.set_defaults(func=...)``. ``func(args)`` returns the exit code.
Exit codes: 0 success, 2 refused input (bad file, bad config, a file that cannot be read or
written, a full disk), 1 other errors.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import gc
import importlib
import os
import sys
import warnings

from planner import __version__
from planner.config import EncodingNote
from planner.errors import PlannerError, message_in
from planner.i18n import terminal_text

#: OS errors that are the user's to fix (exit 2 with the message, no traceback): the file named in it.
_REFUSED_ERRNOS = {errno.ENOENT, errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT,
                   errno.EISDIR, errno.ENOTDIR, errno.ENAMETOOLONG}

#: Command modules, in the order they appear in ``planner --help``.
COMMAND_MODULES = (
    "planner.cli.workspace",
    "planner.cli.sample",
    "planner.cli.ingest",
    "planner.cli.enterprise",
    "planner.cli.classify",
    "planner.cli.sites",
    "planner.cli.scenario",
    "planner.cli.brief",
    "planner.cli.users",
)


#: The module of each command (``planner COMMAND ...`` imports only that one: start-up time of every command).
COMMANDS = {"info": "planner.cli.workspace", "workspace": "planner.cli.workspace", "sample-data": "planner.cli.sample",
            "ingest": "planner.cli.ingest", "enterprise": "planner.cli.enterprise", "classify": "planner.cli.classify",
            "policy": "planner.cli.classify", "sites": "planner.cli.sites", "scenario": "planner.cli.scenario",
            "brief": "planner.cli.brief", "users": "planner.cli.users"}


def _command_modules(argv: list[str] | None) -> tuple[str, ...]:
    """The modules to register: the named command's only, or all of them (``--help``, no or unknown command)."""
    first = next((a for a in argv or () if not a.startswith("-")), None)
    return (COMMANDS[first],) if first in COMMANDS else COMMAND_MODULES


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The ``planner`` parser; with ``argv`` (the arguments to parse) naming a command, only its module is imported."""
    parser = argparse.ArgumentParser(
        prog="planner",
        description="Land-revitalization planner: three-low industrial land, contiguous sites, "
        "standardized-park scenarios. 低效工业用地（三低）识别、连片策划与标准化园区情景模拟。",
    )
    parser.add_argument("--version", action="version", version=f"planner {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in _command_modules(argv):
        importlib.import_module(name).register(sub)
    _workspace_from_env(parser, os.environ.get("PLANNER_WORKSPACE", "").strip())
    _workspace_help(parser)
    return parser


#: What ``--workspace`` takes, said the same way by every command (several said ".gpkg" only).
WORKSPACE_HELP = "workspace: a .gpkg file or postgresql://user@host:port/db?schema=name (default: $PLANNER_WORKSPACE)"


def add_lang_option(p: argparse.ArgumentParser, what: str = "what it prints") -> None:
    """A command's ``--lang``: the language of ``what`` (None: :func:`main` makes it ``PLANNER_LANG``, else zh)."""
    p.add_argument("--lang", choices=("zh", "en"), default=None,
                   help=f"language of {what} (default: PLANNER_LANG, else zh)")


def _workspace_help(parser: argparse.ArgumentParser) -> None:
    """Every ``--workspace`` help that began "workspace .gpkg" names both kinds of workspace and the variable."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sp in action.choices.values():
                _workspace_help(sp)
        elif action.dest == "workspace" and (action.help or "").startswith("workspace .gpkg"):
            rest = action.help[len("workspace .gpkg"):].strip()
            action.help = WORKSPACE_HELP + (f"; {rest.strip('()')}" if rest else "")


def _workspace_from_env(parser: argparse.ArgumentParser, default: str) -> None:
    """With ``PLANNER_WORKSPACE`` set, every ``--workspace`` option defaults to it (and is no longer required)."""
    if not default:
        return
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sp in action.choices.values():
                _workspace_from_env(sp, default)
        elif action.dest == "workspace":
            action.required = False
            action.default = default


#: The cyclic garbage collector's thresholds for one command (:func:`entry`). Python's default, a pass every 700 new
#: container objects, is made for programs that run long on small data; a command makes a million geometry objects
#: at a time (every shapely geometry is tracked) and the passes keep re-reading what it made: 1.0 s of `planner
#: sites` at 1M parcels in 3,500 passes (0.1 s in 22 with these; the command 19.5 -> 18.0 s, a scenario run 1.69
#: -> 1.57 s, best of two each). Cycles dropped young are still collected at the next pass, every 100,000 new
#: objects. The app's server and the tests keep Python's defaults.
BATCH_GC_THRESHOLDS = (100_000, 20, 20)


def entry() -> int:
    """The ``planner`` executable and ``python -m planner``: one command in this process, then exit."""
    gc.set_threshold(*BATCH_GC_THRESHOLDS)
    sys.stdout, sys.stderr = _ReaderMayLeave(sys.stdout), _ReaderMayLeave(sys.stderr)
    return main()


class _ReaderMayLeave:
    """A console stream whose reader may go away (``planner classify -w ws | head``): what is written after that
    is dropped and the command finishes its work. The first write into the closed pipe used to end the command
    there, with exit code 0, before it stored its result (a classification piped into ``head`` was not stored)."""

    def __init__(self, stream) -> None:
        self._stream = stream
        self._gone = False

    def write(self, text: str) -> int:
        if not self._gone:
            try:
                return self._stream.write(text)
            except BrokenPipeError:
                self._leave()
        return len(text)

    def flush(self) -> None:
        if not self._gone:
            try:
                self._stream.flush()
            except BrokenPipeError:
                self._leave()

    def _leave(self) -> None:
        self._gone = True
        with contextlib.suppress(OSError, ValueError):  # what the stream still buffers goes nowhere too, at exit
            os.dup2(os.open(os.devnull, os.O_WRONLY), self._stream.fileno())

    def __getattr__(self, name):
        return getattr(self._stream, name)


def _notes(show, lang: str = "en"):
    """``warnings.showwarning`` that prints the planner's notes (:class:`~planner.config.EncodingNote`) as
    ``note: ...`` lines in ``lang`` and leaves other warnings to ``show``."""
    def showwarning(message, category, filename, lineno, file=None, line=None):
        if issubclass(category, EncodingNote):
            zh = getattr(message, "zh", None) if lang == "zh" else None
            print(f"注意：{terminal_text(zh)}" if zh else f"note: {message}", file=sys.stderr)
        else:
            show(message, category, filename, lineno, file, line)

    return showwarning


def message_lang() -> str:
    """The language of the command line's words where no ``--lang`` says one: ``PLANNER_LANG`` (``zh``, else
    English when set), else Chinese. Every refusal carries both languages."""
    env = os.environ.get("PLANNER_LANG", "").strip().lower()
    return "zh" if not env or env.startswith("zh") else "en"


def output_lang(given: str | None = None) -> str:
    """The language of what a command prints and writes (its summaries, reports): its ``--lang`` (``given``), else
    ``PLANNER_LANG`` when set, else Chinese."""
    return given or message_lang()


def _said_in(args: argparse.Namespace) -> str:
    """The language of a command's refusal: the language it prints in (its ``--lang``, else ``PLANNER_LANG``, else
    Chinese), one rule for every command (an error line in English under a Chinese summary read as two tools)."""
    return getattr(args, "lang", None) or message_lang()


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    if hasattr(args, "lang"):  # every command's --lang: given, else PLANNER_LANG, else Chinese
        args.lang = output_lang(args.lang)
    if not getattr(args, "func", None):
        parser.print_help()
        return 0
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always", EncodingNote)  # each file read so, every run
            warnings.showwarning = _notes(warnings.showwarning, _said_in(args))
            return int(args.func(args) or 0)
    except PlannerError as exc:  # it may quote a delivered file's values: shown as terminal text
        zh = _said_in(args) == "zh"
        print(f"错误：{terminal_text(message_in(exc, 'zh'))}" if zh else f"error: {terminal_text(exc)}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and the like
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except OSError as exc:  # a file the command was given or writes: missing, not allowed, disk full
        if exc.errno is not None and exc.errno not in _REFUSED_ERRNOS:  # None: a library's own words on a path
            raise
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("已中断；工作空间保持本命令执行前的状态" if _said_in(args) == "zh"
              else "interrupted; the workspace was left as it was before this command", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
