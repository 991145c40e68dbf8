"""doctor's ARM template checks: "will this template deploy on my Stack?", as AzureStack-Tools' TemplateValidator
answers it.

Every ``*.json`` of the project that is an ARM deployment template (or the one ``--template`` names) is read,
nothing of it is deployed. Each resource's type and api-version (or the version its ``apiProfile`` gives it) is
checked against what the Stack serves: the discovered Stack's capabilities, a capabilities file written by
``discover --capabilities``, or else the API profiles' tables of the release given (every hybrid profile
without one; :mod:`doctor_capabilities`). With capabilities, VM sizes, marketplace images and VM extensions are checked too. Hard-coded
public-cloud endpoints and an ``apiProfile`` the Stack does not support are findings on any Stack. Each finding
names the file and the JSON path, and the fix.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from generator._util.files import read_regular_file
from generator.operations.doctor_capabilities import TEMPLATE_PROFILES, Capabilities
from generator.operations.doctor_findings import ERROR, SKIPPED_FOLDERS, WARNING, DoctorError, Finding

# Azure Stack Hub storage replicates within the Stack only ("Azure Stack Hub storage: Differences and considerations").
STACK_STORAGE_SKUS = ("Standard_LRS", "Premium_LRS")
# Public-cloud hosts a template must not hard-code (each cloud, and each Stack, has its own).
PUBLIC_ENDPOINTS = {
    "blob.core.windows.net": "reference(<storage account id>).primaryEndpoints.blob",
    "table.core.windows.net": "reference(<storage account id>).primaryEndpoints.table",
    "queue.core.windows.net": "reference(<storage account id>).primaryEndpoints.queue",
    "file.core.windows.net": "reference(<storage account id>).primaryEndpoints.file",
    "core.windows.net": "reference(<storage account id>).primaryEndpoints",
    "vault.azure.net": "reference(<key vault id>).vaultUri",
    "management.azure.com": "the Stack's Resource Manager endpoint, passed as a parameter",
    "login.microsoftonline.com": "the Stack's sign-in endpoint, passed as a parameter",
    "cloudapp.azure.com": "reference(<public IP id>).dnsSettings.fqdn",
    "database.windows.net": "a parameter naming the database server's host",
    "azurewebsites.net": "reference(<site id>).defaultHostName",
}
_HOSTS = "|".join(re.escape(host) for host in sorted(PUBLIC_ENDPOINTS, key=len, reverse=True))  # longest first
_ENDPOINT = re.compile(r"(?<![\w-])(?:[\w-]+\.)*?(" + _HOSTS + r")\b", re.IGNORECASE)
_SIMPLE = re.compile(r"^\[\s*(parameters|variables)\(\s*'([^']*)'\s*\)\s*\]$", re.IGNORECASE)


# -- finding the templates --------------------------------------------------------------------------------------

def is_template(document: Any) -> bool:
    """An ARM deployment template: a ``deploymentTemplate`` schema, or content version and resources."""
    schema = str(document.get("$schema", "")).lower() if isinstance(document, dict) else "deploymentparameters"
    if "deploymentparameters" in schema:  # not a JSON object, or a parameters file
        return False
    return "deploymenttemplate" in schema or ("contentVersion" in document and isinstance(document.get("resources"), list))


MAX_TEMPLATE_BYTES = 4 * 1024 * 1024  # ARM itself takes templates of 4 MB at most


def template_files(project: Path) -> Iterator[tuple[Path, dict[str, Any]]]:
    """Every ARM template under ``project`` (virtual environments, VCS and build folders skipped)."""
    for path in sorted(project.rglob("*.json")):
        if any(part in SKIPPED_FOLDERS for part in path.relative_to(project).parts[:-1]):
            continue
        try:
            document = json.loads(read_regular_file(path, MAX_TEMPLATE_BYTES).decode("utf-8-sig"))
        except (OSError, UnicodeDecodeError, ValueError, RecursionError):
            continue  # not JSON, not readable, a pipe, or nested beyond reason: not a template doctor can check
        if is_template(document):
            yield path, document


# -- one template ----------------------------------------------------------------------------------------------

class _TemplateCheck:
    def __init__(self, where: str, template: dict[str, Any], capabilities: Capabilities) -> None:
        self.where, self.template, self.capabilities = where, template, capabilities
        self.findings: list[Finding] = []
        self.profile_refused = False

    def add(self, severity: str, path: str, problem: str, fix: str) -> None:
        self.findings.append(Finding(severity, f"{self.where} {path}", problem, fix))

    def literal(self, value: Any) -> Any:
        """``value`` when it is known before deployment: a literal, or a parameter's default or variable that is one."""
        for _ in range(5):  # a variable naming a parameter naming ...
            match = _SIMPLE.match(value) if isinstance(value, str) else None
            if not match:
                break
            table = self.template.get(match.group(1).lower()) or {}
            key = next((k for k in table if k.lower() == match.group(2).lower()), None)
            if key is None:
                return None
            declared = table[key]
            value = declared.get("defaultValue") if match.group(1).lower() == "parameters" and isinstance(declared, dict) else declared
        if isinstance(value, str) and value.startswith("[") and not value.startswith("[["):
            return None
        return value

    def run(self) -> list[Finding]:
        profile = self.template.get("apiProfile")
        if profile is not None and str(profile) not in self.capabilities.profiles:
            known = str(profile) in TEMPLATE_PROFILES
            self.add(ERROR, "apiProfile", f"the apiProfile '{profile}' is {'not supported by ' if known else 'not an API profile of '}"
                     f"{self.capabilities.source}",
                     f"use one of {', '.join(self.capabilities.profiles)} (the Stack's newest: {self.capabilities.profiles[-1]})")
            profile, self.profile_refused = None, True  # one finding says it for every resource the profile was to cover
        self.resources(self.template.get("resources") or [], "resources", None, profile)
        self.endpoints(self.template, "")
        return self.findings

    def resources(self, resources: list[Any], path: str, parent: str | None, profile: str | None) -> None:
        for index, resource in enumerate(resources):
            if not isinstance(resource, dict):
                continue
            here = f"{path}[{index}]"
            resource_type = self.literal(resource.get("type"))
            if not isinstance(resource_type, str):
                continue
            full_type = f"{parent}/{resource_type}" if parent and "/" not in resource_type.split(".", 1)[-1] else resource_type
            self.api_version(resource, here, full_type, profile)
            properties: dict[str, Any] = resource["properties"] if isinstance(resource.get("properties"), dict) else {}
            kind = full_type.lower()
            if kind == "microsoft.compute/virtualmachines":
                self.size((properties.get("hardwareProfile") or {}).get("vmSize"), f"{here}.properties.hardwareProfile.vmSize")
                self.image((properties.get("storageProfile") or {}).get("imageReference"),
                           f"{here}.properties.storageProfile.imageReference")
            elif kind == "microsoft.compute/virtualmachinescalesets":
                model = properties.get("virtualMachineProfile") or {}
                self.size((resource.get("sku") or {}).get("name"), f"{here}.sku.name")
                self.image((model.get("storageProfile") or {}).get("imageReference"),
                           f"{here}.properties.virtualMachineProfile.storageProfile.imageReference")
                for n, extension in enumerate((model.get("extensionProfile") or {}).get("extensions") or []):
                    self.extension((extension or {}).get("properties") or {},
                                   f"{here}.properties.virtualMachineProfile.extensionProfile.extensions[{n}].properties")
            elif kind.endswith("/extensions") and kind.startswith("microsoft.compute/virtualmachine"):
                self.extension(properties, f"{here}.properties")
            elif kind == "microsoft.storage/storageaccounts":
                self.storage_sku((resource.get("sku") or {}).get("name"), f"{here}.sku.name")
            elif kind == "microsoft.resources/deployments" and isinstance(properties.get("template"), dict):
                nested = properties["template"]
                self.resources(nested.get("resources") or [], f"{here}.properties.template.resources", None,
                               nested.get("apiProfile") or profile)
            self.resources(resource.get("resources") or [], f"{here}.resources", full_type, profile)

    def _served(self, namespace: str, resource_type: str) -> set[str] | None:
        served = self.capabilities.served
        for key in ((namespace, resource_type), (namespace, resource_type.split("/")[0])):
            if key in served:
                return served[key]
        return served.get((namespace, ""))  # profile tables: the namespace's versions

    def api_version(self, resource: dict[str, Any], path: str, full_type: str, profile: str | None) -> None:
        namespace, _, resource_type = full_type.partition("/")
        namespace, resource_type = namespace.lower(), resource_type.lower()
        given = resource.get("apiVersion")
        version = self.literal(given)
        where = f"{path}.apiVersion"
        if given is None:
            if self.profile_refused:
                return
            versions = TEMPLATE_PROFILES.get(profile or "", {}).get(namespace)
            if not versions:
                self.add(ERROR, path, f"{full_type} has no apiVersion" + (f", and the apiProfile {profile} names no version of "
                         f"{namespace}" if profile else " and the template names no apiProfile"),
                         "give the resource an apiVersion the Stack serves" + self._newest_hint(namespace, resource_type))
                return
            version, where = versions.get(resource_type.split("/")[0], versions[""]), "apiProfile"
        if not isinstance(version, str):
            return  # computed at deployment: nothing to hold against it now
        if not any(ns == namespace for ns, _ in self.capabilities.served):
            if self.capabilities.sizes is None:  # profile tables: an optional provider (App Service, SQL) may be installed
                self.add(WARNING, f"{path}.type", f"the resource provider {full_type.split('/')[0]} is in no API profile of "
                         f"{self.capabilities.source}: it deploys only where the operator installed that provider",
                         "check against your Stack (doctor --arm-endpoint URL, or --capabilities FILE from discover)")
            else:
                self.add(ERROR, f"{path}.type", f"the resource provider {full_type.split('/')[0]} is not served by "
                         f"{self.capabilities.source}", "remove the resource, or ask the Stack operator whether the provider "
                         "can be installed (Azure Stack Hub offers a subset of Azure's)")
            return
        served = self._served(namespace, resource_type)
        if served is None:
            self.add(ERROR, f"{path}.type", f"the resource type {full_type} is not served by {self.capabilities.source}",
                     "remove the resource or use a type the Stack serves")
            return
        if version not in served:
            self.add(ERROR, where, f"{full_type} api-version {version} is not served by {self.capabilities.source}",
                     f"use apiVersion {sorted(served)[-1]} (served: {', '.join(sorted(served, reverse=True))})")

    def _newest_hint(self, namespace: str, resource_type: str) -> str:
        served = self._served(namespace, resource_type)
        return f" (newest: {sorted(served)[-1]})" if served else ""

    def size(self, value: Any, path: str) -> None:
        size = self.literal(value)
        if self.capabilities.sizes is None or not isinstance(size, str) or size.lower() in self.capabilities.sizes:
            return
        self.add(ERROR, path, f"the VM size {size} is not offered by {self.capabilities.source}",
                 f"use one of {', '.join(sorted(self.capabilities.sizes))}")

    def storage_sku(self, value: Any, path: str) -> None:
        sku = self.literal(value)
        if isinstance(sku, str) and sku not in STACK_STORAGE_SKUS:
            self.add(ERROR, path, f"the storage account sku {sku} is not offered by Azure Stack Hub, whose storage is locally "
                     "redundant only", f"use {' or '.join(STACK_STORAGE_SKUS)}")

    def image(self, reference: Any, path: str) -> None:
        if self.capabilities.images is None or not isinstance(reference, dict) or "id" in reference:
            return
        parts = [self.literal(reference.get(k)) for k in ("publisher", "offer", "sku")]
        if not all(isinstance(p, str) for p in parts):
            return
        if tuple(p.lower() for p in parts) not in self.capabilities.images:
            offered = ", ".join(self.capabilities.image_names[:8]) or "none"
            self.add(ERROR, path, f"the marketplace image {':'.join(parts)} is not offered by {self.capabilities.source}",
                     f"ask the Stack operator to syndicate it from the Azure marketplace, or use one offered ({offered})")

    def extension(self, settings: dict[str, Any], path: str) -> None:
        if self.capabilities.extensions is None:
            return
        publisher, kind = self.literal(settings.get("publisher")), self.literal(settings.get("type"))
        if not isinstance(publisher, str) or not isinstance(kind, str):
            return
        versions = self.capabilities.extensions.get((publisher.lower(), kind.lower()))
        if versions is None:
            self.add(ERROR, f"{path}.type", f"the VM extension {publisher}.{kind} is not offered by {self.capabilities.source}",
                     "ask the Stack operator to syndicate it from the Azure marketplace, or remove it")
            return
        wanted = self.literal(settings.get("typeHandlerVersion"))
        if isinstance(wanted, str) and wanted and not any(v.split(".")[0] == wanted.split(".")[0] for v in versions):
            self.add(ERROR, f"{path}.typeHandlerVersion", f"the VM extension {publisher}.{kind} {wanted} is not offered "
                     f"(offered: {', '.join(versions)})", f"use typeHandlerVersion {'.'.join(versions[-1].split('.')[:2])}")

    def endpoints(self, value: Any, path: str) -> None:
        if isinstance(value, dict):
            for key, item in value.items():
                if key not in ("$schema", "metadata", "comments"):
                    self.endpoints(item, f"{path}.{key}" if path else key)
        elif isinstance(value, list):
            for index, item in enumerate(value):
                self.endpoints(item, f"{path}[{index}]")
        elif isinstance(value, str):
            found = _ENDPOINT.search(value)
            if found:
                host = found.group(1).lower()
                self.add(ERROR, path, f"hard-coded public-cloud endpoint '{found.group(0)}': every Azure Stack Hub has its own "
                         "endpoints, so this fails there", f"derive it at deployment instead: {PUBLIC_ENDPOINTS[host]}")


def check_template(path: Path, template: dict[str, Any], capabilities: Capabilities, root: Path) -> list[Finding]:
    """The findings of one template."""
    try:
        where = str(path.relative_to(root))
    except ValueError:
        where = str(path)
    try:
        return _TemplateCheck(where, template, capabilities).run()
    except RecursionError:  # JSON reads ~1000 levels deep; the walk through it does not
        return [Finding(WARNING, where, "the template nests deeper than doctor (and ARM) reads: not checked",
                        "flatten it; ARM refuses templates nested this deep")]


def check_templates(project: Path, capabilities: Capabilities, template: str | None = None) -> list[Finding]:
    """The findings of ``template`` (a file), else of every ARM template in ``project``."""
    if template is None:
        return [f for path, document in template_files(project) for f in check_template(path, document, capabilities, project)]
    path = Path(template).expanduser()
    try:
        document = json.loads(read_regular_file(path, MAX_TEMPLATE_BYTES).decode("utf-8-sig"))
    except OSError as exc:
        raise DoctorError(f"--template {template}: {exc.strerror or exc}; give the ARM template's file") from None
    except json.JSONDecodeError as exc:
        raise DoctorError(f"--template {template} is not JSON ({exc.msg} at line {exc.lineno})") from None
    except (UnicodeDecodeError, RecursionError):
        raise DoctorError(f"--template {template} is not UTF-8 JSON that can be read (or it nests beyond reason)") from None
    if not is_template(document):
        raise DoctorError(f"--template {template} is not an ARM deployment template (no deploymentTemplate $schema, "
                          "or no contentVersion and resources)")
    return check_template(path.resolve(), document, capabilities, project)

