"""Ctrl-C and SIGTERM: held back while a project is rewritten in place, so that it is never left half done; and
turned into KeyboardInterrupt everywhere else, but never inside an import."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from types import FrameType

_HELD = {signal.SIGINT, signal.SIGTERM}


@contextlib.contextmanager
def held_interrupts() -> Iterator[list[signal.Signals]]:
    """Inside, SIGINT and SIGTERM wait (not lost); at the end those that arrived are listed in the yielded list, for
    the caller to report the completed work before it stops.

    Two holds, as a process-wide signal finds a way in through either: the main thread blocks them (and so do the
    programs it starts meanwhile, git under copier, which inherit the mask: Ctrl-C reaches the whole process group),
    and a handler that only notes them stands in for the raising one (a signal the kernel hands to another thread,
    one of azure-core's or a discovery worker, would otherwise raise KeyboardInterrupt in the main thread all the
    same, and copier's git would be killed mid-checkout).

    Outside the main thread, where neither can be set, it holds nothing.
    """
    arrived: list[signal.Signals] = []
    if threading.current_thread() is not threading.main_thread():
        yield arrived
        return
    noted: list[int] = []
    handlers = {number: signal.signal(number, lambda number, frame: noted.append(number)) for number in _HELD}
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, _HELD)
    try:
        yield arrived
    finally:
        for number in sorted(signal.sigpending() & _HELD):
            if signal.sigtimedwait([number], 0) is not None:
                noted.append(number)
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
        for number, handler in handlers.items():
            signal.signal(number, handler if handler is not None else signal.SIG_DFL)
        arrived.extend(signal.Signals(number) for number in dict.fromkeys(noted))


@contextlib.contextmanager
def deferred_interrupts() -> Iterator[None]:
    """Inside, SIGINT and SIGTERM wait; they take effect as the block ends.

    For a few seconds of in-place writing (copier's copy) whose half-done state would be worse than waiting.
    """
    with held_interrupts() as arrived:
        yield
    for number in arrived:
        signal.raise_signal(number)


def _inside_an_import(frame: FrameType | None) -> bool:
    """Whether ``frame`` (where the main thread was when a signal came) runs inside importlib: a module being
    imported, or the import machinery itself."""
    while frame is not None:
        if frame.f_code.co_filename.startswith("<frozen importlib"):
            return True
        frame = frame.f_back
    return False


def _interrupt(signum: int, frame: FrameType | None) -> None:
    """Ctrl-C or SIGTERM: KeyboardInterrupt, the run's one way to stop cleanly, but never inside an import.

    An exception raised inside importlib can leave a module's import lock held, and a later import of that module
    (copier's, warmed up in a thread while discovery runs) then waits for ever. Inside an import the signal is
    sent again 50 ms later, until it lands outside.
    """
    if _inside_an_import(frame):
        threading.Timer(0.05, os.kill, (os.getpid(), signum)).start()
        return
    raise KeyboardInterrupt


def install_interrupt_handlers() -> None:
    """SIGINT and SIGTERM end a command as Ctrl-C does (KeyboardInterrupt), never inside an import."""
    for number in _HELD:
        signal.signal(number, _interrupt)
