"""Secrets come from an environment variable or a hidden prompt, never from the command line; and they
never go out in a message: every secret this process learns is remembered, and :func:`redact` blanks it
out of any text (an identity server may quote it back; an exception may carry it)."""

from __future__ import annotations

import base64
import getpass
import json
import os
import re
import sys
from urllib.parse import quote, quote_plus

from generator.errors import UsageError

REDACTED = "[redacted]"
_known: set[str] = set()


def remember(secret: str | None) -> str | None:
    """Note ``secret`` for :func:`redact`; returns it unchanged."""
    if secret and len(secret) >= 4:  # shorter strings would blank out ordinary words
        _known.add(secret)
    return secret


def _spellings(secret: str) -> set[str]:
    """The ways a server or a library may quote ``secret`` back: as posted in a form (percent-encoded, either
    way), JSON-escaped, and base64 (at each of the three alignments it can take inside a longer encoded run,
    as in a Basic authorization header)."""
    raw = secret.encode()
    spellings = {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}
    for offset in range(3):
        encoded = base64.b64encode(b"\0" * offset + raw).decode()
        core = encoded[4 if offset else 0:]
        spellings |= {core.rstrip("="), core.rstrip("=").replace("+", "-").replace("/", "_")}
    return {s for s in spellings if s}


def _window(spelling: str) -> int:
    """The shortest run of ``spelling`` that is blanked: half of it (a server may print a part), but never a run
    so short that ordinary words would match it."""
    return min(len(spelling), max(6, len(spelling) // 2))


def redact(text: str) -> str:
    """``text`` with every remembered secret replaced by :data:`REDACTED`: also its encoded spellings, in any
    letter case, and any run of half of one of them or more."""
    spans: list[tuple[int, int]] = []
    for secret in _known:
        for spelling in _spellings(secret):
            size = _window(spelling)
            windows = {spelling[i:i + size] for i in range(len(spelling) - size + 1)}
            pattern = re.compile("|".join(re.escape(w) for w in sorted(windows)), re.IGNORECASE)
            start = 0
            while match := pattern.search(text, start):
                spans.append(match.span())
                start = match.start() + 1  # overlapping windows: together they cover any longer run
    if not spans:
        return text
    merged: list[list[int]] = []
    for begin, end in sorted(spans):
        if merged and begin <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([begin, end])
    pieces, cursor = [], 0
    for begin, end in merged:
        pieces += [text[cursor:begin], REDACTED]
        cursor = end
    return "".join([*pieces, text[cursor:]])


_VARIABLE_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_CONVENTIONAL_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")


def from_variable(env_var: str, option: str) -> str:
    """The secret held by the environment variable named ``env_var`` (``option`` names where the name was given).

    A name that is no variable's name (a secret pasted where its variable's name belongs) is refused without
    repeating it; a named variable that is unset or empty is an error: a silent fallback would hide a typo.
    """
    if not _VARIABLE_NAME.fullmatch(env_var):
        remember(env_var)  # most likely the secret itself: never repeat it
        raise UsageError(f"{option} takes the NAME of an environment variable (letters, digits and underscores, as in "
                         "AZS_CLIENT_SECRET), and the value given is not one; put the secret in a variable and pass its name")
    value = os.environ.get(env_var)
    if not value:
        if not _CONVENTIONAL_NAME.fullmatch(env_var):
            # Not a name in the usual upper case: it may well be a secret that happens to fit a name's rule.
            remember(env_var)
            raise UsageError(f"{option}: the environment variable named is not set or empty (its name is not repeated: it "
                             "is not in upper case, and may be the secret itself); pass the NAME of the variable holding it")
        raise UsageError(f"{option} {env_var}: that environment variable is not set or empty")
    return remember(value) or value


def read_secret(env_var: str | None, prompt: str | None, option: str) -> str | None:
    """The secret in ``env_var``; else, with a ``prompt`` and a terminal, a hidden prompt; else None."""
    if env_var:
        return from_variable(env_var, option)
    if prompt is None:
        return None
    if not sys.stdin.isatty():
        raise UsageError(f"no secret: there is no terminal to ask on; set an environment variable and pass {option} VAR")
    value = getpass.getpass(prompt)
    if not value:
        raise UsageError("no secret entered")
    return remember(value)
