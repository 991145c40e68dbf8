"""Plumbing every part of the generator may use, and that knows nothing of Stacks or templates:

- ``files``: files read from a user's paths only when regular and of a sane size; private files written 0600;
- ``redact``: secrets read from a named variable or a hidden prompt, and blanked out of every message;
- ``git``: the one git runner, with one-line errors;
- ``interrupts``: Ctrl-C and SIGTERM held while a project is rewritten in place;
- ``streams``: stdout kept for a report while other processes print (``upgrade --all``, ``--json``).
"""

__all__ = ["files", "git", "interrupts", "redact", "streams"]
