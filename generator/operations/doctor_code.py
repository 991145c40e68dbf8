"""What doctor reads in a project's code, by its syntax tree only (``ast``: nothing of it is imported or run): the
modules it imports, the profiles it names, and the calls a Stack needs otherwise (credentials without the Stack's
authority, data-plane clients without api_version, retired packages); and the packages the code needs pinned.
``doctor`` runs these checks with the others."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from generator import catalog
from generator._util.files import read_project_file, why_unreadable
from generator.discovery.clouds import MICROSOFT_LOGIN_HOSTS
from generator.operations.doctor_findings import ERROR, SKIPPED_FOLDERS, WARNING, Finding

RETIRED = {"msrestazure": "azure-identity's credentials (ClientSecretCredential, CertificateCredential); for the Stack's "
                          "endpoints, a GET of <ARM>/metadata/endpoints?api-version=2019-05-01 (track 2 has no "
                          "get_cloud_from_metadata_endpoint)",
           "adal": "azure-identity (MSAL underneath)",
           "python-certifi-win32": "the Stack's root CA appended to certifi's bundle (as azs-scaffold's bootstrap does, "
                                   "idempotently) or named by REQUESTS_CA_BUNDLE"}
# The module each retired distribution is imported as, where its name differs.
RETIRED_MODULES = {"msrestazure": "msrestazure", "adal": "adal", "certifi_win32": "python-certifi-win32"}
# Data-plane clients: no API profile covers them, so each needs api_version= (the SDK's default is global Azure's
# newest, which a Stack refuses). Client -> (package, the api_version a Stack serves).
_KEY_VAULT_DATA = catalog.profile(catalog.HYBRID_2020).keyvault_data_api_version
DATA_PLANE_CLIENTS = {"SecretClient": ("azure-keyvault-secrets", _KEY_VAULT_DATA),
                      "KeyClient": ("azure-keyvault-keys", _KEY_VAULT_DATA),
                      "CertificateClient": ("azure-keyvault-certificates", _KEY_VAULT_DATA),
                      "BlobServiceClient": ("azure-storage-blob", catalog.STORAGE_DATA_API_VERSION),
                      "ContainerClient": ("azure-storage-blob", catalog.STORAGE_DATA_API_VERSION),
                      "BlobClient": ("azure-storage-blob", catalog.STORAGE_DATA_API_VERSION)}
# Modules the catalog pins, beyond the management clients: module -> its package.
PINNED_MODULES = {"azure.keyvault.secrets": "azure-keyvault-secrets", "azure.storage.blob": "azure-storage-blob",
                  "azure.identity": "azure-identity"}
# Constructors of a data-plane client besides the class itself.
_ALTERNATE_CONSTRUCTORS = ("from_connection_string", "from_blob_url", "from_container_url")
CREDENTIALS = {"ClientSecretCredential", "CertificateCredential", "DefaultAzureCredential", "ClientAssertionCredential"}
MAX_MODULE_BYTES = 512 * 1024  # a Python module: its syntax tree takes some hundred times its size


@dataclass
class CodeFacts:
    """What the code shows, from its syntax tree."""

    imports: dict[str, list[str]] = field(default_factory=dict)  # module -> where it is imported (first line in each file)
    # The imports the code cannot start without: at a module's top level (a class body too), not inside a function,
    # not guarded by ``except ImportError`` nor by ``if TYPE_CHECKING``; module -> first line in each file.
    needed_imports: dict[str, list[str]] = field(default_factory=dict)
    profiles: dict[str, list[str]] = field(default_factory=dict)  # KnownProfiles member -> first line in each file
    findings: list[Finding] = field(default_factory=list)
    files: int = 0  # Python files read


def _python_files(project: Path) -> Iterator[Path]:
    for path in sorted(project.rglob("*.py")):
        if not SKIPPED_FOLDERS & set(path.relative_to(project).parts):
            yield path


def _constant(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _call_name(node: ast.Call) -> str:
    func = node.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def _note(places: dict[str, list[str]], key: str, relative: str, where: str) -> None:
    """Record ``where`` for ``key``: the first place in each file."""
    seen = places.setdefault(key, [])
    if not any(place.rsplit(":", 1)[0] == relative for place in seen):
        seen.append(where)


def _sets_default_profile(node: ast.AST) -> bool:
    """``KnownProfiles.default.use(...)``: every multi-API client built afterwards without profile= uses it."""
    func = node.func if isinstance(node, ast.Call) else None
    return (isinstance(func, ast.Attribute) and func.attr == "use" and isinstance(func.value, ast.Attribute)
            and func.value.attr == "default" and isinstance(func.value.value, ast.Name) and func.value.value.id == "KnownProfiles")


_IMPORT_ERRORS = {"ImportError", "ModuleNotFoundError", "Exception", "BaseException"}


def _catches_import_error(node: ast.AST) -> bool:
    """A ``try`` whose handlers catch a failed import (``except ImportError``, a bare ``except``, ...)."""
    for handler in getattr(node, "handlers", ()):
        caught = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        if any(kind is None or (isinstance(kind, ast.Name) and kind.id in _IMPORT_ERRORS)
               or (isinstance(kind, ast.Attribute) and kind.attr in _IMPORT_ERRORS) for kind in caught):
            return True
    return False


def _is_type_checking(test: ast.AST) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def optional_imports(tree: ast.AST) -> set[int]:
    """The ``id`` of every import in ``tree`` the module does without when it is loaded: one inside a function (run
    only when it is called: a lazy import), in a ``try`` that catches ImportError, or under ``if TYPE_CHECKING``."""
    optional: set[int] = set()
    pending: list[tuple[ast.AST, bool]] = [(tree, False)]  # (node, whether an import under it is optional); no recursion
    while pending:
        node, lazy = pending.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)) and lazy:
            optional.add(id(node))
        guarded: list[ast.stmt] = []
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            guarded = node.body
        elif _catches_import_error(node):  # a try (try/except* too)
            guarded = getattr(node, "body", [])
        inner = lazy or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        pending.extend((child, inner or any(child is g for g in guarded)) for child in ast.iter_child_nodes(node))
    return optional


def read_code(project: Path) -> CodeFacts:
    """Imports, KnownProfiles members and credential or client construction, from each file's syntax tree."""
    facts = CodeFacts()
    trees: list[tuple[str, ast.AST]] = []
    for path in _python_files(project):
        relative = path.relative_to(project).as_posix()
        try:
            source = read_project_file(project, relative, MAX_MODULE_BYTES).decode("utf-8", errors="replace")
        except OSError as exc:  # a pipe, a device, a link out of the project, a huge file: not read, said so
            facts.findings.append(Finding(WARNING, relative, f"not read: {why_unreadable(exc).removeprefix(':').strip()}",
                                          "doctor checks the project's regular Python files only"))
            continue
        facts.files += 1
        try:
            trees.append((relative, ast.parse(source, filename=relative)))
        except (SyntaxError, RecursionError) as exc:
            facts.findings.append(Finding(WARNING, f"{relative}:{getattr(exc, 'lineno', None) or 1}", "not valid Python: doctor could not read it",
                                          "fix the syntax error"))
    # Where KnownProfiles.default.use(...) is called: file -> its first line there.
    default_profile = {relative: min(getattr(n, "lineno", 0) for n in ast.walk(tree) if _sets_default_profile(n))
                       for relative, tree in trees if any(_sets_default_profile(n) for n in ast.walk(tree))}
    for relative, tree in trees:
        optional = optional_imports(tree)
        for node in ast.walk(tree):
            line = getattr(node, "lineno", 0)
            where = f"{relative}:{line}"
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                modules = [alias.name for alias in node.names] if isinstance(node, ast.Import) else \
                    [node.module] if node.module and not node.level else []
                for module in modules:
                    _note(facts.imports, module, relative, where)
                    if id(node) not in optional:
                        _note(facts.needed_imports, module, relative, where)
            elif isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "KnownProfiles":
                _note(facts.profiles, node.attr, relative, where)
            elif isinstance(node, ast.Call):
                # Set in another file, it is in force once that code has run; in this one, only after its line.
                has_default = any(line > first if other == relative else True for other, first in default_profile.items())
                facts.findings.extend(_check_call(node, where, has_default))
    return facts


def _authority_from_metadata(node: ast.AST | None) -> str | None:
    """The source of an authority read from the Stack's metadata login endpoint (msrestazure's
    ``endpoints.active_directory``, or a ``loginEndpoint`` key), else None."""
    if node is None:
        return None
    for part in ast.walk(node):
        if (isinstance(part, ast.Attribute) and part.attr == "active_directory") or \
                (isinstance(part, ast.Subscript) and _constant(part.slice) in ("loginEndpoint", "login_endpoint")):
            return ast.unparse(node)
    return None


def _check_call(node: ast.Call, where: str, has_default_profile: bool = False) -> list[Finding]:
    name = _call_name(node)
    keywords = {k.arg: k.value for k in node.keywords if k.arg}
    passes_more = any(k.arg is None for k in node.keywords)  # **options: what they hold is not known here
    findings = []
    if name in _ALTERNATE_CONSTRUCTORS and isinstance(node.func, ast.Attribute):
        name = node.func.value.attr if isinstance(node.func.value, ast.Attribute) else getattr(node.func.value, "id", "")
    if name in CREDENTIALS:
        authority = _constant(keywords.get("authority"))
        if authority and authority.rstrip("/").lower().endswith("/adfs"):
            findings.append(Finding(ERROR, where, f"the ADFS authority {authority!r} ends in /adfs: MSAL adds /adfs itself "
                                    "and signs in at /adfs/adfs/...", "give the host only (https://adfs.<region>.<fqdn>) "
                                    "and tenant 'adfs'"))
        from_metadata = _authority_from_metadata(keywords.get("authority"))
        if from_metadata and (node.args or "tenant_id" in keywords):
            findings.append(Finding(WARNING, where, f"{name} takes its authority from the metadata's login endpoint "
                                    f"({from_metadata}) and a tenant: on an ADFS Stack that endpoint ends in /adfs and "
                                    "the tenant 'adfs' doubles it (MSAL signs in at /adfs/adfs/...)",
                                    "pass the login endpoint without a trailing /adfs as authority (on ADFS: the host, "
                                    "and tenant 'adfs')"))
        on_stack = "authority" in keywords and not (authority and any(h in authority for h in MICROSOFT_LOGIN_HOSTS))
        if on_stack and "disable_instance_discovery" not in keywords and not passes_more:
            findings.append(Finding(WARNING, where, f"{name} with a Stack's authority but without disable_instance_discovery: "
                                    "MSAL first asks login.microsoftonline.com about the authority (fails disconnected, "
                                    "and is wrong for a Stack)", "pass disable_instance_discovery=True"))
    elif name in DATA_PLANE_CLIENTS:
        if "api_version" not in keywords and not passes_more:
            package, version = DATA_PLANE_CLIENTS[name]
            findings.append(Finding(ERROR, where, f"{name} without api_version sends {package}'s newest service version "
                                    "(global Azure's), which a Stack refuses: no API profile covers the data plane",
                                    f'pass api_version="{version}"'))
    elif name.endswith("ManagementClient") or name == "SubscriptionClient":
        if passes_more:
            return findings
        if "base_url" not in keywords:
            findings.append(Finding(ERROR, where, f"{name} without base_url talks to global Azure's Resource Manager",
                                    "pass base_url= the Stack's Resource Manager (from its metadata endpoint)"))
        if "credential_scopes" not in keywords:
            findings.append(Finding(ERROR, where, f"{name} without credential_scopes asks for a token for global Azure's "
                                    "audience, which the Stack refuses", "pass credential_scopes=[<the metadata's audience>/.default]"))
        if "profile" not in keywords and "api_version" not in keywords and not has_default_profile:
            findings.append(Finding(ERROR, where, f"{name} without profile= sends its package's newest api-versions, which "
                                    "a Stack does not serve", "pass profile=KnownProfiles.v2020_09_01_hybrid "
                                    "(or v2019_03_01_hybrid for releases up to 2008)"))
    return findings


def retired_module(module: str) -> str | None:
    """The retired distribution that provides ``module``, if any."""
    return RETIRED_MODULES.get(module.split(".")[0])


def check_code_imports(code: CodeFacts) -> list[Finding]:
    """Retired modules imported by the code: one finding in each file that imports one."""
    findings = []
    for module, places in code.imports.items():
        retired = retired_module(module)
        for where in places:
            if retired:
                findings.append(Finding(ERROR, where, f"imports {module}, which is retired", f"use {RETIRED[retired]}"))
            if module.startswith("azure.common.credentials"):
                findings.append(Finding(ERROR, where, "azure.common.credentials (track 1 credentials) is retired",
                                        f"use {RETIRED['msrestazure']}"))
    return findings


def _packages_of(imports: dict[str, list[str]]) -> dict[str, list[str]]:
    """The catalog's packages (management clients, the data plane, azure-identity) that ``imports`` import: package ->
    where (the places of each module of it, in the order the modules were met)."""
    providers = {client.module: client.package for client in catalog.CLIENTS.values()} | PINNED_MODULES
    packages: dict[str, list[str]] = {}
    for module, places in imports.items():
        for provided, package in providers.items():
            if module == provided or module.startswith(provided + "."):
                packages.setdefault(package, []).extend(places)
    return dict(sorted(packages.items()))


def imported_packages(code: CodeFacts) -> list[str]:
    """The catalog's packages that the code imports anywhere (a lazy import inside a function too)."""
    return list(_packages_of(code.imports))


def needed_packages(code: CodeFacts) -> dict[str, str]:
    """The catalog's packages the code cannot start without (``CodeFacts.needed_imports``): package -> where the first
    import of it is (file:line)."""
    return {package: places[0] for package, places in _packages_of(code.needed_imports).items()}
