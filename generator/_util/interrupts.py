"""Ctrl-C and SIGTERM held back while a project is rewritten in place, so that it is never left half done."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

_HELD = {signal.SIGINT, signal.SIGTERM}


@contextlib.contextmanager
def held_interrupts() -> Iterator[list[signal.Signals]]:
    """Inside, SIGINT and SIGTERM wait (blocked, not lost); at the end those that arrived are taken off the
    process and listed in the yielded list, for the caller to report the completed work before it stops.

    Outside the main thread, where signals cannot be masked for the process, it holds nothing.
    """
    arrived: list[signal.Signals] = []
    if threading.current_thread() is not threading.main_thread():
        yield arrived
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
    try:
        yield arrived
    finally:
        for number in sorted(signal.sigpending() & _HELD):
            if signal.sigtimedwait([number], 0) is not None:
                arrived.append(signal.Signals(number))
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Inside, SIGINT and SIGTERM wait; they take effect as the block ends.

    For a few seconds of in-place writing (copier's copy) whose half-done state would be worse than waiting.
    """
    with held_interrupts() as arrived:
        yield
    for number in arrived:
        signal.raise_signal(number)
