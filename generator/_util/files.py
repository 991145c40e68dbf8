"""Files that hold secrets: private (0600) from their first byte, replaced in one rename; and files read from
the user's paths, which must be what they seem (a regular file of a sane size, not a pipe or a device).

Every read of a user's file goes through :func:`read_regular_file` (a path the user named) or
:func:`read_project_file` (a file of a project, whose links must stay inside it); :func:`why_unreadable`
says in words why one could not be read."""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path


def write_private_file(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, readable only by its owner from the first byte on.

    ``mkstemp`` creates the file with mode 0600; it is renamed over ``path`` only once complete.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(partial, path)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def temporary_files_in(folder: Path) -> Iterator[None]:
    """While inside, temporary files and folders (copier's clones and scratch copies among them) are made in
    ``folder``: removing it removes them too, whatever interrupted the work."""
    saved, tempfile.tempdir = tempfile.tempdir, str(folder)
    try:
        yield
    finally:
        tempfile.tempdir = saved


class HeldElsewhere(Exception):
    """:func:`held_alone`'s lock is held by another process right now."""


@contextlib.contextmanager
def held_alone(lock: Path) -> Iterator[None]:
    """Inside, this process alone holds an exclusive advisory lock (``flock``) on the file ``lock`` (created private):
    :class:`HeldElsewhere` at once when another holds it. The system releases it when the process ends, however it
    ends. Where there are no such locks (Windows), the file system refuses them or the file cannot be made (a
    folder this user may only read), nothing is held: the caller's own checks then speak."""
    try:
        import fcntl
    except ImportError:  # Windows
        yield
        return
    try:
        descriptor = os.open(lock, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o600)
    except OSError:
        yield
        return
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise HeldElsewhere(str(lock)) from None
        except OSError:  # a file system without locks
            pass
        yield
    finally:
        os.close(descriptor)


def remove_tree(folder: Path) -> None:
    """Remove ``folder`` whole. A process that was writing into it and has just been killed (git, started by copier)
    may still write for a moment, and one pass of rmtree then leaves a folder it found not empty: try again briefly."""
    import shutil
    import time

    for _ in range(20):
        shutil.rmtree(folder, ignore_errors=True)
        if not folder.exists():
            return
        time.sleep(0.05)


class NotARegularFile(OSError):
    """The path names a named pipe, a device or a socket: reading it could block for ever or never end."""

    def __init__(self, kind: str) -> None:
        super().__init__(f"it is {kind}, not a regular file")
        self.kind = kind


class FileTooLarge(OSError):
    """The file holds more than the caller's limit."""

    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"it is over {limit // 1024} kB")
        self.size, self.limit = size, limit


class LinksOutside(OSError):
    """The path is (or passes through) a symbolic link that leads out of the project."""

    def __init__(self, target: Path) -> None:
        super().__init__(f"it links to {target}, outside the project")
        self.target = target


def why_unreadable(error: OSError) -> str:
    """Why a file from the user's paths could not be read, as the end of a sentence that names it
    (``f"--batch {path}{why_unreadable(error)}"``): ": no such file", " is a directory", ": it is a named pipe, ..."."""
    if isinstance(error, FileNotFoundError):
        return ": no such file"
    if isinstance(error, IsADirectoryError):
        return " is a directory"
    if isinstance(error, (NotARegularFile, FileTooLarge, LinksOutside)):
        return f": {error}"
    return f": cannot read it ({error.strerror or error})"


def _kind(mode: int) -> str:
    for test, words in ((stat.S_ISFIFO, "a named pipe"), (stat.S_ISCHR, "a character device"),
                        (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket")):
        if test(mode):
            return words
    return "not a file"


def read_regular_file(path: Path, limit: int) -> bytes:
    """The bytes of ``path``, which must be a regular file of at most ``limit`` bytes.

    Opened without blocking and checked on the open file (not on the path, which could change in between):
    a named pipe, a device (``/dev/zero``) or a socket raises :class:`NotARegularFile`; a directory
    ``IsADirectoryError``; more than ``limit`` bytes (counted as read, not trusted from the size on disk)
    :class:`FileTooLarge`; anything else the ``OSError`` the system gave.
    """
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    try:
        mode = os.fstat(descriptor).st_mode
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(21, "Is a directory", str(path))
        if not stat.S_ISREG(mode):
            raise NotARegularFile(_kind(mode))
        chunks, total = [], 0
        while chunk := os.read(descriptor, 65536):
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise FileTooLarge(total, limit)
        return b"".join(chunks)
    finally:
        os.close(descriptor)


def read_project_file(project: Path, name: str | Path, limit: int) -> bytes:
    """The bytes of ``name`` in ``project``: its links, if any, resolved, and leading to a file inside the project
    (else :class:`LinksOutside`: ``/dev/zero``, another user's file); then read as :func:`read_regular_file` reads."""
    target = Path(os.path.realpath(project / name))
    if not target.is_relative_to(os.path.realpath(project)):
        raise LinksOutside(target)
    return read_regular_file(target, limit)
