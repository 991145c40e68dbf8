"""Ctrl-C and SIGTERM held back while a project is rewritten in place, so that it is never left half done."""

from __future__ import annotations

import contextlib
import signal
import threading
from typing import Iterator

_HELD = {signal.SIGINT, signal.SIGTERM}


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Inside, SIGINT and SIGTERM wait (blocked, not lost); they take effect as the block ends.

    For a few seconds of in-place writing (copier's update) whose half-done state would be worse than
    waiting. Outside the main thread, where signals cannot be masked for the process, it does nothing.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
