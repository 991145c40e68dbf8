"""Secrets come from an environment variable or a hidden prompt, never from the command line; and they
never go out in a message: every secret this process learns is remembered, and :func:`redact` blanks it
out of any text (an identity server may quote it back; an exception may carry it)."""

from __future__ import annotations

import getpass
import os
import sys

from generator.errors import UsageError

REDACTED = "[redacted]"
_known: set[str] = set()


def remember(secret: str | None) -> str | None:
    """Note ``secret`` for :func:`redact`; returns it unchanged."""
    if secret and len(secret) >= 4:  # shorter strings would blank out ordinary words
        _known.add(secret)
    return secret


def redact(text: str) -> str:
    """``text`` with every remembered secret replaced by :data:`REDACTED`."""
    for secret in sorted(_known, key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def read_secret(env_var: str | None, prompt: str | None, option: str) -> str | None:
    """The secret in ``env_var``; else, with a ``prompt`` and a terminal, a hidden prompt; else None.

    A named variable that is unset or empty is an error: a silent fallback would hide a typo.
    """
    if env_var:
        value = os.environ.get(env_var)
        if not value:
            raise UsageError(f"{option} {env_var}: that environment variable is not set or empty")
        return remember(value)
    if prompt is None:
        return None
    if not sys.stdin.isatty():
        raise UsageError(f"no secret: there is no terminal to ask on; set an environment variable and pass {option} VAR")
    value = getpass.getpass(prompt)
    if not value:
        raise UsageError("no secret entered")
    return remember(value)
