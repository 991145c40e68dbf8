"""``azs-scaffold wheelhouse``: every file of a project's locked set, for the Pythons and platforms named, in one folder.

A disconnected site has no package index. On a machine that has one, this downloads the wheel of every package in
the project's ``requirements.txt`` (its share of the lock and the team's packages of ``requirements.in``, which must be
locked: ``scripts/lock.py``) for each target (a Python and a platform), checked against
the hashes there, into ``PROJECT/wheels/`` (git-ignored). Carried to the site with the project,
``python scripts/bootstrap.py --offline`` installs from that folder and nothing else, checking the hashes again.

pip downloads (``pip download --only-binary :all: --require-hashes --no-deps`` per target). pip evaluates a
requirement's environment marker for the Python running it, not for the target, so each target gets the entries its
own markers select (the lock gives a package two versions where Pythons need different ones).
"""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

from generator._util.files import why_unreadable
from generator.catalog.lock import (
    CI_PLATFORM,
    CI_PYTHON,
    SUPPORTED_PYTHONS,
    Locked,
    LockError,
    parse,
    read_requirements_file,
    stale_reason,
)
from generator.errors import ScaffoldError, UsageError

WHEELS_DIR = "wheels"


@dataclass(frozen=True)
class Platform:
    """A platform as pip's --platform takes it (every tag a wheel for it may carry) and as markers see it."""

    name: str
    tags: tuple[str, ...]
    sys_platform: str
    platform_system: str
    platform_machine: str

    @property
    def os_name(self) -> str:
        return "nt" if self.sys_platform == "win32" else "posix"


def _manylinux(machine: str) -> tuple[str, ...]:
    # pip takes these literally (it widens only manylinux2014/2010 and macOS tags): glibc 2.28 (RHEL 8) and older.
    return (*(f"manylinux_2_{minor}_{machine}" for minor in range(28, 4, -1)),
            f"manylinux2014_{machine}", f"manylinux2010_{machine}", f"manylinux1_{machine}")


PLATFORMS = {
    p.name: p
    for p in (
        Platform("linux", _manylinux("x86_64"), "linux", "Linux", "x86_64"),
        Platform("linux-aarch64", _manylinux("aarch64"), "linux", "Linux", "aarch64"),
        Platform("windows", ("win_amd64",), "win32", "Windows", "AMD64"),
        # macOS 12 or later: pip widens a macOS tag to every older release and to universal2 wheels (cffi's Intel
        # wheels need 10.15).
        Platform("macos", ("macosx_12_0_arm64",), "darwin", "Darwin", "arm64"),
        Platform("macos-x86_64", ("macosx_12_0_x86_64",), "darwin", "Darwin", "x86_64"),
    )
}


class WheelhouseError(ScaffoldError):
    """The wheelhouse cannot be made."""


@dataclass(frozen=True)
class Target:
    """One Python on one platform: what one pip download fetches for."""

    python: str
    platform: Platform | None  # None: this machine's

    def __str__(self) -> str:
        return f"Python {self.python} on {self.platform.name if self.platform else 'this machine'}"

    def marker_environment(self) -> dict[str, str]:
        """The values environment markers are evaluated with for this target."""
        import platform as running

        full = f"{self.python}.0" if self.python != _running_python() else running.python_version()
        base = {"python_version": self.python, "python_full_version": full, "implementation_name": "cpython",
                "platform_python_implementation": "CPython"}
        if self.platform is None:
            return {**base, "sys_platform": sys.platform, "platform_system": running.system(),
                    "platform_machine": running.machine(), "os_name": "nt" if sys.platform == "win32" else "posix"}
        return {**base, "sys_platform": self.platform.sys_platform, "platform_system": self.platform.platform_system,
                "platform_machine": self.platform.platform_machine, "os_name": self.platform.os_name}


def _running_python() -> str:
    return f"{sys.version_info[0]}.{sys.version_info[1]}"


def platform_named(name: str) -> Platform:
    """A platform by its name here, or a wheel platform tag as given (``manylinux_2_34_x86_64``)."""
    if name in PLATFORMS:
        return PLATFORMS[name]
    if "_" in name and name.replace("_", "").isalnum():
        system = "win32" if name.startswith("win") else "darwin" if name.startswith("macosx") else "linux"
        machine = name.rsplit("_", 1)[-1] if not name.startswith("win") else "AMD64"
        return Platform(name, (name,), system, {"win32": "Windows", "darwin": "Darwin"}.get(system, "Linux"),
                        "x86_64" if machine == "64" else machine)
    raise UsageError(f"--platform {name}: not a platform this knows; choose {', '.join(PLATFORMS)} or give a wheel "
                          "platform tag (e.g. manylinux_2_34_x86_64)")


def targets(pythons: list[str], platforms: list[str], project: Path) -> list[Target]:
    """What to download for: each named Python on each named platform; by default this machine's Python and platform,
    plus what the project's CI definitions run on."""
    for python in pythons:
        if python not in SUPPORTED_PYTHONS:
            raise UsageError(f"--python {python}: the lock is for Python {', '.join(SUPPORTED_PYTHONS)}; name one of them")
    chosen: list[Platform | None] = [platform_named(name) for name in platforms]
    if pythons or chosen:
        return [Target(python, platform) for python in (pythons or [_running_python()]) for platform in (chosen or [None])]
    found = [Target(_running_python(), None)] if _running_python() in SUPPORTED_PYTHONS else []
    if _has_ci(project):
        found.append(Target(CI_PYTHON, PLATFORMS[CI_PLATFORM]))
    if not found:
        raise WheelhouseError(f"this Python ({_running_python()}) is not one the lock is for and the project has no CI "
                              f"definitions; name the targets: --python {SUPPORTED_PYTHONS[-1]} --platform linux")
    return found


def _has_ci(project: Path) -> bool:
    return (project / ".github" / "workflows" / "test-against-emulator.yml").exists() or (project / "azure-pipelines.yml").exists()


def locked_requirements(project: Path) -> tuple[Locked, ...]:
    """The entries of the project's requirements.txt (its share of the lock and the team's packages, hashes and all),
    which must be the lock of its requirements.in and constraints.txt as they are."""
    path = project / "requirements.txt"
    try:
        stale = stale_reason(project)
        entries = parse(read_requirements_file(project, path.name), path.name)
    except OSError as exc:
        where = Path(exc.filename) if exc.filename else path
        raise WheelhouseError(f"cannot read {where}{why_unreadable(exc)}; give the folder of a project azs-scaffold "
                              "generated") from None
    except LockError as exc:
        raise WheelhouseError(f"{path} is not a locked requirements file as azs-scaffold writes it ({exc}); "
                              "regenerate it with azs-scaffold upgrade") from None
    if stale:
        raise WheelhouseError(f"{stale}, so a wheelhouse of it would miss what is new; run python scripts/lock.py in "
                              f"{project} first, then wheelhouse again")
    if not entries:
        raise WheelhouseError(f"{path} names no package; regenerate it with azs-scaffold upgrade")
    return entries


def selected(entries: tuple[Locked, ...], target: Target) -> list[Locked]:
    """The entries whose environment markers hold for ``target``."""
    from packaging.markers import Marker

    environment = target.marker_environment()
    return [e for e in entries if not e.marker or Marker(e.marker).evaluate(environment)]


def download_command(target: Target, requirements: Path, destination: Path) -> list[str]:
    """pip's command that downloads, hashes checked, one wheel per requirement for ``target``."""
    command = [sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--quiet", "--no-deps",
               "--only-binary", ":all:", "--require-hashes", "--dest", str(destination), "-r", str(requirements)]
    if target.python != _running_python() or target.platform is not None:
        command += ["--python-version", target.python, "--implementation", "cp"]
    for tag in target.platform.tags if target.platform else ():
        command += ["--platform", tag]
    return command


def download_locked(entries: tuple[Locked, ...], chosen: list[Target], destination: Path, progress=print) -> None:
    """Download, hashes checked, the file of each of ``entries`` that each target installs into ``destination``."""
    if destination.exists() and not destination.is_dir():
        raise UsageError(f"{destination} is a file; the wheels go in a folder of that name: move the file away")
    destination.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="azs-wheelhouse-") as scratch:
        for index, target in enumerate(chosen):
            requirements = Path(scratch) / f"target-{index}.txt"
            # Without their markers: pip would test them against the Python running it, not the target.
            requirements.write_text("".join(replace(e, marker="").lines + "\n" for e in selected(entries, target)),
                                    encoding="utf-8")
            progress(f"downloading the locked set for {target}")
            try:
                result = subprocess.run(download_command(target, requirements, destination), capture_output=True, text=True,
                                        timeout=1800)
            except subprocess.TimeoutExpired:
                raise WheelhouseError(f"downloading for {target} took over 30 minutes; check the connection to the package "
                                      "index and run wheelhouse again") from None
            if result.returncode != 0:
                said = [line.strip() for line in result.stderr.splitlines() if line.strip().startswith("ERROR")]
                missing = re.search(r"satisfies the requirement (\S+)==(\S+)", result.stderr)
                if missing:
                    raise WheelhouseError(f"the package index has no wheel of {missing[1]} {missing[2]} for {target} (a "
                                          "wheelhouse holds wheels only, never builds a source release); leave that target "
                                          "out, or name the site's platform more exactly with a wheel platform tag")
                if "No module named pip" in result.stderr:
                    raise WheelhouseError(f"{sys.executable} has no pip, which downloads the wheels; install azs-scaffold "
                                          "where pip is (pipx and venvs have it)")
                raise WheelhouseError(f"downloading for {target} failed: {(said[0] if said else result.stderr.strip()[-300:])}; "
                                      "check the connection to the package index (PIP_INDEX_URL names a mirror)")


def make_wheelhouse(project: Path, pythons: list[str], platforms: list[str], progress=print) -> tuple[Path, list[Target]]:
    """Download the project's locked set for each target into PROJECT/wheels/; that folder and the targets."""
    chosen = targets(pythons, platforms, project)
    entries = locked_requirements(project)
    destination = project / WHEELS_DIR
    download_locked(entries, chosen, destination, progress)
    return destination, chosen
