"""``run_doctor``: diagnose an existing, hand-written Azure Stack Hub Python project, and say how to fix it.

Reads the project's requirements (``requirements*.txt``, ``pyproject.toml``, ``setup.cfg``), its installed
environment when there is one (``.venv``: the distributions' metadata on disk, nothing there is run; or, only
when asked with ``--python``, by running that Python), and its code by static analysis (``ast``: nothing of it
is imported or run). With a
Stack's endpoint it also discovers the Stack and checks the project's profile against it. Every finding
names the file and line (or the requirement), what is wrong and the exact fix, from the catalog.
"""

from __future__ import annotations

import configparser
import difflib
import os
import re
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from generator import catalog
from generator._util.files import read_project_file, why_unreadable
from generator.catalog.lock import is_locked_layout, read_requirements_file, stale_reason
from generator.operations.doctor_code import RETIRED, CodeFacts, check_code_imports, imported_packages, read_code, retired_module
from generator.operations.doctor_environment import LockedLine, check_environment, find_venv, read_installed, run_environment
from generator.operations.doctor_findings import ERROR, WARNING, DoctorError, Finding, normal_name, parsed_version

if TYPE_CHECKING:
    from generator.discovery import StackDiscovery

# Releases of each management package before track 2 (azure-identity credentials, azure-core pipeline).
FIRST_TRACK_2 = {"azure-mgmt-resource": "15.0.0", "azure-mgmt-storage": "16.0.0", "azure-mgmt-network": "16.0.0",
                 "azure-mgmt-keyvault": "7.0.0", "azure-mgmt-compute": "17.0.0"}
# What a pinned release imports without declaring it.
UNDECLARED_NEEDS = {"azure-storage-blob": ("six",)}
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*([^;#]*)")

Progress = Callable[[str], None]


@dataclass
class Report:
    """What doctor found in a project."""

    project: str
    findings: list[Finding] = field(default_factory=list)
    requirements_file: str | None = None
    imported_packages: list[str] = field(default_factory=list)
    proposed_requirements: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"project": self.project, "findings": [asdict(f) for f in self.findings]}


@dataclass
class Requirement:
    name: str
    spec: str  # the version specifier as written ("" when unpinned)
    where: str
    line: str = ""  # the requirement as written (extras and markers included), comments left out


def _pinned_version(spec: str) -> str | None:
    match = re.fullmatch(r"\s*===?\s*([^\s,]+)\s*", spec)
    return match.group(1) if match else None


# -- requirements -----------------------------------------------------------------------------------

def _logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, line) of a requirements file as pip reads it: a line ending in a backslash continues on
    the next (a locked requirement and its ``--hash`` options are one)."""
    lines: list[tuple[int, str]] = []
    pending: tuple[int, str] | None = None
    for number, raw in enumerate(text.splitlines(), start=1):
        start, joined = pending if pending else (number, "")
        joined += raw.rstrip()
        if joined.endswith("\\"):
            pending = (start, joined[:-1] + " ")
            continue
        pending = None
        lines.append((start, joined))
    if pending:
        lines.append(pending)
    return lines


# What doctor reads of a project's files, each at most (a real one is far smaller; a larger one is no source).
MAX_DECLARATION_BYTES = 1024 * 1024  # requirements*.txt, pyproject.toml, setup.cfg
def one_line_of(error: Exception) -> str:
    return " ".join(str(error).split())[:200]


def _declaration(project: Path, name: str) -> str:
    """The text of a file that declares the project's requirements, read bounded (read_project_file)."""
    try:
        return read_project_file(project, name, MAX_DECLARATION_BYTES).decode("utf-8", errors="replace")
    except OSError as exc:
        raise DoctorError(f"{project / name}{why_unreadable(exc)}; doctor reads the project's requirements from it") from None


def read_requirements(project: Path) -> tuple[list[Requirement], str | None]:
    """Every requirement the project declares, and the requirements file doctor would rewrite."""
    found: list[Requirement] = []
    files = sorted(project.glob("requirements*.txt"))
    for path in files:
        if not path.exists():  # a dangling link: nothing to read (and --fix refuses what it cannot write)
            continue
        text = _declaration(project, path.name)
        for number, line in _logical_lines(text):
            if line.strip().startswith(("#", "-")) or not line.strip():
                continue
            requirement = line.split(" #")[0].split(" --")[0].strip()  # without its comment and options (--hash=...)
            match = _REQUIREMENT.match(requirement)
            if match:
                found.append(Requirement(normal_name(match.group(1)), match.group(3).strip(), f"{path.name}:{number}", requirement))
    pyproject = project / "pyproject.toml"
    if pyproject.exists() or pyproject.is_symlink():
        try:
            import tomllib
        except ImportError:  # Python 3.10 has no tomllib; tomli (a dependency there) is the same parser
            import tomli as tomllib

        try:
            data = tomllib.loads(_declaration(project, pyproject.name))
        except tomllib.TOMLDecodeError as exc:
            raise DoctorError(f"{pyproject} is not valid TOML ({exc}); fix it first") from None
        for entry in data.get("project", {}).get("dependencies", []) or []:
            match = _REQUIREMENT.match(str(entry))
            if match:
                found.append(Requirement(normal_name(match.group(1)), match.group(3).strip(), "pyproject.toml [project.dependencies]",
                                         str(entry).strip()))
    setup_cfg = project / "setup.cfg"
    if setup_cfg.exists() or setup_cfg.is_symlink():
        parser = configparser.ConfigParser()
        try:
            parser.read_string(_declaration(project, setup_cfg.name), str(setup_cfg))
        except configparser.Error as exc:
            raise DoctorError(f"{setup_cfg} is not a valid setup.cfg ({one_line_of(exc)}); fix it first") from None
        for entry in parser.get("options", "install_requires", fallback="").splitlines():
            match = _REQUIREMENT.match(entry)
            if match and entry.strip():
                found.append(Requirement(normal_name(match.group(1)), match.group(3).strip(), "setup.cfg [options] install_requires",
                                         entry.split(" #")[0].strip()))
    main_file = project / "requirements.txt"
    return found, str(main_file) if main_file.exists() or not (pyproject.exists() or setup_cfg.exists()) else None


def check_requirements(requirements: list[Requirement], code: CodeFacts) -> list[Finding]:
    """Unpinned or too-new management packages, track 1 releases, retired packages, a missing azure-common."""
    findings = []
    for req in requirements:
        if req.name in RETIRED:
            imported = [where for module, places in code.imports.items() if retired_module(module) == req.name
                        for where in places]
            if imported:  # --fix keeps it: the code would not import without it
                findings.append(Finding(ERROR, req.where, f"{req.name} is retired; the code still imports it "
                                        f"({', '.join(imported)}), so --fix keeps it", f"replace it with {RETIRED[req.name]}, "
                                        "then remove it"))
            else:
                findings.append(Finding(ERROR, req.where, f"{req.name} is retired",
                                        f"remove it and use {RETIRED[req.name]}"))
            continue
        pin = catalog.PINS.get(req.name)
        if pin is None or not req.name.startswith("azure-mgmt-"):
            continue
        exact = _pinned_version(req.spec)
        if exact is None:
            findings.append(Finding(ERROR, req.where, f"{req.name} is not pinned ({req.spec or 'any release'}): installed today "
                                    f"it resolves to a release that dropped the Stack's API versions ({pin.breaks or 'newer ones'})",
                                    f"pin {pin.requirement}"))
            continue
        version, newest = parsed_version(exact), parsed_version(pin.version)
        if version is not None and newest is not None and version > newest:
            findings.append(Finding(ERROR, req.where, f"{req.name}=={exact} is newer than the last release that honours "
                                    f"the hybrid profiles ({pin.version}; {pin.breaks})", f"pin {pin.requirement}"))
        elif version is not None and version < parsed_version(FIRST_TRACK_2[req.name]):
            findings.append(Finding(ERROR, req.where, f"{req.name}=={exact} is a track 1 release (msrest/msrestazure credentials)",
                                    f"pin {pin.requirement} and build clients with azure-identity credentials"))
    declared = {req.name for req in requirements}
    if "azure.profiles" in code.imports and "azure-common" not in declared:
        findings.append(Finding(ERROR, code.imports["azure.profiles"][0], "azure.profiles is imported, but azure-common "
                                "(which provides it) is not required: newer management packages no longer bring it",
                                f"add {catalog.PINS['azure-common'].requirement} to the requirements"))
    return findings


# -- the Stack --------------------------------------------------------------------------------------------

def check_against_stack(found: StackDiscovery, code: CodeFacts) -> list[Finding]:
    """The profile the code names against the one the Stack needs."""
    needed = catalog.profile(found.profile).known_profile if found.profile else None
    findings: list[Finding] = []
    for member, places in code.profiles.items():
        if needed and member != needed and member.endswith("_hybrid"):
            findings.extend(Finding(ERROR, where, f"the code uses KnownProfiles.{member}; the Stack at "
                                    f"{found.metadata.resource_manager} needs {needed} ({'; '.join(found.profile_evidence)[:200]})",
                                    f"use KnownProfiles.{needed}") for where in places)
    if needed and not code.profiles and imported_packages(code):
        findings.append(Finding(WARNING, "code", "no KnownProfiles member is named, so clients send their newest api-versions",
                                f"pass profile=KnownProfiles.{needed} to each management client"))
    findings.extend(check_roles(found))
    return findings


def check_roles(found: StackDiscovery) -> list[Finding]:
    """The service principal's roles on the subscription against what a project's writes need (a group and
    resources in it, its providers registered), as ``new`` checks them for its samples."""
    roles = getattr(found, "roles", None)
    if roles is None or not found.subscription_id:
        return []
    if roles.assignments is None:  # unreadable: nothing to hold against the code (discover says why)
        return []
    held = roles.held_on(found.subscription_id)
    refused = catalog.refused_actions("resource_groups", held)
    if not refused:
        return []
    return [Finding(WARNING, "the Stack", f"the service principal holds {', '.join(held) or 'no role'} on subscription "
                    f"{found.subscription_id}, which does not allow {refused[0]}: every write will be refused (403 "
                    "AuthorizationFailed)", f"ask the Stack operator for {catalog.minimal_role('resource_groups')} on the "
                    "subscription (unless the role comes through a group)")]


# -- the whole --------------------------------------------------------------------------------------------

def proposed_requirements(packages: list[str], requirements: list[Requirement], options: tuple[str, ...] | list[str] = ()) -> str:
    """The requirements.txt ``--fix`` writes: the catalog's pins for what the code imports, what the project already
    names and what every project needs; then every other requirement the project declares, as written (``--fix``
    never edits code, so every import it has must stay satisfiable: retired ones keep their finding)."""
    declared = [req for req in requirements if not req.where.startswith("requirements") or req.where.startswith("requirements.txt:")]
    names = set(packages) | set(catalog.BASE_PACKAGES) | {req.name for req in declared if req.name in catalog.PINS}
    names |= {need for name in list(names) for need in UNDECLARED_NEEDS.get(name, ())}
    lines = [*options, "# Pinned by azs-scaffold doctor: the newest releases proven to speak the Stack's API profiles",
             "# (docs/pins.md of azs-scaffold says why each is exactly that release).",
             *(catalog.PINS[name].requirement for name in sorted(names))]
    kept = list(dict.fromkeys(req.line or req.name for req in declared if req.name not in names))
    if kept:
        lines += ["# Kept as the project declares them: doctor has no pin for these (retired ones: see its findings).", *kept]
    return "\n".join(lines) + "\n"


def _option_lines(requirements_file: str | None) -> list[str]:
    """The pip options (``-r``, ``-e``, ``--index-url`` ...) of the requirements file ``--fix`` rewrites: kept."""
    if not requirements_file or not Path(requirements_file).is_file():
        return []
    text = _declaration(Path(requirements_file).parent, Path(requirements_file).name)
    return [line.strip() for _, line in _logical_lines(text) if line.strip().startswith("-")]


def run_doctor(path: str, python: str | None = None, root_ca: str | None = None, found: StackDiscovery | None = None,
               template: str | None = None, capabilities: Any = None, progress: Progress = lambda message: None) -> Report:
    """Examine the project at ``path``; ``found`` is a discovered Stack (``discover_stack``) to check against.
    The environment is ``.venv``'s, read on disk; ``python`` (``--python``) is run to ask it instead. ARM templates
    (``template``, else every one in the project) are checked against ``capabilities``
    (``doctor_capabilities.Capabilities``; default: the profile tables of the discovered release)."""
    project = Path(path).expanduser().resolve()
    if not project.is_dir():
        raise DoctorError(f"{path} is not a directory; give the project's folder")
    if found is not None and not found.profile:
        why = "; ".join(found.profile_evidence).rstrip(".")[:200] or "no evidence"
        raise DoctorError(f"the API profile of the Stack at {found.metadata.resource_manager} could not be told ({why}), so the "
                          "code's profile cannot be checked against it; sign in (--client-id with --client-secret-env or "
                          "--certificate, and --subscription-id) or give --release")
    code = read_code(project)
    requirements, requirements_file = read_requirements(project)
    from generator.operations.doctor_capabilities import from_release
    from generator.operations.doctor_templates import check_templates, template_files

    if not code.files and not requirements and not any(project.glob("requirements*.txt")) \
            and not (project / "pyproject.toml").exists() and not (project / "setup.cfg").exists() \
            and not template and next(template_files(project), None) is None:
        raise DoctorError(f"{project} holds no Python file, no requirements (requirements*.txt, pyproject.toml, "
                          "setup.cfg) and no ARM template: nothing to diagnose; give the project's folder")
    report = Report(str(project), requirements_file=requirements_file, imported_packages=imported_packages(code))
    report.findings += code.findings + check_code_imports(code) + check_requirements(requirements, code)
    locked_layout = is_locked_layout(project)
    lock = [LockedLine(req.name, version, req.where, ";" in req.line) for req in requirements
            if req.where.startswith("requirements.txt:") and (version := _pinned_version(req.spec))] if locked_layout else None
    venv = None if python else find_venv(project)
    if python or venv:
        ca_pem = None
        if root_ca:
            from generator.discovery.trust import read_ca_pem

            ca_pem = read_ca_pem(root_ca)
        if python:
            progress(f"Running {python} to list its installed packages (--python; it starts as any run of it does)")
            environment, where = run_environment(python), f"environment of {python}"
            report.findings += check_environment(environment, where, code, ca_pem, lock)
        elif venv is not None:
            environment, where = read_installed(venv), f"environment {venv.relative_to(project)} (read on disk)"
            report.findings += check_environment(environment, where, code, ca_pem, lock)
    if found is not None:
        report.findings += check_against_stack(found, code)
    report.findings += check_templates(project, capabilities or from_release(found.release if found is not None else None), template)
    report.proposed_requirements = proposed_requirements(report.imported_packages, requirements, _option_lines(requirements_file))
    if locked_layout:
        report.findings += check_lock(project)
        report.proposed_requirements = ""  # the lock is scripts/lock.py's to write, its pins constraints.txt's (upgrade)
    return report


# A line git or copier writes where it could not merge: <<<<<<< HEAD (or "before updating"), =======, >>>>>>> ...
_CONFLICT_MARKER = re.compile(r"^(?:<{7}|>{7})(?:\s|$)|^={7}\s*$")


def check_lock(project: Path) -> list[Finding]:
    """A generated project's layout: the team's packages in requirements.in (not a finding, whatever they are),
    locked with the proven set (constraints.txt) into requirements.txt; a lock older than its inputs is one, and a
    lock holding conflict markers (a merge's or an upgrade's) another."""
    try:
        stale = stale_reason(project)
        lock = read_requirements_file(project, "requirements.txt") if (project / "requirements.txt").exists() else ""
    except OSError as exc:
        raise DoctorError(f"{exc.filename or project}{why_unreadable(exc)}; doctor reads the project's lock and its inputs "
                          "from it") from None
    marker = next((number for number, line in enumerate(lock.splitlines(), 1) if _CONFLICT_MARKER.match(line)), None)
    if marker is not None:
        return [Finding(ERROR, f"requirements.txt:{marker}", "the lock holds conflict markers (from a merge or an "
                        "upgrade): bootstrap cannot install it", "take one side (git checkout HEAD -- requirements.txt), "
                        "resolve requirements.in (the team's packages) if it has conflicts too, then relock: python "
                        "scripts/lock.py (a lock is made again from its inputs, never merged)")]
    return [Finding(ERROR, "requirements.txt", f"the lock is stale: {stale}", "python scripts/lock.py (or scripts/bootstrap.py, "
                    "which locks first)")] if stale else []


def fix_target(report: Report) -> Path:
    """The file ``--fix`` writes: requirements.txt, or the file it links to, which must be inside the project."""
    link = Path(report.requirements_file or Path(report.project) / "requirements.txt")
    target = Path(os.path.realpath(link))
    if not target.is_relative_to(report.project):
        raise DoctorError(f"{link} links to {target}, outside the project: doctor --fix writes only inside "
                          f"{report.project}; replace the link with a copy of the file, or apply the pins yourself")
    if target.exists() and not target.is_file():
        raise DoctorError(f"{link} is not a file; remove it, or apply the pins yourself")
    if link.is_symlink() and not target.exists():
        raise DoctorError(f"{link} links to {target}, which does not exist: doctor --fix writes no file through a dangling "
                          "link; remove the link (--fix then writes requirements.txt), or apply the pins yourself")
    return target


def requirements_diff(report: Report) -> str:
    """What ``--fix`` would write into requirements.txt, as a unified diff."""
    if not report.proposed_requirements:  # a locked project: requirements.txt is scripts/lock.py's
        return ""
    target = fix_target(report)
    before = _declaration(target.parent, target.name).splitlines(keepends=True) if target.exists() else []
    return "".join(difflib.unified_diff(before, report.proposed_requirements.splitlines(keepends=True),
                                        f"a/{target.name}", f"b/{target.name}"))


def apply_fix(report: Report) -> Path:
    """Write the pinned requirements.txt in one rename (the code is never touched; never outside the project)."""
    target = fix_target(report)
    mode = target.stat().st_mode & 0o777 if target.exists() else 0o644
    fd, partial = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(report.proposed_requirements)
        os.chmod(partial, mode)
        os.replace(partial, target)
    except BaseException:
        Path(partial).unlink(missing_ok=True)
        raise
    return target
