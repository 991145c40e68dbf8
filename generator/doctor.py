"""``run_doctor``: diagnose an existing, hand-written Azure Stack Hub Python project, and say how to fix it.

Reads the project's requirements (``requirements*.txt``, ``pyproject.toml``, ``setup.cfg``), its installed
environment when there is one (``.venv``, or ``--python``: asked by running a few lines there, never the
project's code), and its code by static analysis (``ast``: nothing of it is imported or run). With a
Stack's endpoint it also discovers the Stack and checks the project's profile against it. Every finding
names the file and line (or the requirement), what is wrong and the exact fix, from the catalog.
"""

from __future__ import annotations

import ast
import configparser
import difflib
import json
import re
import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from generator import catalog
from generator.errors import ScaffoldError

ERROR, WARNING = "error", "warning"
# Releases of each management package before track 2 (azure-identity credentials, azure-core pipeline).
FIRST_TRACK_2 = {"azure-mgmt-resource": "15.0.0", "azure-mgmt-storage": "16.0.0", "azure-mgmt-network": "16.0.0",
                 "azure-mgmt-keyvault": "7.0.0", "azure-mgmt-compute": "17.0.0"}
RETIRED = {"msrestazure": "azure-identity's credentials (ClientSecretCredential, CertificateCredential)",
           "adal": "azure-identity (MSAL underneath)"}
SKIPPED_FOLDERS = {".venv", "venv", ".git", "node_modules", "site-packages", "__pycache__", ".tox", "build", "dist"}
CREDENTIALS = {"ClientSecretCredential", "CertificateCredential", "DefaultAzureCredential", "ClientAssertionCredential"}
MICROSOFT_HOSTS = ("login.microsoftonline.com", "login.windows.net", "login.microsoft.com")
_REQUIREMENT = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(\[[^\]]*\])?\s*([^;#]*)")

Progress = Callable[[str], None]


class DoctorError(ScaffoldError):
    """The project cannot be examined (exit 2)."""

    exit_code = 2


@dataclass
class Finding:
    """One problem: how bad, where, what, and the exact fix."""

    severity: str
    where: str
    problem: str
    fix: str


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


@dataclass
class CodeFacts:
    """What the code shows, from its syntax tree."""

    imports: dict[str, str] = field(default_factory=dict)  # module -> first place it is imported
    profiles: dict[str, str] = field(default_factory=dict)  # KnownProfiles member -> first place
    findings: list[Finding] = field(default_factory=list)


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _version(text: str) -> Any:
    from packaging.version import InvalidVersion, Version

    try:
        return Version(text)
    except InvalidVersion:
        return None


def _pinned_version(spec: str) -> str | None:
    match = re.fullmatch(r"\s*===?\s*([^\s,]+)\s*", spec)
    return match.group(1) if match else None


# -- requirements -----------------------------------------------------------------------------------

def read_requirements(project: Path) -> tuple[list[Requirement], str | None]:
    """Every requirement the project declares, and the requirements file doctor would rewrite."""
    found: list[Requirement] = []
    files = sorted(project.glob("requirements*.txt"))
    for path in files:
        for number, line in enumerate(path.read_text(encoding="utf-8", errors="replace").splitlines(), start=1):
            if line.strip().startswith(("#", "-")) or not line.strip():
                continue
            match = _REQUIREMENT.match(line)
            if match:
                found.append(Requirement(_normal(match.group(1)), match.group(3).strip(), f"{path.name}:{number}"))
    pyproject = project / "pyproject.toml"
    if pyproject.exists():
        import tomllib

        try:
            data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise DoctorError(f"{pyproject} is not valid TOML ({exc}); fix it first") from None
        for entry in data.get("project", {}).get("dependencies", []) or []:
            match = _REQUIREMENT.match(str(entry))
            if match:
                found.append(Requirement(_normal(match.group(1)), match.group(3).strip(), "pyproject.toml [project.dependencies]"))
    setup_cfg = project / "setup.cfg"
    if setup_cfg.exists():
        parser = configparser.ConfigParser()
        parser.read(setup_cfg, encoding="utf-8")
        for entry in parser.get("options", "install_requires", fallback="").splitlines():
            match = _REQUIREMENT.match(entry)
            if match and entry.strip():
                found.append(Requirement(_normal(match.group(1)), match.group(3).strip(), "setup.cfg [options] install_requires"))
    main_file = project / "requirements.txt"
    return found, str(main_file) if main_file.exists() or not (pyproject.exists() or setup_cfg.exists()) else None


def check_requirements(requirements: list[Requirement], code: CodeFacts) -> list[Finding]:
    """Unpinned or too-new management packages, track 1 releases, retired packages, a missing azure-common."""
    findings = []
    for req in requirements:
        if req.name in RETIRED:
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
        version, newest = _version(exact), _version(pin.version)
        if version is not None and newest is not None and version > newest:
            findings.append(Finding(ERROR, req.where, f"{req.name}=={exact} is newer than the last release that honours "
                                    f"the hybrid profiles ({pin.version}; {pin.breaks})", f"pin {pin.requirement}"))
        elif version is not None and version < _version(FIRST_TRACK_2[req.name]):
            findings.append(Finding(ERROR, req.where, f"{req.name}=={exact} is a track 1 release (msrest/msrestazure credentials)",
                                    f"pin {pin.requirement} and build clients with azure-identity credentials"))
    declared = {req.name for req in requirements}
    if "azure.profiles" in code.imports and "azure-common" not in declared:
        findings.append(Finding(ERROR, code.imports["azure.profiles"], "azure.profiles is imported, but azure-common "
                                "(which provides it) is not required: newer management packages no longer bring it",
                                f"add {catalog.PINS['azure-common'].requirement} to the requirements"))
    return findings


# -- code ---------------------------------------------------------------------------------------------

def _python_files(project: Path) -> Iterator[Path]:
    for path in sorted(project.rglob("*.py")):
        if not SKIPPED_FOLDERS & set(path.relative_to(project).parts):
            yield path


def _constant(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _call_name(node: ast.Call) -> str:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def read_code(project: Path) -> CodeFacts:
    """Imports, KnownProfiles members and credential or client construction, from each file's syntax tree."""
    facts = CodeFacts()
    for path in _python_files(project):
        relative = path.relative_to(project).as_posix()
        try:
            tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"), filename=relative)
        except SyntaxError as exc:
            facts.findings.append(Finding(WARNING, f"{relative}:{exc.lineno}", "not valid Python: doctor could not read it",
                                          "fix the syntax error"))
            continue
        for node in ast.walk(tree):
            where = f"{relative}:{getattr(node, 'lineno', 0)}"
            if isinstance(node, ast.Import):
                for alias in node.names:
                    facts.imports.setdefault(alias.name, where)
            elif isinstance(node, ast.ImportFrom) and node.module:
                facts.imports.setdefault(node.module, where)
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "KnownProfiles":
                facts.profiles.setdefault(node.attr, where)
            elif isinstance(node, ast.Call):
                facts.findings.extend(_check_call(node, where))
    return facts


def _check_call(node: ast.Call, where: str) -> list[Finding]:
    name = _call_name(node)
    keywords = {k.arg: k.value for k in node.keywords if k.arg}
    passes_more = any(k.arg is None for k in node.keywords)  # **options: what they hold is not known here
    findings = []
    if name in CREDENTIALS:
        authority = _constant(keywords.get("authority"))
        if authority and authority.rstrip("/").lower().endswith("/adfs"):
            findings.append(Finding(ERROR, where, f"the ADFS authority {authority!r} ends in /adfs: MSAL adds /adfs itself "
                                    "and signs in at /adfs/adfs/...", "give the host only (https://adfs.<region>.<fqdn>) "
                                    "and tenant 'adfs'"))
        on_stack = "authority" in keywords and not (authority and any(h in authority for h in MICROSOFT_HOSTS))
        if on_stack and "disable_instance_discovery" not in keywords and not passes_more:
            findings.append(Finding(WARNING, where, f"{name} with a Stack's authority but without disable_instance_discovery: "
                                    "MSAL first asks login.microsoftonline.com about the authority (fails disconnected, "
                                    "and is wrong for a Stack)", "pass disable_instance_discovery=True"))
    elif name.endswith("ManagementClient") or name == "SubscriptionClient":
        if passes_more:
            return findings
        if "base_url" not in keywords:
            findings.append(Finding(ERROR, where, f"{name} without base_url talks to global Azure's Resource Manager",
                                    "pass base_url= the Stack's Resource Manager (from its metadata endpoint)"))
        if "credential_scopes" not in keywords:
            findings.append(Finding(ERROR, where, f"{name} without credential_scopes asks for a token for global Azure's "
                                    "audience, which the Stack refuses", "pass credential_scopes=[<the metadata's audience>/.default]"))
        if "profile" not in keywords and "api_version" not in keywords:
            findings.append(Finding(ERROR, where, f"{name} without profile= sends its package's newest api-versions, which "
                                    "a Stack does not serve", "pass profile=KnownProfiles.v2020_09_01_hybrid "
                                    "(or v2019_03_01_hybrid for releases up to 2008)"))
    return findings


def check_code_imports(code: CodeFacts) -> list[Finding]:
    """Retired modules imported by the code."""
    findings = []
    for module, where in code.imports.items():
        top = module.split(".")[0]
        if top in RETIRED:
            findings.append(Finding(ERROR, where, f"imports {module}, which is retired", f"use {RETIRED[top]}"))
        if module.startswith("azure.common.credentials"):
            findings.append(Finding(ERROR, where, "azure.common.credentials (track 1 credentials) is retired",
                                    f"use {RETIRED['msrestazure']}"))
    return findings


def imported_packages(code: CodeFacts) -> list[str]:
    """The catalog's packages that the code imports (management clients, and what every project needs)."""
    packages = set()
    for module in code.imports:
        for client in catalog.CLIENTS.values():
            if module == client.module or module.startswith(client.module + "."):
                packages.add(client.package)
    return sorted(packages)


# -- the installed environment ----------------------------------------------------------------------------

_ENVIRONMENT_PROBE = """
import importlib.metadata as m, json
versions = {}
for d in m.distributions():
    name = (d.metadata["Name"] or "").lower()
    if name.startswith("azure") or name in ("msrestazure", "adal", "certifi"):
        versions[name] = d.version
try:
    import certifi
    bundle = certifi.where()
except ImportError:
    bundle = None
print(json.dumps({"versions": versions, "bundle": bundle}))
"""


def read_environment(python: str) -> dict[str, Any]:
    """Installed azure packages and certifi's bundle of the environment of ``python`` (-I: the project's
    folder is not on its path, so nothing of the project runs)."""
    try:
        result = subprocess.run([python, "-I", "-c", _ENVIRONMENT_PROBE], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise DoctorError(f"cannot run {python} ({exc}); give the project's Python with --python") from None
    if result.returncode != 0:
        raise DoctorError(f"{python} could not list its packages: {' '.join(result.stderr.split())[-200:]}")
    return json.loads(result.stdout)


def check_environment(environment: dict[str, Any], python: str, code: CodeFacts, ca_pem: str | None) -> list[Finding]:
    findings = []
    versions = environment["versions"]
    where = f"environment of {python}"
    for package in imported_packages(code):
        pin = catalog.PINS[package]
        installed = versions.get(package)
        if installed is None:
            findings.append(Finding(ERROR, where, f"{package} is imported but not installed", f"install {pin.requirement}"))
        elif _version(installed) and _version(installed) > _version(pin.version):
            findings.append(Finding(ERROR, where, f"{package} {installed} is installed: newer than the last release that "
                                    f"honours the hybrid profiles ({pin.version}; {pin.breaks})", f"install {pin.requirement}"))
    if "azure.profiles" in code.imports and "azure-common" not in versions:
        findings.append(Finding(ERROR, where, "azure.profiles is imported but azure-common is not installed",
                                f"install {catalog.PINS['azure-common'].requirement}"))
    for retired in RETIRED:
        if retired in versions:
            findings.append(Finding(WARNING, where, f"{retired} {versions[retired]} is installed (retired)", f"uninstall it; use {RETIRED[retired]}"))
    if ca_pem and environment.get("bundle"):
        bundle = "".join(Path(environment["bundle"]).read_text(encoding="utf-8", errors="replace").split())
        body = "".join(ca_pem.split())
        if body not in bundle:
            findings.append(Finding(ERROR, where, f"the Stack's root CA is not in certifi's bundle ({environment['bundle']}): "
                                    "TLS to the Stack fails", "append it (azs-scaffold's bootstrap does, idempotently), and "
                                    "again after every certifi upgrade"))
    return findings


# -- the Stack --------------------------------------------------------------------------------------------

def check_against_stack(found: Any, code: CodeFacts) -> list[Finding]:
    """The profile the code names against the one the Stack needs."""
    needed = catalog.profile(found.profile).known_profile if found.profile else None
    findings = []
    for member, where in code.profiles.items():
        if needed and member != needed and member.endswith("_hybrid"):
            findings.append(Finding(ERROR, where, f"the code uses KnownProfiles.{member}; the Stack at "
                                    f"{found.metadata.resource_manager} needs {needed} ({'; '.join(found.profile_evidence)[:200]})",
                                    f"use KnownProfiles.{needed}"))
    if needed and not code.profiles and imported_packages(code):
        findings.append(Finding(WARNING, "code", "no KnownProfiles member is named, so clients send their newest api-versions",
                                f"pass profile=KnownProfiles.{needed} to each management client"))
    findings.extend(check_roles(found))
    return findings


def check_roles(found: Any) -> list[Finding]:
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

def proposed_requirements(packages: list[str]) -> str:
    """A pinned requirements.txt for what the code imports: the catalog's pins, and what every project needs."""
    names = sorted(set(packages) | set(catalog.BASE_PACKAGES))
    lines = ["# Pinned by azs-scaffold doctor: the newest releases proven to speak the Stack's API profiles",
             "# (docs/pins.md of azs-scaffold says why each is exactly that release)."]
    return "\n".join(lines + [catalog.PINS[name].requirement for name in names]) + "\n"


def run_doctor(path: str, python: str | None = None, ca_cert: str | None = None, found: Any = None,
               template: str | None = None, capabilities: Any = None) -> Report:
    """Examine the project at ``path``; ``found`` is a discovered Stack (``discover_stack``) to check against.
    ARM templates (``template``, else every one in the project) are checked against ``capabilities``
    (``doctor_templates.Capabilities``; default: the profile tables of the discovered release)."""
    project = Path(path).expanduser().resolve()
    if not project.is_dir():
        raise DoctorError(f"{path} is not a directory; give the project's folder")
    code = read_code(project)
    requirements, requirements_file = read_requirements(project)
    report = Report(str(project), requirements_file=requirements_file, imported_packages=imported_packages(code))
    report.findings += code.findings + check_code_imports(code) + check_requirements(requirements, code)
    interpreter = python or next((str(p) for p in (project / ".venv/bin/python", project / ".venv/Scripts/python.exe") if p.exists()), None)
    if interpreter:
        ca_pem = None
        if ca_cert:
            from generator.discovery.trust import read_ca_pem

            ca_pem = read_ca_pem(ca_cert)
        report.findings += check_environment(read_environment(interpreter), interpreter, code, ca_pem)
    if found is not None:
        report.findings += check_against_stack(found, code)
    from generator.doctor_templates import check_templates, from_release

    report.findings += check_templates(project, capabilities or from_release(getattr(found, "stack_version", None)), template)
    report.proposed_requirements = proposed_requirements(report.imported_packages)
    return report


def requirements_diff(report: Report) -> str:
    """What ``--fix`` would write into requirements.txt, as a unified diff."""
    target = Path(report.requirements_file or Path(report.project) / "requirements.txt")
    before = target.read_text(encoding="utf-8").splitlines(keepends=True) if target.exists() else []
    return "".join(difflib.unified_diff(before, report.proposed_requirements.splitlines(keepends=True),
                                        f"a/{target.name}", f"b/{target.name}"))


def apply_fix(report: Report) -> Path:
    """Write the pinned requirements.txt (the code is never touched)."""
    target = Path(report.requirements_file or Path(report.project) / "requirements.txt")
    target.write_text(report.proposed_requirements, encoding="utf-8")
    return target
