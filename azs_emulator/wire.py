"""HTTP/1.1 on one TLS connection: the request head, a body read in bounded pieces, the answer on the wire.

The head is parsed by the standard library's ``BaseHTTPRequestHandler``; the body is read here, at most the limit of
its kind (``body_limits``), in pieces of :data:`PIECE` bytes, from ``Content-Length`` or chunked transfer coding. A
handler lives as long as its connection, across keep-alive requests; between them the connection waits without a
thread (``connections.ConnectionHost``).
"""

from __future__ import annotations

import io
import socket
import struct
import sys
import time
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler
from typing import Any

from azs_emulator.protocol import Response, StreamedBody

PIECE = 64 * 1024
_MAX_LINE = 65536


class BodyTooLarge(Exception):
    """The request's body is longer than its kind allows (the body was read and dropped)."""


class InvalidLength(Exception):
    """``Content-Length`` or a chunk size is not a length."""


class ConnectionReader:
    """A socket's bytes with a buffer whose fill can be asked (``buffered``), so that a connection with a request
    already read from the socket is answered at once rather than waiting for more bytes that never come."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._buffer = bytearray()
        self.closed = False

    def buffered(self) -> int:
        pending = getattr(self._sock, "pending", None)  # bytes TLS decrypted but the reader has not taken
        return len(self._buffer) + (pending() if pending is not None and not self.closed else 0)

    def _fill(self) -> bool:
        chunk = self._sock.recv(PIECE)
        if not chunk:
            return False
        self._buffer += chunk
        return True

    def readline(self, limit: int = -1) -> bytes:
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0 and (limit < 0 or end < limit):
                return self._take(end + 1)
            if 0 <= limit <= len(self._buffer):
                return self._take(limit)
            if not self._fill():
                return self._take(len(self._buffer))

    def read(self, size: int) -> bytes:
        while len(self._buffer) < size and self._fill():
            pass
        return self._take(min(size, len(self._buffer)))

    def _take(self, size: int) -> bytes:
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def close(self) -> None:
        self.closed = True


class SocketWriter(io.RawIOBase):
    """Every write goes out whole (``sendall``)."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self._sock = sock

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._sock.sendall(data)
        return len(data)


def content_length(handler: BaseHTTPRequestHandler) -> int | None:
    """The body's ``Content-Length`` (None: chunked, or no body); :class:`InvalidLength` if it is no length."""
    if "chunked" in handler.headers.get("Transfer-Encoding", "").lower():
        return None
    lengths = handler.headers.get_all("Content-Length") or []
    if not lengths:
        return 0
    if len({value.strip() for value in lengths}) != 1 or not lengths[0].strip().isdigit():
        raise InvalidLength(lengths[0])
    return int(lengths[0])


def read_body(handler: BaseHTTPRequestHandler, limit: int) -> bytes:
    """The request's body, at most ``limit`` bytes; longer ones are read to their end in pieces, dropped, and
    :class:`BodyTooLarge` raised (so the client, still sending, reads the answer rather than a reset), as HTTP.sys
    drains an entity body it will not use (TimeoutManager.DrainEntityBody)."""
    length = content_length(handler)
    if length is None:
        return _read_chunked(handler.rfile, limit)
    if not length:
        return b""
    if length > limit:
        _drop(handler.rfile, length)
        raise BodyTooLarge
    body = handler.rfile.read(length)
    if len(body) < length:
        raise ConnectionResetError("the client closed the connection in the middle of the body")
    return body


def _read_chunked(rfile: Any, limit: int) -> bytes:
    body = bytearray()
    too_large = False
    while True:
        line = rfile.readline(_MAX_LINE).split(b";", 1)[0].strip()
        try:
            size = int(line, 16)
        except ValueError:
            raise InvalidLength(line.decode("latin-1")) from None
        if size < 0:
            raise InvalidLength(line.decode("latin-1"))
        if size == 0:
            while rfile.readline(_MAX_LINE) not in (b"\r\n", b"\n", b""):  # trailers
                pass
            break
        too_large = too_large or len(body) + size > limit
        if too_large:
            _drop(rfile, size)
        else:
            body += rfile.read(size)
        rfile.readline(_MAX_LINE)
    if too_large:
        raise BodyTooLarge
    return bytes(body)


def _drop(rfile: Any, length: int) -> None:
    while length > 0:
        piece = rfile.read(min(PIECE, length))
        if not piece:
            return
        length -= len(piece)


def send(handler: Any, response: Response, truncate: bool = False, drip: float = 0.0) -> None:
    """Write ``response``; ``truncate``: half its body, then close; ``drip``: a byte every ``drip`` seconds."""
    if drip:
        # The whole answer is written out a byte at a time: each byte is prompt enough for any per-read timeout.
        wire, handler.wfile = handler.wfile, io.BytesIO()
        try:
            _write(handler, response, truncate)
            answer = handler.wfile.getvalue()
        finally:
            handler.wfile = wire
        handler.close_connection = True
        try:
            for index in range(len(answer)):
                wire.write(answer[index:index + 1])
                time.sleep(drip)
        except OSError:  # the client gave up: as it should
            pass
        return
    _write(handler, response, truncate)


def _write(handler: Any, response: Response, truncate: bool) -> None:
    streamed = response.body if isinstance(response.body, StreamedBody) and not truncate else None
    body = b"" if streamed is not None else response.encoded_body()
    handler.send_response(response.status)
    if response.content_type and (body or streamed or response.status not in (204, 304)):
        handler.send_header("Content-Type", response.content_type)
    # A HEAD answer says the length a GET's body would have, and sends none.
    handler.send_header("Content-Length", str(streamed.length if streamed is not None else len(body)))
    if handler.command == "HEAD":
        body = b""
    handler.send_header("x-ms-request-id", str(uuid.uuid4()))
    for name, value in response.headers.items():
        handler.send_header(name, value)
    if truncate or response.headers.get("Connection", "").lower() == "close":
        if truncate:
            handler.send_header("Connection", "close")
        handler.close_connection = True
    handler.end_headers()
    if streamed is not None:  # blob content, a piece at a time (services/blob_content.py)
        try:
            if handler.command != "HEAD":
                for piece in streamed.chunks():
                    handler.wfile.write(piece)
        finally:
            streamed.close()
        return
    handler.wfile.write(body[: len(body) // 2] if truncate else body)


def linger_close(sock: socket.socket, seconds: float = 2.0) -> None:
    """End a connection the server chose to close as Apache's lingering close does: send FIN, then read and drop what
    the client still sends for a moment, so that its unread bytes do not turn the close into a reset that destroys
    the answer on its way."""
    deadline = time.monotonic() + seconds
    try:
        sock.shutdown(socket.SHUT_WR)
        while (left := deadline - time.monotonic()) > 0:
            sock.settimeout(left)
            if not sock.recv(PIECE):
                return
    except (OSError, ValueError):
        return


def reset_connection(handler: Any) -> None:
    """Drop the connection with a TCP reset, as a failing proxy or load balancer does."""
    handler.close_connection = True
    try:
        raw = handler.connection
        raw.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        handler.rfile.close()
        handler.wfile.close()
        raw.close()
    except OSError:
        pass


class ExchangeHandler(BaseHTTPRequestHandler):
    """One connection's HTTP/1.1: parses each request's head and hands it to ``on_request``; made once per
    connection and asked for one request at a time (:meth:`answer_next`)."""

    protocol_version = "HTTP/1.1"
    server_version = "azs-scaffold-emulator"
    sys_version = ""

    def __init__(self, sock: socket.socket, client_address: Any, listener: Any,
                 on_request: Callable[[ExchangeHandler], None], verbose: bool) -> None:
        # Not BaseRequestHandler's __init__, which would serve the whole connection in this thread.
        self.request, self.client_address, self.server = sock, client_address, listener
        self.listener, self._on_request, self._verbose = listener, on_request, verbose
        self.connection = sock
        self.rfile = ConnectionReader(sock)  # type: ignore[assignment]
        self.wfile = SocketWriter(sock)  # type: ignore[assignment]
        self.close_connection = False

    def answer_next(self) -> bool:
        """Answer the requests that have arrived; True: keep the connection for the next one."""
        while True:
            self.close_connection = True  # parse_request turns it off for a keep-alive request
            try:
                self.handle_one_request()
            except (OSError, ValueError):  # the client went away, or a drop fault closed the connection
                return False
            if self.wfile.closed:  # reset on purpose (a drop fault)
                return False
            if self.close_connection:
                linger_close(self.connection)
                return False
            if not self.rfile.buffered():  # type: ignore[attr-defined]
                return True

    def _serve(self) -> None:
        self._on_request(self)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_MERGE = _serve  # MERGE: older table clients

    def log_message(self, format: str, *args: Any) -> None:
        if self._verbose:
            sys.stderr.write(f"emulator: {self.command} {self.path.split('?', 1)[0]} -> {args[1] if len(args) > 1 else ''}\n")
