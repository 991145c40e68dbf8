"""What a command's exit code means, and the one place a failure becomes one line on stderr and its code.

- ``SUCCESS`` (0): done; for a check, nothing to do;
- ``FAILURE`` (1): a failure the user can act on (:class:`~generator.errors.ScaffoldError`, the emulator's
  ``EmulatorError``); for a check (``upgrade --check``, ``doctor``), "something to do";
- ``USAGE`` (2): the command line asks for what cannot be done as given (:class:`~generator.errors.UsageError`);
  for a check, "cannot tell" (``upgrade --check`` against an unreachable Stack, ``doctor`` that could not run);
- ``INTERRUPTED`` (130): Ctrl-C or SIGTERM, with whole results or nothing left behind.

An error class may name another code (its ``exit_code``); anything else escaping is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from generator.errors import ScaffoldError

PROG = "azs-scaffold"

SUCCESS = 0
FAILURE = 1
USAGE = 2
CANNOT_TELL = 2
INTERRUPTED = 130


def run_reporting_failures(command: Callable[[], int]) -> int:
    """``command()``'s exit code, or the code of the failure it raised, reported in one line."""
    try:
        return command()
    except ScaffoldError as error:
        return report(error, error.exit_code)
    except Exception as error:
        # The emulator's errors are its own (it imports nothing of ours); looked up only if the emulator was loaded,
        # so that --help never imports it.
        emulator_errors = sys.modules.get("azs_emulator.errors")
        if emulator_errors is None or not isinstance(error, emulator_errors.EmulatorError):
            raise
        return report(error, error.exit_code)
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return INTERRUPTED


def report(error: Exception, exit_code: int) -> int:
    """One line on stderr for a failure the user can act on (no secret in it, no control character of what a server
    or a file said: a newline in it would forge a line); its exit code."""
    from generator._util.redact import redact
    from generator._util.terminal import printable

    print(f"{PROG}: error: {printable(redact(str(error)))}", file=sys.stderr)
    return exit_code
