"""Secrets come from an environment variable or a hidden prompt, never from the command line."""

from __future__ import annotations

import getpass
import os
import sys

from generator.errors import UsageError


def read_secret(env_var: str | None, prompt: str | None, option: str) -> str | None:
    """The secret in ``env_var``; else, with a ``prompt`` and a terminal, a hidden prompt; else None.

    A named variable that is unset or empty is an error: a silent fallback would hide a typo.
    """
    if env_var:
        value = os.environ.get(env_var)
        if not value:
            raise UsageError(f"{option} {env_var}: that environment variable is not set or empty")
        return value
    if prompt is None:
        return None
    if not sys.stdin.isatty():
        raise UsageError(f"no secret: there is no terminal to ask on; set an environment variable and pass {option} VAR")
    value = getpass.getpass(prompt)
    if not value:
        raise UsageError("no secret entered")
    return value
