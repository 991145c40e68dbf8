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
import select
import socket
import socketserver
import struct
import threading
from collections.abc import Callable, Iterator

# A host the proxy knows: the (host, port) of the listener behind it, or the words saying why nothing serves it.
Target = tuple[str, int] | str | None
Resolver = Callable[[str], Target]
_MAX_HEAD = 16 * 1024
_IDLE_SECONDS = 300


class _ProxyServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], resolve: Resolver, served: str) -> None:
        self.resolve = resolve
        self.served = served
        super().__init__(address, _Tunnel)


class _Tunnel(socketserver.BaseRequestHandler):
    server: _ProxyServer

    def handle(self) -> None:
        client: socket.socket = self.request
        client.settimeout(30)
        try:
            head = _read_head(client)
        except (OSError, ValueError):
            return
        request_line = head.split(b"\r\n", 1)[0].decode("latin-1")
        parts = request_line.split()
        if len(parts) != 3 or parts[0].upper() != "CONNECT":
            _refuse(client, 405, "Method Not Allowed",
                    f"this is the azs-scaffold emulator's HTTPS proxy: it tunnels CONNECT to the Stack's names only "
                    f"({self.server.served}); set it as HTTPS_PROXY, not HTTP_PROXY")
            return
        host, _, port = parts[1].rpartition(":")
        host = host.strip("[]").lower().rstrip(".")
        target = self.server.resolve(host) if port == "443" else None
        if target is None:
            _refuse(client, 403, "Forbidden",
                    f"{parts[1]} is not a host of this emulated Stack, and this proxy relays nowhere else; it serves "
                    f"{self.server.served} on port 443 (exclude other hosts with NO_PROXY)")
            return
        if isinstance(target, str):
            _refuse(client, 502, "Bad Gateway", f"{host}: {target}")
            return
        try:
            upstream = socket.create_connection(target, timeout=10)
        except OSError as exc:
            _refuse(client, 502, "Bad Gateway", f"{host}: the emulator's listener at {target[0]}:{target[1]} is not answering ({exc})")
            return
        with upstream:
            client.sendall(b"HTTP/1.1 200 Connection established\r\nProxy-Agent: azs-scaffold-emulator\r\n\r\n")
            _pipe(client, upstream)


def _read_head(client: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = client.recv(4096)
        if not chunk:
            raise ValueError("closed before the request head ended")
        data += chunk
        if len(data) > _MAX_HEAD:
            raise ValueError("request head too long")
    return data


def _refuse(client: socket.socket, status: int, reason: str, message: str) -> None:
    body = f"azs-scaffold emulator proxy: {message}\n".encode()
    head = (f"HTTP/1.1 {status} {reason}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode()
    try:
        client.sendall(head + body)
    except OSError:
        pass


def _pipe(a: socket.socket, b: socket.socket) -> None:
    """Copy bytes both ways until either side closes (or nothing moves for a long while)."""
    sockets = [a, b]
    for sock in sockets:
        sock.settimeout(None)
    while True:
        readable, _, broken = select.select(sockets, [], sockets, _IDLE_SECONDS)
        if broken or not readable:
            return
        for source in readable:
            try:
                data = source.recv(65536)
            except ConnectionResetError:
                _reset(b if source is a else a)  # a reset travels on, as through a real proxy's tunnel
                return
            except OSError:
                return
            if not data:
                return
            try:
                (b if source is a else a).sendall(data)
            except OSError:
                return


def _reset(sock: socket.socket) -> None:
    """Close with a TCP reset (closed here, before the server's orderly shutdown could send a FIN first)."""
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    except OSError:
        pass


class HttpsProxy:
    """A CONNECT proxy on ``host:port`` (0: any free port) that maps names to listeners through ``resolve``;
    ``served`` names them for its refusals."""

    def __init__(self, host: str, port: int, resolve: Resolver,
                 served: str) -> None:
        self._server = _ProxyServer((host, port), resolve, served)
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        assert isinstance(host, str)  # an AF_INET or AF_INET6 server's address
        return f"http://{host}:{port}"

    def start(self) -> None:
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="azs-emulator-proxy", daemon=True)
        self._thread.start()

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
        self._server.server_close()


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
