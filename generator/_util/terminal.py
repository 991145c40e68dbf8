"""Text from a server or a template, made safe before it reaches a terminal.

A role name, a resource type or an error message is data someone else wrote: its control characters (an escape
sequence that retitles the window or recolours the screen, a carriage return or a newline that forges a line of
our own output, a bidirectional override that reorders what is shown) are printed as escapes (``\\x1b``), never
sent to the terminal. :func:`printable` is the one way, used by every printer of such text.
"""

from __future__ import annotations

import re

# C0 and C1 controls, DEL, and the bidirectional marks, embeddings, overrides and isolates (Unicode's Bidi_Control).
_OTHER_CONTROLS = "\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069"
_IN_A_VALUE = re.compile(f"[\x00-\x1f{_OTHER_CONTROLS}]")
_IN_LINES = re.compile(f"[\x00-\x08\x0b-\x1f{_OTHER_CONTROLS}]")  # newline (\x0a) and tab (\x09) kept


def _escaped(match: re.Match[str]) -> str:
    return match.group().encode("unicode_escape").decode("ascii")


def printable(text: object, lines: bool = False) -> str:
    """``text`` with each control character shown as its escape (``\\x1b``, ``\\n``, ``\\u202e``): one value on one
    line. With ``lines``, a text of our own that holds server data: its newlines and tabs are kept."""
    return (_IN_LINES if lines else _IN_A_VALUE).sub(_escaped, str(text))
