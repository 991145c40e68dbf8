"""Waiting on the Stack, bounded and never silent.

Every client gets a :func:`transport`: azure-core's requests transport with bounded connect and read waits, TLS
verified with the project's bundle (:mod:`trust`), and each request noted while it is on the wire. While
:class:`waiting_notices` is active (``run`` keeps it so for a whole sample), a request left unanswered for a while is
named, so that a hung Stack shows as such instead of a silent terminal; :class:`heartbeat` says a slow call still runs.
"""

from __future__ import annotations

import threading
import time
from typing import Any

# Requests on the wire: (host, when sent) by request.
_IN_FLIGHT: dict[int, tuple[str, float]] = {}
# The longest a connection may take to open, and an answer to start arriving, before azure-core retries.
CONNECT_TIMEOUT, READ_TIMEOUT = 20.0, 60.0


def transport(config: Any) -> Any:
    """An azure-core transport for one client of this Stack (``config``: a StackConfig, for its CA)."""
    from urllib.parse import urlsplit

    from azure.core.pipeline.transport import RequestsTransport

    from .trust import stack_bundle

    class _WatchedTransport(RequestsTransport):
        def send(self, request: Any, **kwargs: Any) -> Any:
            key = id(request)
            _IN_FLIGHT[key] = (urlsplit(request.url).hostname or request.url, time.monotonic())
            try:
                return super().send(request, **kwargs)
            finally:
                _IN_FLIGHT.pop(key, None)

    # connection_verify names the bundle: requests then never looks for one in REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE.
    return _WatchedTransport(connection_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT,
                             connection_verify=stack_bundle(config))


class waiting_notices:
    """While active, every ``every`` seconds, name the host a request has waited on longer than ``every``."""

    def __init__(self, every: float = 10.0) -> None:
        self.every = every

    def __enter__(self) -> waiting_notices:
        self._stop = threading.Event()

        def watch() -> None:
            said = 0.0
            while not self._stop.wait(1.0):
                now = time.monotonic()
                waiting = [(host, now - sent) for host, sent in list(_IN_FLIGHT.values())]
                host, waited = max(waiting, key=lambda item: item[1], default=("", 0.0))
                if waited >= self.every and now - said >= self.every:
                    said = now
                    print(f"  still waiting for an answer from {host} ({waited:.0f} s; each try gives up after "
                          f"{READ_TIMEOUT:.0f} s)", flush=True)

        self._thread = threading.Thread(target=watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()


class heartbeat:
    """While a slow call runs, say every ``every`` seconds that it still runs (and for how long)."""

    def __init__(self, what: str, every: float = 3.0) -> None:
        self.what, self.every = what, every

    def __enter__(self) -> heartbeat:
        self._stop = threading.Event()
        started = time.monotonic()

        def beat() -> None:
            while not self._stop.wait(self.every):
                print(f"  still {self.what} ({time.monotonic() - started:.0f} s)", flush=True)

        self._thread = threading.Thread(target=beat, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
