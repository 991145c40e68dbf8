"""Where each of the project's settings lives, read into one :class:`StackConfig`.

- ``stack.json`` holds the Stack's settings: its Resource Manager endpoint, tenant, subscription and region, the
  sign-in authority and token scope, the API profile and api-versions, the root CA's file. azs-scaffold wrote it
  from what it discovered and what you answered, and ``azs-scaffold upgrade`` regenerates it: change them there
  (through an upgrade), never anywhere else.
- The service principal file, ``azureSecretSpConfig.json`` or ``azureCertSpConfig.json`` (yours: mode 0600,
  git-ignored, never regenerated), holds the credentials: ``clientId``, ``clientSecret`` (or ``certPath`` and
  ``certPass``) and, optionally, ``objectId``. ``AZURE_CLIENT_SECRET`` stands in for an empty ``clientSecret``.
  The file also carries ``resourceManagerEndpointUrl``, ``tenantId``, ``subscriptionId`` and ``location`` under
  Microsoft's key names, for Microsoft's own samples: this project never reads those copies.
- Against azs-scaffold's emulator (``scripts/test_against_emulator.py``), ``AZS_EMULATOR_OVERLAY`` names a file
  that stands in for both: the service principal file and certs/ are then not read at all.
"""

from __future__ import annotations

import os
import stat
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .files import ConfigError, read_json, recorded_answer
from .redaction import remember

ROOT = Path(__file__).resolve().parent.parent.parent  # the project: samples/azure_stack/ is two folders down
SECRET_FILE = "azureSecretSpConfig.json"
CERT_FILE = "azureCertSpConfig.json"
SECRET_ENV = "AZURE_CLIENT_SECRET"
OVERLAY_ENV = "AZS_EMULATOR_OVERLAY"
# What stack.json must name (the rest has defaults).
STACK_KEYS = ("resourceManagerEndpointUrl", "tenantId", "subscriptionId", "location", "authorityHost", "credentialScope",
              "knownProfile")
OVERLAY_KEYS = ("clientId", "clientSecret", "subscriptionId", "tenantId", "resourceManagerEndpointUrl", "location",
                "authorityHost", "credentialScope")
# The data planes no API profile covers: the versions a Stack serves when stack.json names none.
KEYVAULT_DATA_API_VERSION, STORAGE_DATA_API_VERSION = "2016-10-01", "2019-07-07"


@dataclass
class StackConfig:
    """Everything needed to talk to the Stack (secrets are kept out of repr)."""

    client_id: str
    subscription_id: str
    tenant_id: str
    resource_manager: str
    location: str
    authority_host: str
    credential_scope: str
    disable_instance_discovery: bool
    known_profile: str
    api_versions: dict[str, str]  # client -> the api-version the profile gives it
    providers: list[str]
    keyvault_data_api_version: str = KEYVAULT_DATA_API_VERSION  # Key Vault's data plane: no profile covers it
    storage_data_api_version: str = STORAGE_DATA_API_VERSION  # the storage data plane (blobs): no profile covers it either
    ca_cert: Path | None = None  # the Stack's root CA (PEM), when its certificates are not publicly trusted
    object_id: str | None = None  # the service principal's object id, when the service principal file names it
    client_secret: str | None = field(default=None, repr=False)
    certificate_path: str | None = None
    certificate_password: str | None = field(default=None, repr=False)
    warnings: list[str] = field(default_factory=list)


def _require(data: dict[str, Any], keys: tuple[str, ...], source: str, remedy: str = "add the key(s) and run again") -> None:
    missing = [k for k in keys if not isinstance(data.get(k), str) or not data[k].strip()]
    if missing:
        raise ConfigError(f"{source} lacks {', '.join(missing)}; {remedy}")


def _stack_settings(stack: dict[str, Any], root: Path) -> dict[str, Any]:
    """The StackConfig fields stack.json gives."""
    _require(stack, STACK_KEYS, "stack.json", "regenerate it: azs-scaffold upgrade")
    ca_cert = stack.get("caCert")
    return dict(
        subscription_id=stack["subscriptionId"], tenant_id=stack["tenantId"], resource_manager=stack["resourceManagerEndpointUrl"],
        location=stack["location"], authority_host=stack["authorityHost"], credential_scope=stack["credentialScope"],
        disable_instance_discovery=bool(stack.get("disableInstanceDiscovery", True)), known_profile=stack["knownProfile"],
        api_versions=dict(stack.get("apiVersions", {})), providers=list(stack.get("providers", [])),
        keyvault_data_api_version=stack.get("keyVaultDataApiVersion") or KEYVAULT_DATA_API_VERSION,
        storage_data_api_version=stack.get("storageDataApiVersion") or STORAGE_DATA_API_VERSION,
        ca_cert=root / ca_cert if isinstance(ca_cert, str) and ca_cert else None,
    )


def _emulator_config(stack: dict[str, Any], overlay_path: Path, root: Path) -> StackConfig:
    """The emulator's overlay in place of the Stack's names, its CA and the service principal file."""
    overlay = read_json(overlay_path, f"{OVERLAY_ENV} file")
    _require(overlay, OVERLAY_KEYS, f"{OVERLAY_ENV} file {overlay_path}")
    if overlay.get("httpsProxy"):
        use_emulator_proxy(overlay["httpsProxy"])
    # The emulator's names, tenant, subscription and region over the Stack's; the profile stays the project's.
    settings = _stack_settings({**stack, **{key: overlay[key] for key in STACK_KEYS if key in overlay}}, root)
    settings.update(disable_instance_discovery=bool(overlay.get("disableInstanceDiscovery", True)),
                    ca_cert=Path(overlay["caCert"]) if overlay.get("caCert") else None)
    return StackConfig(client_id=overlay["clientId"], client_secret=remember(overlay["clientSecret"]), **settings)


def use_emulator_proxy(proxy: str) -> None:
    """Send this process's requests through the emulator's proxy, which maps the emulated Stack's names (only this
    process's: package installs never go through it)."""
    for name in ("NO_PROXY", "no_proxy", "https_proxy"):
        os.environ.pop(name, None)
    os.environ["HTTPS_PROXY"] = proxy


def missing_credentials(root: Path) -> ConfigError:
    """What to do when there is no service principal file, as in a teammate's clone (the file is git-ignored)."""
    certificate = recorded_answer(root, "auth_method") == "certificate"
    name, client_id = CERT_FILE if certificate else SECRET_FILE, recorded_answer(root, "client_id") or "<its application id>"
    keys = (f'"certPath": "{recorded_answer(root, "certificate_path") or "<its PEM file>"}", "certPass": "<its password, '
            'or empty>"' if certificate else '"clientSecret": "<the service principal\'s secret>"')
    private = "only your account may read it" if os.name == "nt" else f"chmod 600 {name}"
    return ConfigError(f"{name} is missing (it holds the service principal's credentials and is git-ignored, so a clone "
                       f"has none): create it, private ({private}), holding {{\"clientId\": \"{client_id}\", {keys}}}, "
                       "or ask whoever generated the project for it (README.md: A teammate's clone)")


def load_config(root: Path = ROOT) -> StackConfig:
    """The project's settings: ``stack.json`` and the service principal file under ``root`` (or, when
    ``AZS_EMULATOR_OVERLAY`` names one, the emulator's overlay instead of the service principal file)."""
    stack = read_json(root / "stack.json")
    if os.environ.get(OVERLAY_ENV):
        return _emulator_config(stack, Path(os.environ[OVERLAY_ENV]), root)
    secret_path, cert_path = root / SECRET_FILE, root / CERT_FILE
    if not any(os.path.lexists(path) for path in (secret_path, cert_path)):
        raise missing_credentials(root)
    sp_path = cert_path if cert_path.exists() and not secret_path.exists() else secret_path
    sp = read_json(sp_path)
    _require(sp, ("clientId",), sp_path.name)
    warnings = []
    if os.name != "nt" and stat.S_IMODE(sp_path.stat().st_mode) & 0o077:
        warnings.append(f"{sp_path.name} is readable by others; run: chmod 600 {sp_path.name}")
    for warning in warnings:
        print(f"warning: {warning}", file=sys.stderr)
    config = StackConfig(client_id=sp["clientId"], object_id=sp.get("objectId") or None, warnings=warnings,
                         **_stack_settings(stack, root))
    if sp_path.name == CERT_FILE:
        _require(sp, ("certPath",), sp_path.name)
        certificate = Path(sp["certPath"])
        config.certificate_path = str(certificate if certificate.is_absolute() else root / certificate)
        config.certificate_password = remember(sp.get("certPass") or None)
    else:
        config.client_secret = remember(sp.get("clientSecret") or os.environ.get(SECRET_ENV) or None)
        if not config.client_secret:
            raise ConfigError(f"no client secret: set clientSecret in {SECRET_FILE} or the {SECRET_ENV} environment variable")
    return config
