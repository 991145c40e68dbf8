"""Errors the user can act on.

Every error a user can cause derives from :class:`ScaffoldError`; the CLI turns it into one line on
stderr and exit code 1, never a traceback. Anything else escaping is a bug.
"""

from __future__ import annotations


class ScaffoldError(Exception):
    """A failure with a one-line message that says what failed, where, and what to do."""

    exit_code = 1


class UsageError(ScaffoldError):
    """The command line asks for something that cannot be done as given."""

    exit_code = 2
