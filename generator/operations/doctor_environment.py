"""What doctor reads of a project's installed environment: its ``.venv``'s distributions from their metadata on disk
(nothing there is run), or, only with ``--python``, what that Python reports; and the checks of what is installed
against what the code cannot start without, the pins (in a generated project: its lock) and the Stack's root CA."""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator import catalog
from generator._util.files import read_regular_file
from generator.operations.doctor_code import RETIRED, CodeFacts, needed_packages
from generator.operations.doctor_findings import ERROR, WARNING, DoctorError, Finding, normal_name, parsed_version

MAX_BUNDLE_BYTES = 16 * 1024 * 1024  # certifi's bundle is some 300 kB


_ENVIRONMENT_PROBE = """
import importlib.metadata as m, json
versions = {(d.metadata["Name"] or ""): d.version for d in m.distributions()}
try:
    import certifi
    bundle = certifi.where()
except ImportError:
    bundle = None
print(json.dumps({"versions": versions, "bundle": bundle}))
"""
# Where a virtual environment keeps its installed distributions (POSIX, and Windows).
_SITE_PACKAGES = ("lib/python3*/site-packages", "lib64/python3*/site-packages", "Lib/site-packages")


def find_venv(project: Path) -> Path | None:
    """The project's virtual environment (``.venv``), if it has one."""
    venv = project / ".venv"
    return venv if venv.is_dir() else None


def read_installed(venv: Path) -> dict[str, Any]:
    """Installed distributions (name -> version) and certifi's bundle of the environment ``venv``, read from the
    metadata files on disk (``site-packages/*.dist-info``): nothing there is run, not even its ``.pth`` files."""
    import importlib.metadata

    folders = sorted({str(folder.resolve()) for pattern in _SITE_PACKAGES for folder in venv.glob(pattern) if folder.is_dir()})
    if not folders:
        raise DoctorError(f"{venv} holds no site-packages folder, so its installed packages cannot be read; recreate it "
                          "(python -m venv .venv) or give the project's Python with --python")
    versions: dict[str, str] = {}
    for distribution in importlib.metadata.distributions(path=folders):
        name = distribution.metadata["Name"] if distribution.metadata else None
        if name and distribution.version:
            versions.setdefault(normal_name(name), distribution.version)
    bundle = next((str(Path(folder, "certifi", "cacert.pem")) for folder in folders
                   if Path(folder, "certifi", "cacert.pem").is_file()), None)
    return {"versions": versions, "bundle": bundle}


def run_environment(python: str) -> dict[str, Any]:
    """Installed distributions and certifi's bundle of ``python``'s environment, asked by running it (only for
    ``--python``: it starts as any run of it does, its site-packages' ``.pth`` files included; -I keeps the project's
    folder off its path)."""
    try:
        result = subprocess.run([python, "-I", "-c", _ENVIRONMENT_PROBE], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DoctorError(f"cannot run {python} ({exc}); give the project's Python with --python") from None
    if result.returncode != 0:
        raise DoctorError(f"{python} could not list its packages: {' '.join(result.stderr.split())[-200:]}")
    try:
        answer = json.loads(result.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise DoctorError(f"{python} did not list its packages (it printed {result.stdout[:80]!r}); is it a Python?") from None
    return {"versions": {normal_name(name): version for name, version in answer["versions"].items() if name},
            "bundle": answer.get("bundle")}


@dataclass
class LockedLine:
    """One entry of a generated project's lock (requirements.txt): what bootstrap installs."""

    package: str  # its normal name
    version: str
    where: str  # requirements.txt:N
    has_marker: bool  # installed only where its environment marker holds (which reading the disk does not tell)


_INSTALL_THE_LOCK = "python scripts/bootstrap.py (it installs the lock, requirements.txt)"


def _needed(code: CodeFacts) -> dict[str, tuple[str, str]]:
    """The catalog's packages the code cannot start without: package -> (what is imported, where first)."""
    needed = {package: (package, where) for package, where in needed_packages(code).items()}
    if "azure.profiles" in code.needed_imports:  # azure-common provides it; newer management packages no longer bring it
        needed.setdefault("azure-common", ("azure.profiles (of azure-common)", code.needed_imports["azure.profiles"][0]))
    return needed


def _against_pins(versions: dict[str, str], where: str, code: CodeFacts) -> list[Finding]:
    """A hand-written project: each package the code needs installed, a management package at most at its pin."""
    findings = []
    for package, (imported, place) in _needed(code).items():
        pin = catalog.PINS[package]
        installed = versions.get(package)
        if installed is None:
            findings.append(Finding(ERROR, place, f"{imported} is imported but not installed in {where}", f"install {pin.requirement}"))
        elif package.startswith("azure-mgmt-") and parsed_version(installed) and parsed_version(installed) > parsed_version(pin.version):
            findings.append(Finding(ERROR, place, f"{package} {installed} is installed in {where}: newer than the last release "
                                    f"that honours the hybrid profiles ({pin.version}; {pin.breaks})", f"install {pin.requirement}"))
    return findings


def _same_version(installed: str, locked: str) -> bool:
    return installed == locked or (parsed_version(installed) is not None and parsed_version(installed) == parsed_version(locked))


def _against_lock(versions: dict[str, str], where: str, code: CodeFacts, lock: list[LockedLine]) -> list[Finding]:
    """A generated project: the lock decides what is installed. Each locked package installed at its locked version
    (an entry with a marker only when it is installed at all), and each package the code needs in the lock."""
    findings = []
    needed = _needed(code)
    entries: dict[str, list[LockedLine]] = {}
    for line in lock:
        entries.setdefault(line.package, []).append(line)
    for package, (imported, place) in needed.items():
        if package not in entries:
            findings.append(Finding(ERROR, place, f"{imported} is imported but the lock (requirements.txt) does not hold it",
                                    f"add {catalog.PINS[package].requirement} (the release proven with the Stack) to requirements.in, "
                                    "then python scripts/bootstrap.py (it locks, then installs the lock)"))
    for package, lines in entries.items():
        installed = versions.get(package)
        also = f" (imported at {needed[package][1]})" if package in needed else ""
        if installed is None and not all(line.has_marker for line in lines):
            findings.append(Finding(ERROR, lines[0].where, f"{package}=={lines[0].version} is locked but not installed in "
                                    f"{where}{also}", _INSTALL_THE_LOCK))
        elif installed is not None and not any(_same_version(installed, line.version) for line in lines):
            locked = " or ".join(line.version for line in lines)
            findings.append(Finding(ERROR, lines[0].where, f"{package} {installed} is installed in {where}; the lock pins "
                                    f"{locked}{also}", _INSTALL_THE_LOCK))
    return findings


def check_environment(environment: dict[str, Any], where: str, code: CodeFacts, ca_pem: str | None,
                      lock: list[LockedLine] | None = None) -> list[Finding]:
    """What is installed in the environment (``where`` names it) against what the code cannot start without: in a
    generated project (``lock``: its requirements.txt) against the lock, else against the catalog's pins. An import
    inside a function or guarded by ``except ImportError`` is no requirement here (``CodeFacts.needed_imports``)."""
    versions = environment["versions"]
    findings = _against_pins(versions, where, code) if lock is None else _against_lock(versions, where, code, lock)
    for retired in RETIRED:
        if retired in versions:
            findings.append(Finding(WARNING, where, f"{retired} {versions[retired]} is installed (retired)", f"uninstall it; use {RETIRED[retired]}"))
    if ca_pem and environment.get("bundle"):
        try:
            bundle = "".join(read_regular_file(Path(environment["bundle"]), MAX_BUNDLE_BYTES).decode("utf-8", errors="replace").split())
        except OSError:
            bundle = ""  # no bundle to read: the CA is not in it
        body = "".join(ca_pem.split())
        if body not in bundle:
            findings.append(Finding(ERROR, where, f"the Stack's root CA is not in certifi's bundle ({environment['bundle']}): "
                                    "TLS to the Stack fails", "append it (azs-scaffold's bootstrap does, idempotently), and "
                                    "again after every certifi upgrade"))
    return findings
