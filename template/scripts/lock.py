"""Lock the team's packages with the proven set, without installing: requirements.in + constraints.txt -> requirements.txt.

    python scripts/lock.py [--upgrade] [--check]

- ``requirements.in`` is the team's: its packages, one a line, as pip takes them. Nothing azs-scaffold does rewrites it.
- ``constraints.txt`` is the proven set azs-scaffold chose for the Stack's API profile (rewritten by an upgrade): every
  package at its exact release, with the sha256 of each of its files.
- ``requirements.txt`` is the one lock, what ``scripts/bootstrap.py`` installs in hash-checking mode: the proven set
  as it is, then the team's packages and what they need, resolved by uv (``uv pip compile --universal
  --generate-hashes``, constrained by the proven set: a team line that needs another release of a proven package is
  refused, naming it) with the sha256 of every file too. Its header records a digest of both inputs; when either
  changed, the lock is stale and bootstrap locks again first (as ``uv sync`` does).

Locking needs uv (on PATH, beside this Python or beside the ``azs-scaffold`` command, which depends on it) and the
package index, except when ``requirements.in`` names nothing: then the lock is the proven set, made here. An existing
lock's releases are kept (uv's preferences) unless ``--upgrade``. ``--check`` exits 1 when the lock is stale.
Standard library only.
"""

from __future__ import annotations

import argparse
import errno
import hashlib
import os
import re
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REQUIREMENTS_IN = ROOT / "requirements.in"
CONSTRAINTS = ROOT / "constraints.txt"
LOCK = ROOT / "requirements.txt"
MAX_BYTES = 1024 * 1024  # a lock of a few hundred packages, each with its hashes, is far below this
OLDEST_PYTHON = "3.10"  # the lock holds for Python 3.10 and later (markers split what differs)
_INPUTS = re.compile(r"^# Inputs: requirements\.in (sha256:[0-9a-f]{64}), constraints\.txt (sha256:[0-9a-f]{64})$", re.MULTILINE)
_NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)")
_HEADER = """\
# The one lock of this project, installed by scripts/bootstrap.py in hash-checking mode (a changed or substituted file
# is refused): the proven set (constraints.txt, chosen by azs-scaffold for the Stack's API profile), then the team's
# packages (requirements.in) and what they need, each at one release with the sha256 of its files.
# Written by python scripts/lock.py (bootstrap runs it when an input changed); do not edit: add a line to requirements.in.
"""


class LockFailure(Exception):
    """Locking failed; the message is the one line to show."""


def read_text(path: Path) -> str:
    """A requirements file's text: a regular file (a link is followed to one) of at most MAX_BYTES."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise LockFailure(f"{path.name} is missing; restore it from git (azs-scaffold upgrade writes constraints.txt)") from None
    except OSError as exc:
        raise LockFailure(f"cannot read {path.name} ({exc.strerror or exc})") from None
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise LockFailure(f"{path.name} is not a regular file; make it one")
        data = handle.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise LockFailure(f"{path.name} is over {MAX_BYTES // 1024} kB, more than any requirements file needs; check it")
    return data.decode("utf-8-sig", errors="replace")


_OWNER = ("run it as the user who owns the project folder, or give yourself write access to it (or work in a clone of "
          "your own)")
_SPACE = "free some space, then run again"
# A write the file system refused, by errno: what happened, and what to do.
FILE_SYSTEM_REFUSALS = {errno.EACCES: ("permission denied", _OWNER), errno.EPERM: ("operation not permitted", _OWNER),
                        errno.EROFS: ("read-only file system", "work in a writable clone of the project"),
                        errno.ENOSPC: ("no space left on the device", _SPACE)}
if hasattr(errno, "EDQUOT"):  # not on every platform
    FILE_SYSTEM_REFUSALS[errno.EDQUOT] = ("disk quota exceeded", _SPACE)


def not_written(what: str, exc: OSError) -> str | None:
    """Why ``what`` could not be written, and what to do, when the file system said why (permissions, a read-only
    file system, a full disk); None for any other error."""
    if exc.errno not in FILE_SYSTEM_REFUSALS:
        return None
    reason, remedy = FILE_SYSTEM_REFUSALS[exc.errno]
    target = exc.filename2 or exc.filename  # a link's or copy's failure names its source first
    return f"could not create {what}{f' ({target})' if target and str(target) != what else ''}: {reason}; {remedy}"


def refused_in(output: str) -> tuple[str, str] | None:
    """The file system's refusal a program's output reports (pip's ``[Errno 28]``, uv's ``(os error 28)``), if any."""
    for code, refusal in FILE_SYSTEM_REFUSALS.items():
        if f"[Errno {code}]" in output or f"(os error {code})" in output:
            return refusal
    return None


def meaningful_lines(text: str) -> list[str]:
    """The lines that say something to pip: comments and blank lines left out, each stripped."""
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


def digest(text: str) -> str:
    """The digest of a lock input: of its meaningful lines only, so a comment or line ending changes nothing.
    (generator/catalog/lock.py computes the same for the lock azs-scaffold renders.)"""
    return "sha256:" + hashlib.sha256("\n".join(meaningful_lines(text)).encode("utf-8")).hexdigest()


def inputs_line(team: str, proven: str) -> str:
    return f"# Inputs: requirements.in {digest(team)}, constraints.txt {digest(proven)}"


# A line git writes where a merge could not join two versions of a file: <<<<<<< HEAD, =======, >>>>>>> theirs.
_CONFLICT_MARKER = re.compile(r"^(?:<{7}|>{7})(?:\s|$)|^={7}\s*$", re.MULTILINE)


def stale_reason() -> str | None:
    """Why requirements.txt is not the lock of requirements.in and constraints.txt as they are, or None."""
    team, proven = read_text(REQUIREMENTS_IN), read_text(CONSTRAINTS)
    text = read_text(LOCK) if LOCK.exists() else ""
    if _CONFLICT_MARKER.search(text):  # a merge's: whichever inputs line survived, the lock is no lock
        return "requirements.txt holds conflict markers (from a merge): a lock is made again from its inputs, never merged"
    recorded = _INPUTS.search(text)
    if recorded is None:
        return "requirements.txt records no inputs (it is older than requirements.in, or missing)"
    if recorded[1] != digest(team):
        return "requirements.in changed since requirements.txt was locked"
    if recorded[2] != digest(proven):
        return "constraints.txt (the proven set) changed since requirements.txt was locked"
    return None


def entries(text: str) -> dict[str, str]:
    """A hashed requirements file's entries: the normalized name of each, and its lines (comment lines left out)."""
    found: dict[str, str] = {}
    current = None
    for line in text.splitlines():
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        name = _NAME.match(line)
        if name and not line[0].isspace():
            current = re.sub(r"[-_.]+", "-", name[1]).lower()
            found[current] = found.get(current, "") + line + "\n"  # a package with two releases (markers): both
        elif current is not None:
            found[current] += line + "\n"
    return found


def find_uv() -> str | None:
    """uv beside the Python running this script (a venv that has it), on PATH, or beside the azs-scaffold command
    (pipx installs uv into azs-scaffold's own venv without putting it on PATH)."""
    name = "uv.exe" if os.name == "nt" else "uv"
    beside = Path(sys.executable).with_name(name)
    if beside.exists():
        return str(beside)
    on_path = shutil.which("uv")
    if on_path:
        return on_path
    azs_scaffold = shutil.which("azs-scaffold")
    if azs_scaffold:
        with_azs_scaffold = Path(azs_scaffold).resolve().with_name(name)
        if with_azs_scaffold.exists():
            return str(with_azs_scaffold)
    return None


def uv_environment() -> dict[str, str]:
    """This environment, with pip's index settings said for uv: an index URL may carry a token
    (https://user:token@feed/...), so it is handed over in the environment, never on a command line. The user's CA
    variables (SSL_CERT_FILE, which uv reads; REQUESTS_CA_BUNDLE, PIP_CERT for pip) stay as they are."""
    indexes = {}
    if os.environ.get("PIP_INDEX_URL"):
        indexes["UV_INDEX_URL"] = os.environ["PIP_INDEX_URL"]
    if os.environ.get("PIP_EXTRA_INDEX_URL", "").split():
        indexes["UV_EXTRA_INDEX_URL"] = " ".join(os.environ["PIP_EXTRA_INDEX_URL"].split())
    return {**os.environ, **indexes}


def uv_options() -> list[str]:
    """pip's folder settings (environment), said the way uv takes them (the indexes: :func:`uv_environment`)."""
    options = []
    for location in os.environ.get("PIP_FIND_LINKS", "").split():
        options += ["--find-links", location]
    if os.environ.get("PIP_NO_INDEX", "").lower() in ("1", "true", "yes", "on"):
        options.append("--no-index")
    return options


def _profile() -> str:
    import json

    try:
        return str(json.loads(read_text(ROOT / "stack.json")).get("profile") or "?")
    except (LockFailure, ValueError, AttributeError):
        return "?"


def tail(text: str, limit: int) -> str:
    """The end of ``text``, at most ``limit`` characters, cut at a word's start and marked with an ellipsis."""
    if len(text) <= limit:
        return text
    kept = text[-limit:]
    space = kept.find(" ")
    return "..." + (kept[space + 1:] if 0 <= space < len(kept) - 1 else kept)


# A line naming a version-control repository or an editable folder: a direct reference with no released file, so
# nothing a hash-checked lock can pin (uv locks a URL or a file of an archive with its sha256; not these).
_UNPINNABLE = re.compile(r"^(?:(?:-e|--editable)(?:\s+|=)|(?:[A-Za-z0-9][\w.-]*(?:\[[^\]]*\])?\s*@\s*)?(?:git|hg|svn|bzr)\+)",
                         re.IGNORECASE)


def unpinnable(team: str) -> str | None:
    """Why a line of requirements.in cannot be locked with hashes, and what the team can do; None when every line can."""
    for line in meaningful_lines(team):
        if _UNPINNABLE.match(line):
            what = "an editable install" if line.startswith("-") else "a version-control reference"
            return (f"requirements.in: {line} is {what}, which a hash-checked lock cannot pin (it is no released file with "
                    "a sha256); nothing was locked or installed: build a wheel of it at a tag or commit (pip wheel --no-deps "
                    "'<that reference>'), publish it to the team's index (PIP_INDEX_URL) or put it in a folder PIP_FIND_LINKS "
                    "names, and name it here as name==version")
    return None


def refusal(said: str, team: str, proven: dict[str, str]) -> str:
    """The one line that says why uv could not lock, from what it said."""
    flat = " ".join(said.split())
    if "No solution found" in flat or "unsatisfiable" in flat:
        mentioned = sorted((m.start(), name) for name in proven
                           for m in re.finditer(rf"(?<![\w.-]){re.escape(name)}(?![\w-])", flat.lower().replace("_", "-")))
        lines = meaningful_lines(team)
        if mentioned:
            package = mentioned[0][1]
            version = re.search(r"==\s*([^\s;\\]+)", proven[package])
            line = next((line for line in lines if (_NAME.match(line) or [""])[0].lower().replace("_", "-") == package),
                        next((line for line in lines if (_NAME.match(line) or [""])[0].lower() in flat.lower()), "a line"))
            return (f"requirements.in: {line} needs another release of {package} than the proven {version[1] if version else '?'} "
                    f"(constraints.txt: the release proven for the Stack's API profile {_profile()}); nothing was locked or "
                    f"installed: remove or loosen that line")
        return f"requirements.in cannot be locked: {tail(flat, 300)}; nothing was locked or installed: change the line uv names"
    missing = re.search(r"Because ([A-Za-z0-9._-]+) was not found in the (?:package registry|provided package locations)", flat)
    if missing:
        return (f"requirements.in names {missing[1]}, which the package index does not have; nothing was locked or "
                "installed: check its name (PIP_INDEX_URL names a mirror)")
    if re.search(r"Failed to fetch|error sending request|dns error|Connection refused|certificate", flat, re.IGNORECASE):
        return (f"locking needs the package index and uv could not reach it ({tail(flat, 200)}); check the connection "
                "(a corporate CA: SSL_CERT_FILE names its bundle for uv), then run python scripts/lock.py again")
    return f"uv could not lock requirements.in: {tail(flat, 300)}; nothing was locked or installed"


def lock(uv: str | None, upgrade: bool = False) -> str:
    """Write requirements.txt from requirements.in and constraints.txt; what was locked, as a sentence."""
    team, proven_text, previous = read_text(REQUIREMENTS_IN), read_text(CONSTRAINTS), read_text(LOCK) if LOCK.exists() else ""
    if _CONFLICT_MARKER.search(previous):
        previous = ""  # a merged lock's releases are no preference uv can read: the newest requirements.in allows
    proven = entries(proven_text)
    if not proven:
        raise LockFailure("constraints.txt names no package; restore it from git or run azs-scaffold upgrade")
    added: dict[str, str] = {}
    if meaningful_lines(team):
        reason = unpinnable(team)
        if reason:
            raise LockFailure(reason)
        if uv is None:
            raise LockFailure("locking requirements.in needs uv, and none is on PATH, beside this Python nor beside "
                              "azs-scaffold; install it (pipx install uv) and run again")
        added = {name: lines for name, lines in _compile(uv, previous, upgrade, team, proven).items() if name not in proven}
    text = _HEADER + inputs_line(team, proven_text) + "\n" + "".join(proven.values()) + "".join(added.values())
    partial = LOCK.with_name(f".{LOCK.name}.{os.getpid()}.partial")
    try:
        partial.write_text(text, encoding="utf-8")
        os.replace(partial, LOCK)
    except OSError as exc:
        raise LockFailure(not_written(LOCK.name, exc) or f"could not write {LOCK.name} ({exc})") from None
    finally:
        try:
            partial.unlink(missing_ok=True)
        except OSError:  # a folder this user may not write: nothing was made there either
            pass
    return (f"requirements.txt: the proven set ({len(proven)} packages)"
            + (f" and {len(added)} of the team's and what they need ({', '.join(added)})" if added else ""))


def _compile(uv: str, previous: str, upgrade: bool, team: str, proven: dict[str, str]) -> dict[str, str]:
    with tempfile.TemporaryDirectory(prefix="azs-lock-") as scratch:
        output = Path(scratch) / "requirements.txt"
        output.write_text(previous, encoding="utf-8")  # uv keeps the releases of the lock it is given (unless --upgrade)
        command = [uv, "pip", "compile", "--quiet", "--universal", "--python-version", OLDEST_PYTHON, "--generate-hashes",
                   "--no-header", "--no-annotate", "--constraint", str(CONSTRAINTS), "--output-file", str(output),
                   *(["--upgrade"] if upgrade else []), *uv_options(), str(REQUIREMENTS_IN)]
        try:
            done = subprocess.run(command, cwd=ROOT, env=uv_environment(), capture_output=True, text=True, timeout=900)
        except subprocess.TimeoutExpired:
            raise LockFailure("uv took over 15 minutes to lock; check the connection to the package index") from None
        if done.returncode != 0:
            raise LockFailure(refusal(done.stderr, team, proven))
        return entries(output.read_text(encoding="utf-8"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upgrade", action="store_true", help="the newest releases requirements.in allows (else the lock's)")
    parser.add_argument("--check", action="store_true", help="only say whether the lock is stale (exit 1 if it is)")
    parser.add_argument("--no-fail", action="store_true", help=argparse.SUPPRESS)  # copier's task after an update
    args = parser.parse_args()
    try:
        reason = stale_reason()
        if args.check:
            print(f"lock: {reason}; run python scripts/lock.py" if reason else "lock: requirements.txt is up to date")
            sys.exit(1 if reason else 0)
        if reason is None and not args.upgrade:
            if not args.no_fail:  # as copier's task, it says nothing when there is nothing to do (stdout is the caller's)
                print("lock: requirements.txt is up to date")
            return
        locked = lock(find_uv(), args.upgrade)
        if not args.no_fail:
            print(f"lock: locked {locked}")
    except LockFailure as exc:
        print(f"lock: {'warning' if args.no_fail else 'error'}: {exc}", file=sys.stderr)
        sys.exit(0 if args.no_fail else 1)


if __name__ == "__main__":
    try:
        main()
    except KeyboardInterrupt:
        print("lock: error: interrupted (requirements.txt is as it was)", file=sys.stderr)
        sys.exit(1)
