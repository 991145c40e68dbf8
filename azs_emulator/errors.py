"""The emulator's own errors (it imports nothing of the generator): a command line turns them into one line and
their ``exit_code``."""

from __future__ import annotations


class EmulatorError(Exception):
    """The emulator cannot start or cannot keep its state; the message says what to do."""

    exit_code = 1


class EmulatorUsageError(EmulatorError):
    """Options (or files named by them) that cannot work as given."""

    exit_code = 2
