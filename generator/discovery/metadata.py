"""Parse ``<ARM>/metadata/endpoints`` in both of its formats and derive what clients need.

- api-version ``1.0`` / ``2015-01-01``: one object with ``galleryEndpoint``, ``graphEndpoint``,
  ``portalEndpoint`` and ``authentication``;
- ``2019-05-01`` and later: an array; a Stack answers one element without ``resourceManager``,
  global Azure one element per cloud, each with its ``resourceManager``.
Unknown keys are ignored and misspelt ones (``"portal Endpoint"``) are recognised.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from generator.discovery.clouds import cloud_at
from generator.discovery.http import DiscoveryError

AZURE_AD = "azure_ad"
ADFS = "adfs"

class MetadataError(DiscoveryError):
    """The metadata endpoint answered something that is not usable metadata."""


@dataclass(frozen=True)
class StackMetadata:
    """What the metadata says, normalised, with the values derived from it."""

    resource_manager: str
    login_endpoint: str
    audiences: tuple[str, ...]
    portal: str | None
    gallery: str | None
    graph: str | None
    storage_suffix: str
    keyvault_dns_suffix: str

    @property
    def identity_system(self) -> str:
        # The rule PowerShell, AzureStack-Tools, azure-cli and the Terraform provider all use.
        return ADFS if self.login_endpoint.rstrip("/").lower().endswith("/adfs") else AZURE_AD

    @property
    def audience(self) -> str:
        return self.audiences[0]

    @property
    def credential_scope(self) -> str:
        # Never strip the audience's trailing slash: global Azure's scope is ``https://management.azure.com//.default``.
        return self.audience + "/.default"

    @property
    def authority_host(self) -> str:
        """What azure-identity takes as ``authority``: for ADFS the host alone (it appends the tenant ``adfs``)."""
        parts = urlsplit(self.login_endpoint)
        if self.identity_system == ADFS:
            return f"{parts.scheme}://{parts.netloc}"
        return self.login_endpoint.rstrip("/")

    @property
    def is_public_azure(self) -> bool:
        return cloud_at(urlsplit(self.resource_manager).hostname or "") is not None


def normalize_url(url: str, what: str = "endpoint") -> str:
    """``url`` with a lower-case scheme and host and exactly one trailing slash; https only."""
    if not isinstance(url, str) or not url.strip():
        raise MetadataError(f"the {what} is empty; give a URL like https://management.local.azurestack.external")
    text = url.strip()
    if "://" not in text:
        text = "https://" + text
    parts = urlsplit(text)
    if "@" in parts.netloc:
        # Never echoed: what stands before the @ may be a password.
        raise MetadataError(f"the {what} carries a user name or password (user:password@host); give the URL without them")
    if parts.scheme.lower() != "https":
        raise MetadataError(f"the {what} {url!r} is not https://; Azure Stack Hub endpoints are HTTPS only")
    try:
        host = parts.hostname
        parts.port  # noqa: B018  (read for its ValueError: a port that is not a number)
    except ValueError:
        raise MetadataError(f"the {what} {url!r} has a port that is not a number") from None
    if not host or not re.fullmatch(r"[A-Za-z0-9._\-\[\]:]+", host):
        raise MetadataError(f"the {what} {url!r} is not a URL with a host name; give e.g. https://management.local.azurestack.external")
    if not host.startswith("[") and (len(host) > 253 or any(len(label) > 63 for label in host.split("."))):
        raise MetadataError(f"the {what} has a host name that DNS cannot hold (labels of 63 characters at most, 253 in all)")
    netloc = parts.netloc.lower()
    return f"https://{netloc}{parts.path.rstrip('/')}/"


def _key(name: str) -> str:
    return re.sub(r"[^a-z]", "", name.lower())


def _lookup(entry: dict[str, Any], *names: str) -> Any:
    wanted = {_key(n) for n in names}
    for key, value in entry.items():
        if isinstance(key, str) and _key(key) in wanted:
            return value
    return None


def _optional_url(entry: dict[str, Any], *names: str) -> str | None:
    value = _lookup(entry, *names)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise MetadataError(f"metadata key {names[0]!r} is {type(value).__name__}, not a URL string")
    return value.strip()


def _choose_entry(body: Any, resource_manager: str) -> dict[str, Any]:
    if isinstance(body, dict):
        return body
    if not isinstance(body, list):
        raise MetadataError(f"metadata is a JSON {type(body).__name__}, not an object or array")
    entries = [e for e in body if isinstance(e, dict)]
    if len(entries) != len(body) or not entries:
        raise MetadataError("metadata array is empty or holds non-objects; is this an Azure Stack Hub Resource Manager endpoint?")
    matching = [e for e in entries if _rm_matches(_lookup(e, "resourceManager"), resource_manager)]
    if len(matching) == 1:
        return matching[0]
    if len(entries) == 1 and _lookup(entries[0], "resourceManager") is None:
        return entries[0]
    raise MetadataError(
        f"metadata array has {len(entries)} entries and none is unambiguously {resource_manager}; "
        "is this the Resource Manager endpoint of one Stack?"
    )


def _rm_matches(value: Any, resource_manager: str) -> bool:
    if not isinstance(value, str):
        return False
    try:
        return normalize_url(value) == resource_manager
    except MetadataError:
        return False


def _suffixes(entry: dict[str, Any], resource_manager: str) -> tuple[str, str]:
    suffixes = _lookup(entry, "suffixes")
    storage = keyvault = None
    if isinstance(suffixes, dict):
        storage = _lookup(suffixes, "storage", "storageEndpoint")
        keyvault = _lookup(suffixes, "keyVaultDns", "keyvaultDns")
    host = urlsplit(resource_manager).hostname or ""
    cloud = cloud_at(host)
    if cloud:  # a public cloud's suffixes cannot be derived from its Resource Manager host
        default_storage, default_vault = cloud.storage_suffix, cloud.keyvault_dns_suffix
    else:
        # A Stack's services live beside Resource Manager: management.<region>.<fqdn> -> <region>.<fqdn>.
        default_storage = host if _is_ip_or_single_label(host) else host.split(".", 1)[1]
        default_vault = f"vault.{default_storage}"
    return (
        storage.strip().strip(".") if isinstance(storage, str) and storage.strip() else default_storage,
        keyvault.strip().strip(".") if isinstance(keyvault, str) and keyvault.strip() else default_vault,
    )


def _is_ip_or_single_label(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return "." not in host


def parse_metadata(body: Any, resource_manager: str) -> StackMetadata:
    """Parse a metadata response for the Resource Manager at ``resource_manager``."""
    resource_manager = normalize_url(resource_manager, "Resource Manager endpoint")
    entry = _choose_entry(body, resource_manager)
    authentication = _lookup(entry, "authentication")
    if not isinstance(authentication, dict):
        raise MetadataError("metadata has no 'authentication' object; is this an Azure Stack Hub Resource Manager endpoint?")
    login = _lookup(authentication, "loginEndpoint")
    if not isinstance(login, str) or not login.strip():
        raise MetadataError("metadata 'authentication' has no loginEndpoint string")
    audiences = _lookup(authentication, "audiences")
    if not isinstance(audiences, list) or not audiences:
        raise MetadataError("metadata 'authentication.audiences' is missing or empty; the token audience cannot be known")
    if not all(isinstance(a, str) and a.strip() for a in audiences):
        raise MetadataError("metadata 'authentication.audiences' holds a value that is not a non-empty string")
    storage, keyvault = _suffixes(entry, resource_manager)
    return StackMetadata(
        resource_manager=resource_manager,
        login_endpoint=normalize_url(login, "loginEndpoint"),
        audiences=tuple(a.strip() for a in audiences),
        portal=_optional_url(entry, "portalEndpoint", "portal"),
        gallery=_optional_url(entry, "galleryEndpoint", "gallery"),
        graph=_optional_url(entry, "graphEndpoint", "graph"),
        storage_suffix=storage,
        keyvault_dns_suffix=keyvault,
    )
