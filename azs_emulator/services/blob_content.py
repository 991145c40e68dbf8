"""Blob content on disk, read and written in bounded pieces: never held whole in memory nor kept in the state.

Every piece of content is a file under ``<state directory>/blobs/`` named by a random id (a blob's name can be any
string; a file's never derives from it). The state keeps only which files make a blob, as *extents*
``[file, length]``: a block blob is its committed blocks in order, each block a file written once and never changed
(so a snapshot or a copy of it hard-links the files instead of copying bytes); a page or append blob is one file of its
own, changed in place (a page blob's file is sparse: only the pages written take room on disk).

A request body on the blob host larger than :data:`SPOOL_ABOVE` is spooled to a file here before the request is
answered (:func:`spool_body`), so a 100 MiB block passes through a few pieces of memory; the handler then renames the
spooled file into place. An answer streams its content from the files (:class:`ContentStream`) after the state's lock
is released; a file a reader still streams is removed only once the reader is done (:meth:`ContentFiles.remove`).
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import shutil
import threading
import uuid
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, BinaryIO

from azs_emulator.protocol import Request, StreamedBody
from azs_emulator.services.storage_auth import StorageError

# The size of the pieces content is read and written in.
PIECE = 1 << 20
# A request body on the blob host above this many bytes is spooled to disk instead of being read into memory.
SPOOL_ABOVE = 64 << 10
CONTENT_DIRECTORY = "blobs"
# A body a handler parses (a block list, an ACL, service properties) is read whole up to this.
_PARSED_MOST = 8 << 20
_INCOMING = "incoming"

# One extent of a blob's content: a file's name under the content directory and how many of its bytes count.
Extent = list  # [file name, length]


def spool_body(stream: IO[bytes] | io.BufferedIOBase, length: int, state_directory: Path) -> Path:
    """Read ``length`` bytes of a request body from ``stream`` into a new file, a piece at a time; the file's path.
    A body that ends early leaves no file behind (the connection is broken: nothing is answered)."""
    incoming = state_directory / CONTENT_DIRECTORY / _INCOMING
    incoming.mkdir(parents=True, exist_ok=True)
    path = incoming / uuid.uuid4().hex
    try:
        with open(path, "xb") as spooled:
            left = length
            while left:
                piece = stream.read(min(PIECE, left))
                if not piece:
                    raise ConnectionError(f"the request body ended {left} bytes short of its Content-Length")
                spooled.write(piece)
                left -= len(piece)
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path


# -- request bodies ----------------------------------------------------------------------------------


def body_size(request: Request) -> int:
    return request.body_file.stat().st_size if request.body_file is not None else len(request.body)


def body_of(request: Request) -> bytes | Path:
    """The request's content: in memory when small, else the file it was spooled to."""
    return request.body_file if request.body_file is not None else request.body


def small_body(request: Request) -> bytes:
    """A body a handler parses, whole (at most 8 MiB: a block list of 50,000 blocks fits)."""
    if request.body_file is None:
        return request.body
    check_size(request, _PARSED_MOST)
    return request.body_file.read_bytes()


def check_size(request: Request, most: int) -> None:
    if body_size(request) > most:
        raise StorageError(413, "RequestBodyTooLarge", "The request body is too large and exceeds the maximum permissible "
                        "limit.", MaxLimit=str(most))


def md5_of(content: bytes | Path) -> str:
    digest = hashlib.md5()
    if isinstance(content, Path):
        with open(content, "rb") as file:
            while piece := file.read(PIECE):
                digest.update(piece)
    else:
        digest.update(content)
    return base64.b64encode(digest.digest()).decode()


def checked_md5(request: Request) -> str:
    """The content's MD5; 400 Md5Mismatch when the request's Content-MD5 says otherwise."""
    computed = md5_of(body_of(request))
    sent = request.headers.get("content-md5")
    if sent and sent != computed:
        raise StorageError(400, "Md5Mismatch", "The MD5 value specified in the request did not match with the MD5 value "
                        "calculated by the server.", UserSpecifiedMd5=sent, ServerCalculatedMd5=computed)
    return computed


class ContentFiles:
    """The content files of every blob, in one directory; counts who still streams each so that removing one a
    reader holds waits for the reader."""

    def __init__(self, state_directory: Path) -> None:
        self.directory = state_directory / CONTENT_DIRECTORY
        self.directory.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._readers: Counter[str] = Counter()
        self._doomed: set[str] = set()

    def path(self, name: str) -> Path:
        return self.directory / name

    @staticmethod
    def _new_name() -> str:
        return uuid.uuid4().hex

    def adopt(self, spooled: Path) -> str:
        """Take a spooled request body (or any file in the content directory's tree) as content; its new name."""
        name = self._new_name()
        os.replace(spooled, self.path(name))
        return name

    def write(self, content: bytes | Path | None) -> tuple[str, int]:
        """A new content file holding ``content`` (bytes, or a spooled body taken over); its name and size."""
        if isinstance(content, Path):
            size = content.stat().st_size
            return self.adopt(content), size
        name = self._new_name()
        with open(self.path(name), "xb") as file:
            file.write(content or b"")
        return name, len(content or b"")

    def empty(self, size: int = 0) -> str:
        """A new content file of ``size`` zero bytes (sparse: a page blob's before its pages are written)."""
        name = self._new_name()
        with open(self.path(name), "xb") as file:
            file.truncate(size)
        return name

    def link(self, name: str) -> str:
        """Another name for an unchanging file (a block of a snapshot or a copy): no bytes copied."""
        twin = self._new_name()
        os.link(self.path(name), self.path(twin))
        return twin

    def copy(self, name: str, ranges: Iterable[tuple[int, int]] | None = None, size: int | None = None) -> str:
        """A copy of a file that changes in place (a page or append blob's); with ``ranges`` (start, end inclusive)
        only those bytes are copied into a sparse file of ``size``, as a page blob's written pages."""
        twin = self._new_name()
        with open(self.path(name), "rb") as source, open(self.path(twin), "xb") as target:
            if ranges is None:
                shutil.copyfileobj(source, target, PIECE)
                return twin
            target.truncate(size or 0)
            for start, end in ranges:
                source.seek(start)
                target.seek(start)
                _copy_bounded(source, target, end - start + 1)
        return twin

    def write_at(self, name: str, offset: int, content: bytes | Path) -> None:
        """Write ``content`` (bytes, or a spooled body) into a file at ``offset`` (Put Page, Append Block)."""
        with open(self.path(name), "r+b") as target:
            target.seek(offset)
            if isinstance(content, Path):
                with open(content, "rb") as source:
                    shutil.copyfileobj(source, target, PIECE)
            else:
                target.write(content)

    def zero(self, name: str, start: int, end: int) -> None:
        """Zero bytes ``start`` to ``end`` inclusive (Clear Pages), a piece at a time."""
        with open(self.path(name), "r+b") as target:
            target.seek(start)
            left = end - start + 1
            while left:
                target.write(bytes(min(PIECE, left)))
                left -= min(PIECE, left)

    def resize(self, name: str, size: int) -> None:
        os.truncate(self.path(name), size)

    def remove(self, names: Iterable[str]) -> None:
        """Remove content files; one a reader still streams goes when the reader is done."""
        with self._lock:
            for name in set(names):
                if self._readers[name]:
                    self._doomed.add(name)
                else:
                    self.path(name).unlink(missing_ok=True)

    def stream(self, extents: list[Extent], start: int, end: int) -> ContentStream:
        """Bytes ``start`` to ``end`` inclusive of the content made of ``extents``, to be streamed after the state's
        lock is released: its files are held until the stream is closed."""
        names = [extent[0] for extent in extents]
        with self._lock:
            self._readers.update(names)
        return ContentStream(self, extents, start, end, names)

    def _release(self, names: list[str]) -> None:
        with self._lock:
            self._readers.subtract(names)
            for name in set(names):
                if self._readers[name] <= 0:
                    del self._readers[name]
                    if name in self._doomed:
                        self._doomed.discard(name)
                        self.path(name).unlink(missing_ok=True)

    def read_all(self, extents: list[Extent], limit: int) -> bytes:
        """The whole content of ``extents`` in memory: only for what a handler must parse (up to ``limit`` bytes)."""
        size = sum(extent[1] for extent in extents)
        if size > limit:
            raise ValueError(f"{size} bytes is more than the {limit} this reads whole")
        stream = self.stream(extents, 0, size - 1)
        try:
            return b"".join(stream.chunks())
        finally:
            stream.close()


def _copy_bounded(source: BinaryIO, target: BinaryIO, length: int) -> None:
    while length > 0:
        piece = source.read(min(PIECE, length))
        if not piece:
            return
        target.write(piece)
        length -= len(piece)


class ContentStream(StreamedBody):
    """Part of a blob's content, read a piece at a time from its extents' files."""

    def __init__(self, files: ContentFiles, extents: list[Extent], start: int, end: int, held: list[str]) -> None:
        self.length = max(0, end - start + 1)
        self._files, self._extents, self._start, self._held = files, extents, start, held

    def chunks(self) -> Iterator[bytes]:
        skip, left = self._start, self.length
        for name, size in self._extents:
            if left <= 0:
                return
            if skip >= size:
                skip -= size
                continue
            with open(self._files.path(name), "rb") as file:
                file.seek(skip)
                take = min(size - skip, left)
                while take > 0:
                    piece = file.read(min(PIECE, take))
                    if not piece:  # a page blob's file shorter than its size reads as zeros
                        piece = bytes(min(PIECE, take))
                    yield piece
                    take -= len(piece)
                    left -= len(piece)
            skip = 0

    def close(self) -> None:
        if self._held:
            held, self._held = self._held, []
            self._files._release(held)
