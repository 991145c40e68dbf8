"""The emulator's HTTPS proxy: how clients reach a Stack's host names on loopback, without root, DNS or a
hosts file - the way they reach a real Stack behind a corporate proxy.

Every client this project is judged by (Python requests and so azure-core, MSAL and Azure CLI; Node's
@azure SDK) honours ``HTTPS_PROXY``: it sends ``CONNECT management.local.azurestack.external:443``, then
speaks TLS through the tunnel and checks the certificate against that name. The proxy maps each name it
serves to one of the emulator's listeners; any other host is refused with a clear answer. It never relays
anywhere else.
"""

from __future__ import annotations

import contextlib
import os
import selectors
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator

from azs_emulator.connections import KEEP_ALIVE_SECONDS, READ_SECONDS

# A host the proxy knows: the (host, port) of the listener behind it, or the words saying why nothing serves it.
Target = tuple[str, int] | str | None
Resolver = Callable[[str], Target]
_MAX_HEAD = 16 * 1024
_PIECE = 64 * 1024
# Bytes read from one side and not yet written to the other, before the proxy stops reading that side.
_MAX_PENDING = 256 * 1024


class _Side:
    """One socket of a tunnel: what waits to be written to it, and whether it has ended."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.outgoing = bytearray()
        self.ended = False


class _Tunnel:
    """A client connection: first its CONNECT head, then the bytes both ways to the listener behind it."""

    def __init__(self, client: socket.socket) -> None:
        self.client = _Side(client)
        self.upstream: _Side | None = None
        self.head = bytearray()
        self.last_active = time.monotonic()

    def other(self, side: _Side) -> _Side:
        assert self.upstream is not None
        return self.upstream if side is self.client else self.client

    def sides(self) -> list[_Side]:
        return [self.client] + ([self.upstream] if self.upstream is not None else [])


class _ProxyLoop:
    """Every tunnel in one thread (a selector): an idle tunnel costs two descriptors, no thread; one idle for the
    keep-alive timeout is closed, as a real proxy closes idle tunnels."""

    def __init__(self, address: tuple[str, int], resolve: Resolver, served: str, idle_seconds: float) -> None:
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.listener = socket.create_server(address, family=family, backlog=128)
        self.listener.setblocking(False)
        self.resolve, self.served, self.idle_seconds = resolve, served, idle_seconds
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.listener, selectors.EVENT_READ, None)
        self.tunnels: set[_Tunnel] = set()
        self.running = True

    def run(self) -> None:
        while self.running:
            for key, events in self.selector.select(timeout=0.25):
                if key.data is None:
                    self._accept()
                    continue
                tunnel, side = key.data
                if tunnel in self.tunnels:
                    self._on_ready(tunnel, side, events)
            self._close_idle()
        for tunnel in list(self.tunnels):
            self._close(tunnel)
        self.selector.close()
        self.listener.close()

    def _accept(self) -> None:
        for _ in range(64):
            try:
                client, _ = self.listener.accept()
            except OSError:  # nothing more waits (or no descriptor is left: try again on the next round)
                return
            client.setblocking(False)
            tunnel = _Tunnel(client)
            self.tunnels.add(tunnel)
            self.selector.register(client, selectors.EVENT_READ, (tunnel, tunnel.client))

    def _on_ready(self, tunnel: _Tunnel, side: _Side, events: int) -> None:
        tunnel.last_active = time.monotonic()
        if tunnel.upstream is None:
            self._read_head(tunnel)
            return
        if events & selectors.EVENT_WRITE and not self._flush(tunnel, side):
            return
        if events & selectors.EVENT_READ and not side.ended:
            try:
                data = side.sock.recv(_PIECE)
            except (BlockingIOError, InterruptedError):
                return
            except OSError:  # a reset travels on, as through a real proxy's tunnel
                _reset(tunnel.other(side).sock)
                self._close(tunnel)
                return
            if not data:
                side.ended = True
            else:
                tunnel.other(side).outgoing += data
                if not self._flush(tunnel, tunnel.other(side)):
                    return
        if any(s.ended for s in tunnel.sides()) and not any(s.outgoing for s in tunnel.sides()):
            self._close(tunnel)  # one side ended and everything it sent is delivered
            return
        self._rearm(tunnel)

    def _flush(self, tunnel: _Tunnel, side: _Side) -> bool:
        """Write what waits for ``side``; False: the tunnel broke and is closed."""
        while side.outgoing:
            try:
                sent = side.sock.send(side.outgoing)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                _reset(tunnel.other(side).sock)
                self._close(tunnel)
                return False
            del side.outgoing[:sent]
        self._rearm(tunnel)
        return True

    def _rearm(self, tunnel: _Tunnel) -> None:
        """Read a side unless it ended or the other still has much to write; write a side that has bytes waiting."""
        for side in tunnel.sides():
            other = tunnel.other(side) if tunnel.upstream is not None else None
            events = 0
            if not side.ended and (other is None or len(other.outgoing) < _MAX_PENDING):
                events |= selectors.EVENT_READ
            if side.outgoing:
                events |= selectors.EVENT_WRITE
            with contextlib.suppress(KeyError, ValueError):
                if events:
                    self.selector.modify(side.sock, events, (tunnel, side))
                else:
                    self.selector.unregister(side.sock)
                continue
            if events:
                self.selector.register(side.sock, events, (tunnel, side))

    def _read_head(self, tunnel: _Tunnel) -> None:
        client = tunnel.client.sock
        try:
            chunk = client.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            chunk = b""
        tunnel.head += chunk
        if not chunk or len(tunnel.head) > _MAX_HEAD:
            self._close(tunnel)
            return
        if b"\r\n\r\n" not in tunnel.head:
            return
        parts = bytes(tunnel.head).split(b"\r\n", 1)[0].decode("latin-1").split()
        if len(parts) != 3 or parts[0].upper() != "CONNECT":
            self._refuse(tunnel, 405, "Method Not Allowed",
                         f"this is the azs-scaffold emulator's HTTPS proxy: it tunnels CONNECT to the Stack's names only "
                         f"({self.served}); set it as HTTPS_PROXY, not HTTP_PROXY")
            return
        host, _, port = parts[1].rpartition(":")
        host = host.strip("[]").lower().rstrip(".")
        target = self.resolve(host) if port == "443" else None
        if target is None:
            self._refuse(tunnel, 403, "Forbidden",
                         f"{parts[1]} is not a host of this emulated Stack, and this proxy relays nowhere else; it serves "
                         f"{self.served} on port 443 (exclude other hosts with NO_PROXY)")
            return
        if isinstance(target, str):
            self._refuse(tunnel, 502, "Bad Gateway", f"{host}: {target}")
            return
        try:
            upstream = socket.create_connection(target, timeout=10)  # a listener on loopback: at once
        except OSError as exc:
            self._refuse(tunnel, 502, "Bad Gateway", f"{host}: the emulator's listener at {target[0]}:{target[1]} is not answering ({exc})")
            return
        upstream.setblocking(False)
        tunnel.upstream = _Side(upstream)
        # Bytes the client sent after its head (a TLS hello) go on with the tunnel.
        tunnel.upstream.outgoing += bytes(tunnel.head).split(b"\r\n\r\n", 1)[1]
        tunnel.client.outgoing += b"HTTP/1.1 200 Connection established\r\nProxy-Agent: azs-scaffold-emulator\r\n\r\n"
        self._flush(tunnel, tunnel.client)
        self._flush(tunnel, tunnel.upstream)

    def _refuse(self, tunnel: _Tunnel, status: int, reason: str, message: str) -> None:
        body = f"azs-scaffold emulator proxy: {message}\n".encode()
        head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n"
                f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
        tunnel.client.sock.settimeout(5)
        with contextlib.suppress(OSError):
            tunnel.client.sock.sendall(head + body)
        self._close(tunnel)

    def _close_idle(self) -> None:
        now = time.monotonic()
        for tunnel in list(self.tunnels):
            limit = self.idle_seconds if tunnel.upstream is not None else READ_SECONDS
            if now - tunnel.last_active > limit:
                self._close(tunnel)

    def _close(self, tunnel: _Tunnel) -> None:
        self.tunnels.discard(tunnel)
        for side in tunnel.sides():
            with contextlib.suppress(KeyError, ValueError):
                self.selector.unregister(side.sock)
            with contextlib.suppress(OSError):
                side.sock.close()


def _reset(sock: socket.socket) -> None:
    """Close with a TCP reset (closed here, before an orderly shutdown could send a FIN first)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    except OSError:
        pass


class HttpsProxy:
    """A CONNECT proxy on ``host:port`` (0: any free port) that maps names to listeners through ``resolve``;
    ``served`` names them for its refusals. Tunnels idle for ``idle_seconds`` are closed."""

    def __init__(self, host: str, port: int, resolve: Resolver, served: str, idle_seconds: float = KEEP_ALIVE_SECONDS) -> None:
        self._loop = _ProxyLoop((host, port), resolve, served, idle_seconds)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._loop.listener.getsockname()[:2]
        return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"  # an IPv6 address in brackets (RFC 3986)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop.run, name="azs-emulator-proxy", daemon=True)
        self._thread.start()

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self) -> None:
        self._loop.running = False
        if self._thread is not None:
            self._thread.join(5)
        else:
            self._loop.listener.close()


_CLIENT_PROXY_VARIABLES = ("HTTPS_PROXY", "https_proxy", "NO_PROXY", "no_proxy")


@contextlib.contextmanager
def through_proxy(proxy: str | None, no_proxy: str = "") -> Iterator[None]:
    """While the block runs, this process's HTTPS requests go through ``proxy`` (an emulator's), except to the hosts
    of ``no_proxy``; nothing changes when ``proxy`` is None (the loopback layout)."""
    saved = {name: os.environ.get(name) for name in _CLIENT_PROXY_VARIABLES}
    if proxy:
        for name in _CLIENT_PROXY_VARIABLES:
            os.environ.pop(name, None)
        os.environ["HTTPS_PROXY"] = proxy
        if no_proxy:
            os.environ["NO_PROXY"] = no_proxy
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
