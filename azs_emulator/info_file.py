"""The keys of the emulator's info file (``--info-file``, ``--detach``): what :meth:`Emulator.info` writes.

One word per idea (docs/architecture.md's glossary): a key renamed is written under its released name as well, for
the scripts that read the file, and a reader takes a file an earlier emulator wrote (a detached one still serving
across an upgrade of azs-scaffold) through :func:`with_current_keys`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# A key's word now -> the released key it replaces (still written).
RELEASED_KEYS = {"release": "stack_version", "root_ca": "ca_cert"}


def with_released_keys(info: Mapping[str, Any]) -> dict[str, Any]:
    """``info`` (the current keys) with every released key beside the one that replaced it."""
    return {**info, **{old: info[new] for new, old in RELEASED_KEYS.items() if new in info}}


def with_current_keys(info: Mapping[str, Any]) -> dict[str, Any]:
    """``info`` as read from a file, with the current key wherever an earlier emulator wrote only the released one."""
    return {**{new: info[old] for new, old in RELEASED_KEYS.items() if old in info and new not in info}, **info}
