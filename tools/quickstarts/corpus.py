"""The quickstart corpus as a user deploys it: every folder holding an ``azuredeploy.json``, with its
``azuredeploy.parameters.json`` and the placeholders Microsoft's corpus leaves for the deployer filled in.

The placeholders are those of Microsoft's quickstart repositories (their contribution guide names them): ``GEN-UNIQUE``
(a unique lower-case name), ``GEN-UNIQUE-N`` (one of N characters), ``GEN-UNIQUE-word`` (a unique name), ``GEN-PASSWORD``,
``GEN-USER`` and ``GEN-SSH-PUB-KEY``. A secure parameter (``securestring``) or an SSH key parameter the file leaves empty
is filled as a user must fill it; every other value is sent as the file has it."""

from __future__ import annotations

import json
import re
import secrets
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

TEMPLATE_FILE = "azuredeploy.json"
PARAMETERS_FILE = "azuredeploy.parameters.json"
MAX_FILE_BYTES = 4 * 1024 * 1024  # Resource Manager's limit of a template (4 MB); the corpus's largest is far below
USER = "azsuser"
_SSH_KEY_NAME = re.compile(r"ssh.*key|publickey", re.IGNORECASE)
_UNIQUE = re.compile(r"GEN-UNIQUE(?:-(\w+))?")


# Templates that extend what another template of the corpus makes, deployed after it into the same group: the
# corpus's VM extension templates default their vmName to the VM its 101-vm-*-create templates make there
# (substring(concat('simplewinvm', resourceGroup().name), 0, 12)), the VM a team has.
PREREQUISITES = {
    "101-vm-linux-apply-extension-customscript": "101-vm-linux-create",
    "101-vm-linux-apply-extension-docker": "101-vm-linux-create",
    "101-vm-linux-apply-extension-vmaccess": "101-vm-linux-create",
    "101-vm-apply-extension-multiple": "101-vm-windows-create",
    "101-vm-windows-apply-extension-bginfo": "101-vm-windows-create",
    "101-vm-windows-apply-extension-customscript-cmd": "101-vm-windows-create",
    "101-vm-windows-apply-extension-customscript-pscmd": "101-vm-windows-create",
    "101-vm-windows-apply-extension-customscript-sf": "101-vm-windows-create",
    "ApplyCustomScriptExtensionToWindowsVm+managed": "101-vm-windows-create",
    "vmaccess-ext-win": "101-vm-windows-create",
}


@dataclass
class Template:
    """One template folder of the corpus: its path relative to the corpus (``101-vm-linux-create``), the template,
    the parameter values to send, and why it could not be read (then nothing is deployed)."""

    folder: str
    template: dict[str, Any] = field(default_factory=dict)
    parameters: dict[str, Any] = field(default_factory=dict)
    changes: list[str] = field(default_factory=list)
    unreadable: str = ""
    first: Template | None = None  # what is deployed into its group before it (PREREQUISITES, or a supply's)
    supply: Any = None  # what the team supplies (quickstart_supplies.Supply), with --supply
    staged: dict[str, bytes] = field(default_factory=dict)  # blob name -> content the team stages (a supply's)


@dataclass
class Secrets:
    """What this run made up for the deployer's placeholders: never printed (messages are redacted with it)."""

    password: str
    ssh_public_key: str

    def redact(self, text: str) -> str:
        return text.replace(self.password, "***") if self.password else text


def new_secrets() -> Secrets:
    """A password meeting Windows' and Linux's complexity rules (upper, lower, digit, symbol; 20 characters) and an SSH
    public key whose private half is thrown away (no machine runs)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    body = "".join(secrets.choice(string.ascii_letters + string.digits) for _ in range(16))
    password = f"Qs{body}9!"
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = key.public_key().public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH).decode()
    return Secrets(password=password, ssh_public_key=f"{public} quickstarts@azs-scaffold")


def unique_name(length: int = 12) -> str:
    """A lower-case name starting with a letter (storage account and DNS label rules), ``length`` characters."""
    length = max(3, min(length, 24))
    return "q" + "".join(secrets.choice(string.ascii_lowercase + string.digits) for _ in range(length - 1))


def find_templates(corpus: Path) -> list[str]:
    """Every folder of ``corpus`` (relative, ``/``-separated) that holds an ``azuredeploy.json``, sorted; hidden
    folders (``.git``) left out."""
    found = [path.parent.relative_to(corpus).as_posix() for path in corpus.rglob(TEMPLATE_FILE)
             if path.is_file() and not any(part.startswith(".") for part in path.relative_to(corpus).parts)]
    return sorted(found, key=str.lower)


def read_bounded(path: Path) -> bytes:
    """A corpus file's bytes: a regular file, not a link, at most MAX_FILE_BYTES."""
    if path.is_symlink() or not path.is_file():
        raise ValueError(f"{path.name} is not a regular file")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ValueError(f"{path.name} is larger than {MAX_FILE_BYTES} bytes")
    return path.read_bytes()


def _read_json(path: Path) -> Any:
    """A corpus file: a regular file, size-capped, JSON (with a BOM or comments, as Resource Manager's clients take it)."""
    text = read_bounded(path).decode("utf-8-sig")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        import json5

        return json5.loads(text)


def fill(value: Any, made: Secrets) -> Any:
    """``value`` with the corpus's placeholders replaced (inside strings, lists and objects)."""
    if isinstance(value, dict):
        return {k: fill(v, made) for k, v in value.items()}
    if isinstance(value, list):
        return [fill(v, made) for v in value]
    if not isinstance(value, str):
        return value
    if value == "GEN-SSH-PUB-KEY":
        return made.ssh_public_key
    value = value.replace("GEN-PASSWORD", made.password).replace("GEN-USER", USER)
    return _UNIQUE.sub(lambda m: unique_name(int(m.group(1)) if m.group(1) and m.group(1).isdigit() else 12), value)


def parameter_values(template: dict[str, Any], given: dict[str, Any], made: Secrets) -> tuple[dict[str, Any], list[str]]:
    """The ``parameters`` object to send, and what was changed beyond the placeholders: the file's values filled, a
    secure or SSH key parameter it leaves empty given a value, a secure one it leaves out without a default given the
    password (a deployer is prompted for it), a parameter the template does not declare left out (Resource Manager
    refuses it: a deployer removes it)."""
    declared = {k.lower(): v for k, v in (template.get("parameters") or {}).items() if isinstance(v, dict)}
    values: dict[str, Any] = {}
    changes: list[str] = []
    for name, entry in given.items():
        if not isinstance(entry, dict):
            continue
        if name.lower() not in declared:
            changes.append(f"left out the undeclared parameter {name}")
            continue
        entry = fill(entry, made)
        if "value" in entry and entry["value"] in ("", None):
            kind = str(declared.get(name.lower(), {}).get("type", "")).lower()
            if _SSH_KEY_NAME.search(name) and kind in ("string", "securestring"):
                entry = {"value": made.ssh_public_key}
            elif kind == "securestring":
                entry = {"value": made.password}
        values[name] = entry
    for name, declaration in (template.get("parameters") or {}).items():
        keys = {k.lower() for k in declaration} if isinstance(declaration, dict) else set()
        if (name.lower() not in {k.lower() for k in values} and "defaultvalue" not in keys
                and str(declaration.get("type", "")).lower() == "securestring"):
            values[name] = {"value": made.password}
            changes.append(f"gave the secure parameter {name} the password")
    return values, changes


def load(corpus: Path, folder: str, made: Secrets) -> Template:
    """The template of ``folder`` with the values to deploy it with."""
    directory = corpus / folder
    try:
        template = _read_json(directory / TEMPLATE_FILE)
        parameters_path = directory / PARAMETERS_FILE
        given = _read_json(parameters_path) if parameters_path.exists() else {}
    except (OSError, ValueError) as exc:
        return Template(folder, unreadable=str(exc))
    if not isinstance(template, dict) or not isinstance(given, dict):
        return Template(folder, unreadable="not a JSON object")
    # A parameters file is {"$schema", "contentVersion", "parameters": {...}}, or (older ones) the parameters alone.
    if "parameters" in given:
        given = given["parameters"]
    else:
        given = {k: v for k, v in given.items() if not k.startswith("$") and k != "contentVersion"}
    values, changes = parameter_values(template, given if isinstance(given, dict) else {}, made)
    first = load(corpus, PREREQUISITES[folder], made) if folder in PREREQUISITES and (corpus / PREREQUISITES[folder]).is_dir() else None
    if first is not None:
        changes.append(f"deployed {first.folder} first, into the same group (the VM it extends)")
    return Template(folder, template, values, changes, first=first)
