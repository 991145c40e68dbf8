"""How the emulator's TLS listeners hold their connections: threads only for requests being answered.

One selector thread accepts on every listener and watches the connections that wait, idle, between keep-alive
requests; a bounded pool of worker threads does the TLS handshake and answers one request at a time. An idle
connection costs a file descriptor, not a thread, and is closed after the keep-alive timeout, as HTTP.sys (the
front of Windows-hosted Azure services) closes an idle connection after its idle-connection timer (120 s by
default). When every worker is busy and the backlog is full, a connection is answered ``503`` with ``Retry-After``
by one refusing thread (or closed, when that one is busy too) rather than given a thread of its own; when the
connection cap is reached, the connection idle longest is closed first, as Apache's event MPM closes keep-alive
connections under pressure.
"""

from __future__ import annotations

import contextlib
import queue
import selectors
import socket
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# HTTP.sys's default idle-connection timer: 2 minutes (Microsoft's HTTP Server API docs, TimeoutManager.IdleConnection).
KEEP_ALIVE_SECONDS = 120.0
# Worker threads (requests answered at once) and connections waiting for one; past both: 503 + Retry-After.
WORKERS = 32
BACKLOG = WORKERS * 8
# Open connections of all listeners (idle ones included): at the cap the longest-idle one is closed.
MAX_CONNECTIONS = 4096
# Seconds a client may take to finish a TLS handshake or a request's head and body before it is dropped.
READ_SECONDS = 30.0


@dataclass(eq=False)
class Connection:
    """One accepted client connection of a listener; ``state`` is what the listener keeps between its requests."""

    sock: socket.socket
    address: Any
    listener: Any
    state: Any = None
    idle_since: float = field(default=0.0)
    closed: bool = False


# Answers the requests of a connection whose next bytes have arrived; returns True to keep it open (keep-alive).
ServeConnection = Callable[[Connection], bool]
# Answers 503 to a connection that no worker can take (handshake, read the head, answer, close).
RefuseConnection = Callable[[Connection], None]


class ConnectionHost:
    """Accepts on listening sockets and serves their connections with a bounded pool of threads."""

    def __init__(self, serve: ServeConnection, refuse: RefuseConnection, *, keep_alive: float = KEEP_ALIVE_SECONDS,
                 workers: int = WORKERS, backlog: int = BACKLOG, max_connections: int = MAX_CONNECTIONS,
                 name: str = "azs-emulator") -> None:
        self._serve, self._refuse = serve, refuse
        self.keep_alive, self._max_workers, self._max_connections = keep_alive, workers, max_connections
        self._name = name
        self._selector = selectors.DefaultSelector()
        self._ready: queue.Queue[Connection | None] = queue.Queue(maxsize=backlog)
        self._refusals: queue.Queue[Connection | None] = queue.Queue(maxsize=64)
        self._lock = threading.Lock()
        self._workers: list[threading.Thread] = []
        self._idle_workers = 0
        self._open = 0  # connections accepted and not yet closed
        self._idle: dict[Connection, None] = {}  # parked connections, longest idle first (selector thread only)
        self._to_park: list[Connection] = []
        self._listeners: list[tuple[socket.socket, Any]] = []
        self._wake_reader, self._wake_writer = socket.socketpair()
        self._wake_reader.setblocking(False)
        self._selector.register(self._wake_reader, selectors.EVENT_READ, None)
        self._running = False
        self._thread: threading.Thread | None = None
        self._refuser: threading.Thread | None = None

    # -- life cycle ------------------------------------------------------------------------------

    def add_listener(self, sock: socket.socket, listener: Any) -> None:
        """Serve ``sock`` (bound and listening); its connections carry ``listener``. Safe while running."""
        sock.setblocking(False)
        with self._lock:
            self._listeners.append((sock, listener))
        self._wake()

    def start(self) -> None:
        self._running = True
        self._thread = threading.Thread(target=self._loop, name=f"{self._name}-accept", daemon=True)
        self._thread.start()
        self._refuser = threading.Thread(target=self._refuse_loop, name=f"{self._name}-refuse", daemon=True)
        self._refuser.start()

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self) -> None:
        """Stop accepting, close idle connections and end the threads (a request being answered finishes first)."""
        self._running = False
        self._wake()
        if self._thread is not None:
            self._thread.join(10)
        for _ in self._workers:
            with contextlib.suppress(queue.Full):
                self._ready.put(None, timeout=1)
        with contextlib.suppress(queue.Full):
            self._refusals.put(None, timeout=1)
        deadline = time.monotonic() + 5  # a request still being answered (a long latency fault) is left to end alone
        for thread in [*self._workers, *([self._refuser] if self._refuser else [])]:
            thread.join(max(0.0, deadline - time.monotonic()))
        for sock, _ in self._listeners:
            sock.close()
        self._selector.close()
        self._wake_reader.close()
        self._wake_writer.close()

    def thread_count(self) -> int:
        """Threads this host runs now: the accepting one, the refusing one and the workers started so far."""
        return 2 + len(self._workers)

    # -- called by workers -----------------------------------------------------------------------

    def park(self, connection: Connection) -> None:
        """Wait (without a thread) for the connection's next request, up to the keep-alive timeout."""
        connection.idle_since = time.monotonic()
        with self._lock:
            self._to_park.append(connection)
        self._wake()

    def close(self, connection: Connection) -> None:
        """Close a connection for good (once)."""
        with self._lock:
            if connection.closed:
                return
            connection.closed = True
            self._open -= 1
        with contextlib.suppress(OSError):
            connection.sock.close()

    # -- the selector thread ---------------------------------------------------------------------

    def _wake(self) -> None:
        with contextlib.suppress(OSError):
            self._wake_writer.send(b"\0")

    def _loop(self) -> None:
        registered: set[socket.socket] = set()
        while self._running:
            with self._lock:
                listeners, parked, self._to_park = list(self._listeners), self._to_park, []
            for sock, listener in listeners:
                if sock not in registered:
                    try:
                        self._selector.register(sock, selectors.EVENT_READ, listener)
                    except (OSError, ValueError):  # closed by stop() meanwhile (it waited for this loop in vain)
                        continue
                    registered.add(sock)
            for connection in parked:
                self._watch(connection)
            try:
                events = self._selector.select(timeout=self._next_timeout())
            except (OSError, ValueError):
                if self._running:
                    raise
                break  # stop() closed the selector while this loop was still on its way out
            for key, _ in events:
                if key.fileobj is self._wake_reader:
                    with contextlib.suppress(OSError):
                        self._wake_reader.recv(4096)
                elif isinstance(key.data, Connection):
                    self._unwatch(key.data)
                    self._dispatch(key.data)
                else:
                    self._accept(key.fileobj, key.data)  # type: ignore[arg-type]
            self._close_expired()
        for connection in list(self._idle):
            self._unwatch(connection)
            self.close(connection)

    def _next_timeout(self) -> float:
        if not self._idle:
            return 1.0
        oldest = next(iter(self._idle))
        return max(0.0, min(1.0, oldest.idle_since + self.keep_alive - time.monotonic()))

    def _watch(self, connection: Connection) -> None:
        try:
            self._selector.register(connection.sock, selectors.EVENT_READ, connection)
        except (ValueError, OSError):  # closed meanwhile
            self.close(connection)
            return
        self._idle[connection] = None

    def _unwatch(self, connection: Connection) -> None:
        self._idle.pop(connection, None)
        with contextlib.suppress(KeyError, ValueError, OSError):
            self._selector.unregister(connection.sock)

    def _close_expired(self) -> None:
        deadline = time.monotonic() - self.keep_alive
        while self._idle:
            oldest = next(iter(self._idle))
            if oldest.idle_since > deadline:
                return
            self._unwatch(oldest)
            self.close(oldest)

    def _accept(self, sock: socket.socket, listener: Any) -> None:
        for _ in range(64):  # a burst at a time, so that idle connections are watched too
            try:
                client, address = sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # out of descriptors, or the listener closed: try again on the next round
                return
            client.setblocking(True)
            with self._lock:
                self._open += 1
                crowded = self._open > self._max_connections
            if crowded and self._idle:
                oldest = next(iter(self._idle))
                self._unwatch(oldest)
                self.close(oldest)
            self._dispatch(Connection(client, address, listener))

    def _dispatch(self, connection: Connection) -> None:
        """Hand a connection whose bytes have arrived to a worker, or refuse it when none can take it."""
        with self._lock:
            spawn = self._idle_workers == 0 and len(self._workers) < self._max_workers
            if spawn:
                self._idle_workers += 1
                worker = threading.Thread(target=self._work, name=f"{self._name}-worker-{len(self._workers)}", daemon=True)
                self._workers.append(worker)
        if spawn:
            worker.start()
        try:
            self._ready.put_nowait(connection)
            return
        except queue.Full:
            pass
        try:
            self._refusals.put_nowait(connection)
        except queue.Full:
            self.close(connection)

    # -- worker threads --------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            connection = self._ready.get()
            if connection is None:
                return
            with self._lock:
                self._idle_workers -= 1
            try:
                keep = self._running and self._serve(connection)
            except Exception:  # noqa: BLE001 - a connection's failure never ends the worker
                keep = False
            if keep:
                self.park(connection)
            else:
                self.close(connection)
            with self._lock:
                self._idle_workers += 1

    def _refuse_loop(self) -> None:
        while True:
            connection = self._refusals.get()
            if connection is None:
                return
            with contextlib.suppress(Exception):
                self._refuse(connection)
            self.close(connection)


def handshake(tls: ssl.SSLContext, sock: socket.socket, timeout: float = READ_SECONDS) -> ssl.SSLSocket | None:
    """The server side of a TLS handshake (None: the client gave up or distrusts us)."""
    sock.settimeout(timeout)
    try:
        # Headers and body go out as separate writes; without TCP_NODELAY the second waits for the
        # client's delayed ACK (tens of milliseconds per request).
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return tls.wrap_socket(sock, server_side=True)
    except (ssl.SSLError, OSError):
        return None
