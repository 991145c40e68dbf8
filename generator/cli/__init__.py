"""The ``azs-scaffold`` entry point: the parser built from the table of commands, and the dispatch.

The commands and their table are ``generator/commands/`` (one module a command); what they do, the library, is
``generator/operations/``. This folder holds what every command shares: the options several commands take
(``options``) and the one place a failure becomes one line on stderr and its exit code (``exit_codes``). Only the
command that runs is imported (``--help`` and ``COMMAND --help`` import neither copier, the Azure SDK nor the
emulator).
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys
from collections.abc import Sequence

from generator import __version__
from generator.cli.exit_codes import PROG, USAGE, run_reporting_failures
from generator.commands import COMMANDS

# Read by type checkers alone: --help imports neither typing nor what only a running command needs.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class HelpFormatter(argparse.HelpFormatter):
    """argparse's, told the terminal's width as ``shutil.get_terminal_size`` finds it (``COLUMNS``, else the terminal,
    else 80) without importing shutil, which brings bz2 and lzma: a tenth of ``--help``'s imports."""

    def __init__(self, prog: str, indent_increment: int = 2, max_help_position: int = 24, width: int | None = None) -> None:
        super().__init__(prog, indent_increment, max_help_position, width if width is not None else _columns() - 2)


def _columns() -> int:
    import os

    try:
        return int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        pass
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns or 80  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        return 80


def _chosen(argv: Sequence[str]) -> str | None:
    """The command ``argv`` names: its first word that is no option (the program's own options take no value)."""
    first = next((word for word in argv if not word.startswith("-")), None)
    return first if first in COMMANDS else None


def build_parser(argv: Sequence[str] = ()) -> argparse.ArgumentParser:
    """The parser: every command listed, the options of only the one ``argv`` names (its module is imported)."""
    parser = argparse.ArgumentParser(prog=PROG, description="Generate ready-to-run Python projects for Azure Stack Hub.",
                                     formatter_class=HelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND", dest="command")
    chosen = _chosen(argv)
    for name, command in COMMANDS.items():
        if name != chosen:
            commands.add_parser(name, help=command.summary, formatter_class=HelpFormatter)
            continue
        module = importlib.import_module(f"generator.commands.{command.module}")
        sub = commands.add_parser(name, help=command.summary, description=module.DESCRIPTION, formatter_class=HelpFormatter)
        module.add_options(sub)
        sub.set_defaults(module=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(argv)
    args = parser.parse_args(argv)
    module = getattr(args, "module", None)
    if module is None:
        parser.print_help()
        return USAGE
    import logging  # here, not at the top: --help goes without it (a fifth of its imports)

    # The SDK and MSAL log failures (with tracebacks, and the server's answer) before raising them;
    # the CLI reports each failure once, itself, in one line.
    for name in ("azure", "msal"):
        logging.getLogger(name).addHandler(logging.NullHandler())
        logging.getLogger(name).propagate = False
    from generator._util.interrupts import install_interrupt_handlers
    from generator.cli.options import options_of  # with its command (dataclasses): the bare --help goes without

    # SIGTERM ends every command as Ctrl-C does: cleanly, leaving whole results or nothing; never inside an import.
    install_interrupt_handlers()
    return run_reporting_failures(lambda: _run(module, options_of(module.Options, args)))


def _run(module: Any, options: Any) -> int:
    """The command; a Stack command given ``--emulator F`` runs with that emulator's Stack and behind its proxy."""
    discovery = getattr(options, "discovery", None)
    if discovery is None or not discovery.emulator:
        return int(module.run(options))
    from generator.operations.emulator_control import emulator_stack

    with emulator_stack(discovery.emulator) as stack:
        options.discovery = discovery.on_emulator(stack)
        return int(module.run(options))


def run() -> None:
    """The ``azs-scaffold`` command: :func:`main`, then exit with its code.

    Once the work is done (whole, or cleaned up), Ctrl-C and SIGTERM are ignored: Python restores their
    default action while it shuts down, and a signal in that moment would turn a finished run into a kill.
    """
    code = main()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    sys.exit(code)
