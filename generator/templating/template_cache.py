"""The user cache of templates (``~/.cache/azs-scaffold/templates/``), kept from growing for ever.

Every installed azs-scaffold release carries its own template bundle, and :func:`template_source.reusable_clone`
clones each bundle once into ``clones/<digest>/``; an editable checkout's bundle of its HEAD is made once per commit
into ``<commit>/``. A run that uses such a folder holds its lock file (``in-use.lock``) shared until it exits, and
touches it: its time is the folder's last use. When a run makes a new one (a new release installed, a new commit),
it removes the others of its kind not used for :data:`UNUSED_FOR` (30 days):

- never one in use: a folder is removed only under its lock held exclusively, taken without waiting (a run using
  or cloning it holds it shared), and only if its last use is still as old once the lock is held;
- never half-removed under its name: the folder is first renamed aside (``.removing-*``, atomic), then deleted; a
  later run never takes such a folder for a clone, and removes what a killed run left of one;
- never through a link: nothing that is a symbolic link is followed, opened or removed.

Where file locks do not exist (``fcntl``: Windows) or the file system refuses them, nothing is removed.
"""

from __future__ import annotations

import contextlib
import errno
import os
import re
import secrets
import shutil
import time
from pathlib import Path

from generator.errors import ScaffoldError

try:
    import fcntl
except ImportError:  # Windows: no flock, so no pruning (nothing removed is the safe side)
    fcntl = None  # type: ignore[assignment]

LOCK = "in-use.lock"
UNUSED_FOR = 30 * 24 * 3600  # seconds: a clone unused for a month is removed when a new one is made
REMOVING = ".removing-"  # a folder renamed aside to be deleted: never a clone
CLONE_FOLDER = re.compile(r"[0-9a-f]{32}")  # clones/<the bundle's digest>/
BUNDLE_FOLDER = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")  # <a checkout's HEAD>/ (SHA-1 or SHA-256)
_held: dict[str, int] = {}  # the clone folders this process uses: their locks, held shared until it exits
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class CacheError(ScaffoldError):
    """The user cache of templates cannot be used as it is."""


def cache_dir() -> Path:
    """``$XDG_CACHE_HOME/azs-scaffold/templates`` (``~/.cache/...`` by default)."""
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "azs-scaffold" / "templates"


def clones_dir() -> Path:
    """Where :func:`template_source.reusable_clone` keeps one clone per bundle, in a folder named by its digest."""
    return cache_dir() / "clones"


def hold(folder: Path) -> None:
    """Record that this process uses the cache folder ``folder`` (made if missing): its lock is held shared until the
    process exits, so that no other run removes it meanwhile, and its time says when it was last used. In a cache
    this user may only read, nothing is held (nor can this user's runs remove anything there)."""
    if str(folder) in _held:
        return
    lock = folder / LOCK
    for _ in range(10):  # a pruner renames the folder away between our open and our lock: take the new one
        try:
            folder.mkdir(parents=True, exist_ok=True)
            fd = _open_lock(lock)
        except OSError as error:
            raise CacheError(f"cannot use the template cache {folder} ({error.strerror}); remove {lock} (or the folder) and "
                             "run again") from None
        if fd is None:
            return
        if fcntl is None:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.utime(lock)
            return
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
        except OSError:  # a file system without locks (some network ones): used as before, nothing held
            os.close(fd)
            return
        if _still_there(fd, lock):
            with contextlib.suppress(OSError):  # a lock file another user made: used all the same
                os.utime(fd)
            _held[str(folder)] = fd
            return
        os.close(fd)
    raise CacheError(f"cannot use the template cache {folder}: it keeps being removed; run again")


def _open_lock(lock: Path) -> int | None:
    """``lock`` open (made if missing, never through a link); read-only where this user may not write it; None where
    it cannot be made (a cache this user may only read)."""
    try:
        return os.open(lock, os.O_RDWR | os.O_CREAT | _NOFOLLOW, 0o600)
    except OSError as error:
        if error.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
            raise
    try:
        return os.open(lock, os.O_RDONLY | _NOFOLLOW)
    except (FileNotFoundError, PermissionError):
        return None


def prune_unused(keep: Path, kind: re.Pattern[str], now: float | None = None) -> list[str]:
    """Remove each folder beside ``keep`` whose name is of ``kind`` (:data:`CLONE_FOLDER`, :data:`BUNDLE_FOLDER`) and
    that is unused for :data:`UNUSED_FOR`, and what a killed run left aside; the names of the folders removed. Safe
    under concurrent runs (see the module's docstring)."""
    if fcntl is None:
        return []
    cutoff = (time.time() if now is None else now) - UNUSED_FOR
    try:
        with os.scandir(keep.parent) as listing:
            entries = list(listing)
    except OSError:
        return []
    removed = []
    for entry in entries:
        if not entry.is_dir(follow_symlinks=False) or entry.name == keep.name:
            continue
        if entry.name.startswith(REMOVING):
            shutil.rmtree(entry.path, ignore_errors=True)  # a killed run's leftover (rmtree follows no link)
        elif kind.fullmatch(entry.name) and _remove_if_unused(Path(entry.path), cutoff):
            removed.append(entry.name)
    return removed


def _last_use(folder: Path) -> float:
    """When ``folder`` was last used: its lock file's time; for a clone an earlier release made (no lock file), the
    folder's own (when its clone was renamed into it)."""
    for path in (folder / LOCK, folder):
        with contextlib.suppress(FileNotFoundError):
            return os.lstat(path).st_mtime
    return time.time()


def _remove_if_unused(folder: Path, cutoff: float) -> bool:
    if _last_use(folder) >= cutoff:
        return False
    assert fcntl is not None
    lock = folder / LOCK
    try:
        fd, created = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_EXCL | _NOFOLLOW, 0o600), True
    except FileExistsError:
        try:
            fd, created = os.open(lock, os.O_RDWR | _NOFOLLOW), False
        except OSError:
            return False  # gone meanwhile (another run removed it), or a link: left alone
    except OSError:
        return False
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:  # BlockingIOError: a run uses it, or is cloning into it, right now; else no locks here
            return False
        # Used since we looked (a run touches the lock while holding it), or renamed away by another pruner: kept.
        if (not created and os.fstat(fd).st_mtime >= cutoff) or not _still_there(fd, lock):
            return False
        aside = folder.with_name(f"{REMOVING}{folder.name}-{secrets.token_hex(4)}")
        try:
            os.rename(folder, aside)  # atomic: the clone is whole under its name, or not there at all
        except OSError:
            return False
    finally:
        os.close(fd)  # a run waiting for the lock then finds the folder gone and makes it anew
    shutil.rmtree(aside, ignore_errors=True)
    return True


def _still_there(fd: int, lock: Path) -> bool:
    """Whether the lock file open as ``fd`` is still the one at ``lock`` (not renamed away with its folder)."""
    try:
        return os.path.samestat(os.fstat(fd), os.lstat(lock))
    except FileNotFoundError:
        return False
