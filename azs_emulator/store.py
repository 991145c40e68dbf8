"""Where the emulator keeps its state: one SQLite database (the standard library's) in the state directory.

Every section of :class:`~azs_emulator.state.StateData` that maps keys to documents keeps a row per key (the table
``documents``: section, key, the document as JSON); a single value (the tenant's id, a kept port) is a row of the
section ``""``. Requests work in a :class:`Session` (a unit of work): a document is read from its row the first time
the request asks for it and kept for the rest of the request, so a handler may change it in place; when the request
ends the session writes back exactly the documents whose JSON changed and commits, and on an error it rolls back
and forgets them. A write costs what it touches, whatever the store holds; nothing is loaded whole.

The database runs in WAL mode with ``synchronous=FULL`` (a committed request survives a crash of the process or of
the machine) and ``locking_mode=EXCLUSIVE``: the connection holds its lock for the life of the process, so a second
emulator on the same directory is refused at start instead of overwriting the first's writes.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

STORE_FILE = "state.db"
# The section holding single values (identity, kept ports) rather than documents keyed by id.
VALUES = ""

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    position INTEGER PRIMARY KEY,  -- insertion order, which lists keep (as a dict did)
    section TEXT NOT NULL,
    key TEXT NOT NULL,
    value TEXT NOT NULL,           -- the document as JSON
    UNIQUE (section, key)
)
"""


class StoreInUse(Exception):
    """Another process holds the database's lock."""


class _Absent:
    """No document under that key (distinct from a document that is JSON null)."""

    def __repr__(self) -> str:
        return "ABSENT"


ABSENT: Any = _Absent()


def _encoded(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def json_member(name: str, value: Any) -> str:
    """``"name":value`` as a stored document spells it: the text :meth:`Section.keys_containing` looks for."""
    return _encoded({name: value})[1:-1]


class _Entry:
    """A document a session has read or written: its value now (ABSENT once deleted) and its row's JSON as read
    (None: no row); ``moved`` when it was deleted and written again (it goes to the end, as in a dict)."""

    __slots__ = ("value", "stored", "moved")

    def __init__(self, value: Any, stored: str | None) -> None:
        self.value = value
        self.stored = stored
        self.moved = False


class Store:
    """The database file, opened once per process; :meth:`transaction` is the one way in (one at a time, any
    thread: they are serialised by ``lock``)."""

    def __init__(self, path: Path, durable: bool) -> None:
        self.lock = threading.RLock()
        self._session: Session | None = None  # the transaction under way (its thread holds ``lock``)
        self._owner = _own(path.with_name(path.name + ".lock"))
        try:
            if not path.exists():  # private before its first byte: it holds the service principal's secret
                os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
            # timeout=0: a database another emulator (one from before the lock file) holds is refused at once.
            self.connection = sqlite3.connect(path, timeout=0, isolation_level=None, check_same_thread=False)
        except BaseException:
            self._release()
            raise
        try:
            self.connection.execute("PRAGMA locking_mode=EXCLUSIVE")
            self.connection.execute("PRAGMA journal_mode=WAL")
            self.connection.execute(f"PRAGMA synchronous={'FULL' if durable else 'OFF'}")
            self.connection.execute("BEGIN IMMEDIATE")  # takes the lock, kept until the connection closes
            self.connection.execute(_SCHEMA)
            self.connection.execute("COMMIT")
        except BaseException as exc:
            self.connection.close()
            self._release()
            if isinstance(exc, sqlite3.OperationalError) and "locked" in str(exc):
                raise StoreInUse(str(exc)) from None
            raise

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A unit of work: committed when the block ends, rolled back (nothing of it kept) when it raises. Inside
        one, another is part of it (a request's handler calling an owner's method that opens one)."""
        with self.lock:
            if self._session is not None:
                yield self._session
                return
            session = self._session = Session(self.connection)
            try:
                self.connection.execute("BEGIN")
                yield session
                session.flush()
                self.connection.execute("COMMIT")
            except BaseException:
                if self.connection.in_transaction:
                    self.connection.execute("ROLLBACK")
                raise
            finally:
                self._session = None

    def close(self) -> None:
        """Close the database (releasing its lock), once any transaction under way has ended."""
        with self.lock:
            self.connection.close()
            self._release()

    def _release(self) -> None:
        if self._owner is not None:
            os.close(self._owner)
            self._owner = None


def _own(path: Path) -> int | None:
    """An exclusive lock (``flock``) on ``path``, held until :meth:`Store.close` or the process ends however it ends:
    of several emulators started at once on one state directory exactly one goes on, the others are
    :class:`StoreInUse` before they touch the database (SQLite's own lock, taken in steps, could refuse them all).
    None where the system has no such locks (Windows: SQLite's lock alone decides)."""
    try:
        import fcntl
    except ImportError:
        return None
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        raise StoreInUse(f"{path} is held by another emulator") from None
    except OSError:  # a file system without locks: SQLite's lock decides
        os.close(descriptor)
        return None
    return descriptor


class Section:
    """One keyed section of the state as a mapping (what a backend wraps): each operation is part of the
    transaction under way, or a transaction of its own outside one (a test reading the state)."""

    def __init__(self, store: Store, name: str) -> None:
        self._store = store
        self.name = name

    def get(self, key: str, default: Any = None) -> Any:
        with self._store.transaction() as session:
            value = session.get(self.name, key)
        return default if value is ABSENT else value

    def __getitem__(self, key: str) -> Any:
        value = self.get(key, ABSENT)
        if value is ABSENT:
            raise KeyError(key)
        return value

    def __setitem__(self, key: str, value: Any) -> None:
        with self._store.transaction() as session:
            session.put(self.name, key, value)

    def setdefault(self, key: str, default: Any) -> Any:
        with self._store.transaction() as session:
            value = session.get(self.name, key)
            if value is ABSENT:
                session.put(self.name, key, default)
                value = default
        return value

    def pop(self, key: str, default: Any = ABSENT) -> Any:
        with self._store.transaction() as session:
            value = session.delete(self.name, key)
        if value is ABSENT:
            if default is ABSENT:
                raise KeyError(key)
            return default
        return value

    def __delitem__(self, key: str) -> None:
        self.pop(key)

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and self.get(key, ABSENT) is not ABSENT

    def keys(self, prefix: str = "") -> list[str]:
        """The keys (those starting with ``prefix``), in the order they were first written."""
        with self._store.transaction() as session:
            return session.keys(self.name, prefix)

    def keys_containing(self, text: str) -> list[str]:
        """The keys whose document's JSON may contain ``text`` (a superset: check each), read by the database alone:
        a search among many documents that loads only the few that match."""
        with self._store.transaction() as session:
            return session.keys_containing(self.name, text)

    def items(self, prefix: str = "") -> list[tuple[str, Any]]:
        """Key and document (of keys starting with ``prefix``), in the order they were first written."""
        with self._store.transaction() as session:
            return session.items(self.name, prefix)

    def values(self, prefix: str = "") -> list[Any]:
        return [value for _, value in self.items(prefix)]

    def __iter__(self) -> Iterator[str]:
        return iter(self.keys())

    def __len__(self) -> int:
        return len(self.keys())

    def __bool__(self) -> bool:
        return bool(self.keys())

    def __eq__(self, other: object) -> bool:
        return dict(self.items()) == other

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Section({self.name!r})"


class Session:
    """One request's view of the store: what it read (by identity, so changes in place count) and wrote, written
    back by :meth:`flush` (documents whose JSON changed only)."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._connection = connection
        self._entries: dict[str, dict[str, _Entry]] = {}  # section -> key -> entry, in the order first touched

    def _section(self, section: str) -> dict[str, _Entry]:
        return self._entries.setdefault(section, {})

    def get(self, section: str, key: str) -> Any:
        """The document under ``key``, or ABSENT."""
        entries = self._section(section)
        entry = entries.get(key)
        if entry is None:
            row = self._connection.execute("SELECT value FROM documents WHERE section = ? AND key = ?",
                                           (section, key)).fetchone()
            if row is None:
                return ABSENT
            entry = entries[key] = _Entry(json.loads(row[0]), row[0])
        return entry.value

    def put(self, section: str, key: str, value: Any) -> None:
        entries = self._section(section)
        entry = entries.get(key)
        if entry is None:
            if self.get(section, key) is ABSENT:
                entries[key] = _Entry(value, None)
                return
            entry = entries[key]
        if entry.value is ABSENT:  # written again after a delete: it goes to the end, as in a dict
            del entries[key]
            entries[key] = entry
            entry.moved = entry.stored is not None
        entry.value = value

    def delete(self, section: str, key: str) -> Any:
        """Delete the document under ``key``; it, or ABSENT when there was none."""
        value = self.get(section, key)
        if value is not ABSENT:
            self._entries[section][key].value = ABSENT
        return value

    def keys_containing(self, section: str, text: str) -> list[str]:
        """The keys whose document's JSON (as last written) contains ``text``, and every key this session touched:
        a superset the caller narrows, found without reading the other documents."""
        rows = self._connection.execute("SELECT key FROM documents WHERE section = ? AND instr(value, ?) > 0 "
                                        "ORDER BY position", (section, text)).fetchall()
        touched = self._section(section)
        found = [key for (key,) in rows if key not in touched]
        return found + [key for key, entry in touched.items() if entry.value is not ABSENT]

    def keys(self, section: str, prefix: str = "") -> list[str]:
        """The keys of a section (those starting with ``prefix``), in the order they were first written."""
        return [key for key, _ in self._walk(section, prefix, with_values=False)]

    def items(self, section: str, prefix: str = "") -> list[tuple[str, Any]]:
        return list(self._walk(section, prefix, with_values=True))

    def _walk(self, section: str, prefix: str, with_values: bool) -> Iterator[tuple[str, Any]]:
        entries = self._section(section)
        column = "value" if with_values else "NULL"
        query = f"SELECT key, {column} FROM documents WHERE section = ?"
        arguments: tuple[str, ...] = (section,)
        if prefix:  # a range of the (section, key) index: keys starting with the prefix
            query += " AND key >= ? AND key < ?"
            arguments += (prefix, prefix + "\U0010ffff")
        for key, text in self._connection.execute(query + " ORDER BY position", arguments).fetchall():
            entry = entries.get(key)
            if entry is None:
                if not with_values:
                    yield key, None
                    continue
                entry = entries[key] = _Entry(json.loads(text), text)
            if entry.value is not ABSENT and not entry.moved:
                yield key, entry.value
        for key, entry in list(entries.items()):  # written in this session, not yet in a row (or moved to the end)
            if (entry.stored is None or entry.moved) and entry.value is not ABSENT and key.startswith(prefix):
                yield key, entry.value

    def flush(self) -> int:
        """Write back what changed; how many rows were written."""
        deleted: list[tuple[str, str]] = []
        updated: list[tuple[str, str, str]] = []
        inserted: list[tuple[str, str, str]] = []  # in the order written, which lists keep
        for section, entries in self._entries.items():
            for key, entry in entries.items():
                if (entry.value is ABSENT or entry.moved) and entry.stored is not None:
                    deleted.append((section, key))
                if entry.value is ABSENT:
                    continue
                text = _encoded(entry.value)
                if entry.stored is None or entry.moved:
                    inserted.append((section, key, text))
                elif text != entry.stored:
                    updated.append((text, section, key))
        execute = self._connection.executemany
        execute("DELETE FROM documents WHERE section = ? AND key = ?", deleted)
        execute("UPDATE documents SET value = ? WHERE section = ? AND key = ?", updated)
        execute("INSERT INTO documents (section, key, value) VALUES (?, ?, ?)", inserted)
        self._entries.clear()
        return len(deleted) + len(updated) + len(inserted)
