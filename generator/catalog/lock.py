"""The lock of the proven package set: every package the catalog's pins install, at exact versions, with the sha256
of every file each version publishes, valid on Python 3.10 to 3.13 on Linux, Windows and macOS.

``generator/catalog/pins.lock`` is written by ``python -m generator.catalog.pins lock`` (uv's universal resolution of the pins in
``generator/catalog/__init__.py``) and read here. It is a requirements file as uv writes it: an entry per package (two for a
package whose version differs between Pythons, each with its environment marker), its ``--hash`` lines, and a
``# via`` line naming the packages that need it (``-r ...`` for the pins themselves). A project's share of the lock
is what its direct pins need, found by following those ``via`` lines.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

LOCK_FILE = Path(__file__).resolve().parent / "pins.lock"
# The Pythons the lock resolves for (uv --python-version names the oldest; markers split what differs after it).
OLDEST_PYTHON = "3.10"
SUPPORTED_PYTHONS = ("3.10", "3.11", "3.12", "3.13")
# What the generated CI definitions run on (ubuntu-latest, actions/setup-python / UsePythonVersion).
CI_PYTHON = "3.11"
CI_PLATFORM = "linux"

_ENTRY = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)\s*(?:;\s*(?P<marker>[^\\]+?))?\s*\\?$")
_HASH = re.compile(r"^\s+--hash=(sha256:[0-9a-f]{64})\s*\\?$")
_VIA = re.compile(r"^\s+# via (?P<parents>.+)$")


class LockError(ValueError):
    """The lock file is not as ``python -m generator.catalog.pins lock`` writes it."""


def normalize(name: str) -> str:
    """A distribution name as the packaging standards compare them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Locked:
    """One locked entry: a package at an exact version, where it applies, its files' hashes, and who needs it."""

    package: str
    version: str
    marker: str  # "" where every supported environment installs it
    hashes: tuple[str, ...]  # "sha256:..." of every file of this version
    needed_by: tuple[str, ...]  # normalized names of the locked packages that require it
    pinned: bool  # a pin of the catalog itself (not only something a pin needs)

    @property
    def requirement(self) -> str:
        """``package==version`` with its marker, as one requirement line without hashes."""
        return f"{self.package}=={self.version}" + (f" ; {self.marker}" if self.marker else "")

    @property
    def lines(self) -> str:
        """The entry for a requirements file in hash-checking mode (continuation lines, one hash each)."""
        return " \\\n".join([self.requirement, *(f"    --hash={h}" for h in self.hashes)])


def parse(text: str, source: str = LOCK_FILE.name) -> tuple[Locked, ...]:
    """The entries of a lock file's text (``source``: the file's name, for the errors)."""
    entries: list[Locked] = []
    current: dict | None = None

    def close() -> None:
        if current is not None:
            if not current["hashes"]:
                raise LockError(f"{current['package']}=={current['version']} has no --hash lines")
            entries.append(Locked(current["package"], current["version"], current["marker"], tuple(current["hashes"]),
                                  tuple(current["needed_by"]), current["pinned"]))

    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or (line.startswith("#") and current is None):
            continue
        entry, hashed, via = _ENTRY.match(line), _HASH.match(line), _VIA.match(line)
        if entry:
            close()
            current = {"package": entry["name"], "version": entry["version"], "marker": (entry["marker"] or "").strip(),
                       "hashes": [], "needed_by": [], "pinned": False}
        elif current is not None and hashed:
            current["hashes"].append(hashed[1])
        elif current is not None and via:
            parents = [p.strip() for p in via["parents"].split(",")]
            current["pinned"] = any(p.startswith("-r ") for p in parents)
            current["needed_by"] = [normalize(p) for p in parents if p and not p.startswith("-r ")]
        else:
            raise LockError(f"{source} line {number} is not an entry, a hash or a '# via' line: {line.strip()[:80]}")
    close()
    return tuple(entries)


@lru_cache(maxsize=1)
def entries() -> tuple[Locked, ...]:
    """The lock azs-scaffold carries."""
    return parse(LOCK_FILE.read_text(encoding="utf-8"))


def share_of(packages: Iterable[str], locked: tuple[Locked, ...] | None = None) -> list[Locked]:
    """The entries that ``packages`` (direct pins, by name) install: them and everything they need, in lock order."""
    locked = entries() if locked is None else locked
    wanted = {normalize(p) for p in packages}
    unknown = wanted - {normalize(e.package) for e in locked}
    if unknown:
        raise LockError(f"the lock holds no {', '.join(sorted(unknown))}; run python -m generator.catalog.pins lock")
    grown = True
    while grown:
        grown = False
        for entry in locked:
            name = normalize(entry.package)
            if name not in wanted and wanted.intersection(entry.needed_by):
                wanted.add(name)
                grown = True
    return [e for e in locked if normalize(e.package) in wanted]


# -- a generated project's lock ---------------------------------------------------------------------------------------
# requirements.in (the team's packages) and constraints.txt (the project's share of this lock, the proven set) are
# locked by the project's scripts/lock.py into requirements.txt, whose header records a digest of both. The digest is
# computed there too (standard library only): tests/test_lock.py keeps the two in step.

PROJECT_INPUTS = ("requirements.in", "constraints.txt")
MAX_REQUIREMENTS_BYTES = 4 * 1024 * 1024  # the whole lock with its hashes is some 100 kB
_INPUTS = re.compile(r"^# Inputs: requirements\.in (sha256:[0-9a-f]{64}), constraints\.txt (sha256:[0-9a-f]{64})$", re.MULTILINE)


def read_requirements_file(project: Path, name: str) -> str:
    """A project's requirements file (``requirements.txt``, ``.in``, ``constraints.txt``): inside the project (links
    resolved), a regular file of at most :data:`MAX_REQUIREMENTS_BYTES` (``OSError`` otherwise, saying what it is:
    generator/_util/files.py); undecodable bytes replaced."""
    from generator._util.files import read_project_file

    return read_project_file(project, name, MAX_REQUIREMENTS_BYTES).decode("utf-8-sig", errors="replace")


def input_digest(text: str) -> str:
    """The digest of a lock input: of its lines that say something to pip, stripped (a comment changes nothing)."""
    lines = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    return "sha256:" + hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()


def is_locked_layout(project: Path) -> bool:
    """Whether the project keeps the team's packages in requirements.in, locked with constraints.txt."""
    return all((project / name).exists() for name in PROJECT_INPUTS)


def stale_reason(project: Path) -> str | None:
    """Why the project's requirements.txt is not the lock of its requirements.in and constraints.txt as they are (None:
    it is, or the project has no such layout); raises ``OSError`` for a file that cannot be read."""
    if not is_locked_layout(project):
        return None
    team, proven = (read_requirements_file(project, name) for name in PROJECT_INPUTS)
    has_lock = (project / "requirements.txt").exists()
    recorded = _INPUTS.search(read_requirements_file(project, "requirements.txt")) if has_lock else None
    if recorded is None:
        return "requirements.txt records no inputs (it is older than requirements.in, or missing)"
    if recorded[1] != input_digest(team):
        return "requirements.in changed since requirements.txt was locked"
    if recorded[2] != input_digest(proven):
        return "constraints.txt (the proven set) changed since requirements.txt was locked"
    return None
