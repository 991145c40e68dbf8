"""Reading the project's JSON files (stack.json, the service principal file, ARM templates): one reader, bounded;
and the answers the project was generated with (:func:`recorded_answer`).

A file is read only when it is a regular file (a link is followed to one; a folder, a device or a pipe is refused)
and no larger than :data:`LARGEST_JSON`, so a wrong path never hangs a sample or fills its memory.
"""

from __future__ import annotations

import json
import os
import re
import stat
from pathlib import Path
from typing import Any

# Larger than any settings file or ARM template (Resource Manager refuses a template over 4 MB).
LARGEST_JSON = 4 * 1024 * 1024
ANSWERS_FILE = ".copier-answers.yml"  # what the project was generated with (copier never records a secret)


class ConfigError(Exception):
    """The project's settings (or a file a sample was given) are missing or wrong; the message says which and what to do."""


def read_bytes(path: Path, name: str, largest: int, remedy: str) -> bytes:
    """The bytes of ``path`` (called ``name`` in messages): :class:`ConfigError` in one line when it is missing (saying
    ``remedy``), not a regular file, larger than ``largest`` bytes or unreadable."""
    try:
        # O_NONBLOCK: opening a FIFO does not wait for a writer; fstat then refuses it.
        descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise ConfigError(f"{name} is missing; {remedy}") from None
    except OSError as exc:
        raise ConfigError(f"{name} cannot be read ({exc.strerror or exc})") from None
    status = os.fstat(descriptor)
    if not stat.S_ISREG(status.st_mode):
        os.close(descriptor)
        raise ConfigError(f"{name} is not a regular file; give a JSON file")
    with os.fdopen(descriptor, "rb") as handle:
        if status.st_size > largest:
            raise ConfigError(f"{name} is {status.st_size} bytes, larger than the {largest} this project reads; give the right file")
        data = handle.read(largest + 1)
    if len(data) > largest:
        raise ConfigError(f"{name} grew past {largest} bytes while it was read; give the right file")
    return data


def read_json(path: Path, what: str | None = None, largest: int = LARGEST_JSON) -> dict[str, Any]:
    """The JSON object in ``path``; :class:`ConfigError` in one line, naming ``what`` the file is, when it is missing,
    not a regular file, larger than ``largest`` bytes, unreadable, not JSON, or not an object."""
    name = f"the {what} {path}" if what else path.name
    data = read_bytes(path, name, largest, "restore it or name another file" if what else "regenerate the project or restore the file")
    try:
        parsed = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"{name} is not valid JSON ({exc}); fix or restore it") from None
    except RecursionError:
        raise ConfigError(f"{name} nests its JSON deeper than Python reads; flatten it") from None
    if not isinstance(parsed, dict):
        raise ConfigError(f"{name} must hold a JSON object")
    return parsed


def recorded_answer(root: Path, key: str) -> str | None:
    """The one-line value ``.copier-answers.yml`` records for ``key``, or None."""
    try:
        text = read_bytes(root / ANSWERS_FILE, ANSWERS_FILE, 1024 * 1024, "restore it").decode("utf-8", errors="replace")
    except ConfigError:
        return None
    found = re.search(rf"^{re.escape(key)}: *(.*?) *$", text, re.MULTILINE)
    return (found.group(1).strip("'\"") or None) if found else None
