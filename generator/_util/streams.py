"""Where output goes: a report on stdout stays the report alone, whatever the processes started meanwhile print."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """Inside, everything written to stdout (by this process and by the processes it starts: copier's tasks, git)
    goes to stderr, at the level of the file descriptor; stdout is restored after."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
