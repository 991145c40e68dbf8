"""How an emulator is set up, and the facts every service derives from that."""

from __future__ import annotations

import ipaddress
import uuid
from dataclasses import dataclass, field
from typing import Callable

from generator.emulator.api_tables import AZURE, ApiTable, api_table_for, build_for, is_valid_release
from generator.emulator.faults import FaultPlan
from generator.emulator.state import EmulatorState
from generator.errors import UsageError

AZURE_AD = "azure_ad"
ADFS = "adfs"
IDENTITY_SYSTEMS = (AZURE_AD, ADFS)
ADMIN_PREFIX = "/admin"


@dataclass
class EmulatorConfig:
    """Options of one emulator; the defaults are what ``azs-scaffold emulator`` uses."""

    host: str = "127.0.0.1"
    port: int = 0
    stack_version: str = "2108"
    identity: str = AZURE_AD
    state_dir: str | None = None
    allow_remote: bool = False
    registration_delay: float = 1.0
    token_lifetime: int = 3600
    page_size: int = 5
    faults: FaultPlan = field(default_factory=FaultPlan)
    # PEM certificates the service principal may also sign in with (client assertions).
    client_certificates: list[str] = field(default_factory=list)
    # One listener for everything (the layout before real topologies): sign-in on the Stack's host and CA.
    single_host: bool = False
    # Where the stand-in public CA of Azure AD's sign-in host is kept (public-ca.pem/.key; made if missing):
    # share one among emulators to trust it once, as certifi is trusted once. Default: the state directory.
    public_ca_dir: str | None = None
    # Port of the sign-in listener (0: any free one; with --state-dir, the one used before).
    identity_port: int = 0

    def validate(self) -> None:
        """Refuse options that cannot work, with a message that says what to change."""
        if not is_valid_release(self.stack_version):
            raise UsageError(
                f"unknown --stack-version {self.stack_version!r}: give a release as YYMM from 1904 on "
                "(e.g. 2008, 2108, 2506) or 'azure' for global Azure"
            )
        if self.identity not in IDENTITY_SYSTEMS:
            raise UsageError(f"unknown --identity {self.identity!r}: choose azure_ad or adfs")
        if self.stack_version == AZURE and self.identity == ADFS:
            raise UsageError("global Azure uses Azure AD: drop --identity adfs with --stack-version azure")
        for option, port in (("--port", self.port), ("--identity-port", self.identity_port)):
            if not 0 <= port <= 65535:
                raise UsageError(f"{option} {port} is not a TCP port: give 0 (any free port) to 65535")
        if not self.allow_remote and not _is_loopback(self.host):
            raise UsageError(
                f"refusing to listen on {self.host}: the emulator accepts anyone's requests, so it listens "
                "on loopback only; add --allow-remote if you really mean to expose it"
            )


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class EmulatorContext:
    """The running emulator's facts, shared by its services."""

    def __init__(self, config: EmulatorConfig, state: EmulatorState, base_url: str, identity_base_url: str | None = None,
                 vault_host: Callable[[str], str] | None = None) -> None:
        self.config = config
        self.state = state
        self.base_url = base_url  # https://host:port of Resource Manager, no trailing slash
        # https://host:port of sign-in: its own listener, as login.microsoftonline.com or adfs.<region>.<fqdn> are.
        self.identity_base_url = identity_base_url or base_url
        # A vault's data-plane https://host:port (<vault>.vault.<region>.<fqdn> on a Stack), opened on demand.
        self._vault_host = vault_host
        # The service principal's object id in the directory (the ``oid`` of its tokens); older states lack it.
        self.service_principal_object_id = state.data.setdefault("object_id", str(uuid.uuid4()))
        self.release = config.stack_version
        self.api_table: ApiTable = api_table_for(config.stack_version)
        self.build = build_for(config.stack_version) if config.stack_version != AZURE else None

    @property
    def is_adfs(self) -> bool:
        return self.config.identity == ADFS

    @property
    def arm_endpoint(self) -> str:
        return f"{self.base_url}/"

    @property
    def admin_endpoint(self) -> str:
        return f"{self.base_url}{ADMIN_PREFIX}/"

    @property
    def login_endpoint(self) -> str:
        return f"{self.identity_base_url}/adfs" if self.is_adfs else f"{self.identity_base_url}/"

    @property
    def host(self) -> str:
        return self.base_url.split("://", 1)[1].rsplit(":", 1)[0].strip("[]")

    @property
    def keyvault_dns_suffix(self) -> str:
        """What the metadata names as Key Vault's DNS suffix: ``vault.<region>.<fqdn>`` on a Stack."""
        return "vault.azure.net" if self.release == AZURE else f"vault.{self.host}"

    @property
    def vault_audience(self) -> str:
        """The audience of Key Vault data-plane tokens (the ``resource`` of its challenge)."""
        return f"https://{self.keyvault_dns_suffix}"

    def vault_uri(self, name: str) -> str:
        """A vault's data-plane URI. A real one is ``https://<name>.<keyVaultDns>/``; such names do not resolve on
        loopback, so each emulated vault has a host (port) of its own."""
        if self._vault_host is None:
            raise RuntimeError("this emulator serves no Key Vault data plane")
        return f"{self._vault_host(name)}/"

    def audience(self, admin: bool = False) -> str:
        """The token audience of the tenant (or admin) Resource Manager."""
        data = self.state.data
        if admin:
            return f"{self.base_url}{ADMIN_PREFIX}/{data['admin_audience_app_id']}"
        return f"{self.base_url}/{data['audience_app_id']}"

    def authorization_uri(self) -> str:
        if self.is_adfs:
            return f"{self.identity_base_url}/adfs"
        return f"{self.identity_base_url}/{self.state.data['tenant_id']}"
