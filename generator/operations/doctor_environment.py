"""What doctor reads of a project's installed environment: its ``.venv``'s distributions from their metadata on disk
(nothing there is run), or, only with ``--python``, what that Python reports; and the checks of what is installed
against what the code imports, the pins and the Stack's root CA."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from generator import catalog
from generator._util.files import read_regular_file
from generator.operations.doctor_code import RETIRED, CodeFacts, imported_packages
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


def check_environment(environment: dict[str, Any], where: str, code: CodeFacts, ca_pem: str | None) -> list[Finding]:
    """What is installed in the environment (``where`` names it) against what the code imports and the pins."""
    findings = []
    versions = environment["versions"]
    for package in imported_packages(code):
        pin = catalog.PINS[package]
        installed = versions.get(package)
        if installed is None:
            findings.append(Finding(ERROR, where, f"{package} is imported but not installed", f"install {pin.requirement}"))
        elif package.startswith("azure-mgmt-") and parsed_version(installed) and parsed_version(installed) > parsed_version(pin.version):
            findings.append(Finding(ERROR, where, f"{package} {installed} is installed: newer than the last release that "
                                    f"honours the hybrid profiles ({pin.version}; {pin.breaks})", f"install {pin.requirement}"))
    if "azure.profiles" in code.imports and "azure-common" not in versions:
        findings.append(Finding(ERROR, where, "azure.profiles is imported but azure-common is not installed",
                                f"install {catalog.PINS['azure-common'].requirement}"))
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
