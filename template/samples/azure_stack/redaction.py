"""Secrets never printed: every secret this process reads is remembered, and :func:`redact` blanks it out of any
text before it is shown (an identity server or a Stack may quote a secret back in an error message).
"""

from __future__ import annotations

import json

_SECRETS: set[str] = set()  # every secret this process read


def remember(secret: str | None) -> str | None:
    """Note ``secret`` for :func:`redact`; returns it unchanged."""
    if secret and len(secret) >= 4:
        _SECRETS.add(secret)
    return secret


def _spellings(secret: str) -> set[str]:
    """As posted in a form (percent-encoded either way), JSON-escaped, and base64 at each of its three alignments."""
    import base64
    from urllib.parse import quote, quote_plus

    spellings = {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}
    for offset in range(3):
        core = base64.b64encode(b"\0" * offset + secret.encode()).decode()[4 if offset else 0:].rstrip("=")
        spellings |= {core, core.replace("+", "-").replace("/", "_")}
    return {s for s in spellings if s}


def redact(text: str) -> str:
    """``text`` with every remembered secret blanked out: also its encoded spellings, in any letter case, and any run
    of half of one of them or more (a server may quote a part)."""
    import re

    spans = []
    for secret in _SECRETS:
        for spelling in _spellings(secret):
            size = min(len(spelling), max(6, len(spelling) // 2))
            windows = sorted({spelling[i:i + size] for i in range(len(spelling) - size + 1)})
            pattern = re.compile("|".join(map(re.escape, windows)), re.IGNORECASE)
            start = 0
            while match := pattern.search(text, start):
                spans.append(match.span())
                start = match.start() + 1
    merged: list[list[int]] = []
    for begin, end in sorted(spans):
        if merged and begin <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([begin, end])
    for begin, end in reversed(merged):
        text = text[:begin] + "[redacted]" + text[end:]
    return text


def one_line(text: object) -> str:
    """``text`` redacted, on one line, at most 400 characters (redacted before it is cut: a cut through a quoted secret
    could leave less of it than redaction recognises)."""
    return redact(" ".join(str(text).split()))[:400]
