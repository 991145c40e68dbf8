"""How an emulator is set up, and the facts every service derives from that."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from azs_emulator.api_tables import AZURE, ApiTable, api_table_for, build_for, is_valid_build, is_valid_release
from azs_emulator.connections import KEEP_ALIVE_SECONDS, WORKERS
from azs_emulator.errors import EmulatorUsageError
from azs_emulator.faults import FaultPlan
from azs_emulator.state import EmulatorState

AZURE_AD = "azure_ad"
ADFS = "adfs"
IDENTITY_SYSTEMS = (AZURE_AD, ADFS)
# The operator's Resource Manager in the loopback layout (in the names layout: adminmanagement.<region>.<fqdn>).
ADMIN_PREFIX = "/admin"


# Layouts: a Stack's own host names behind the emulator's HTTPS proxy (as clients reach a Stack behind a
# corporate proxy), or every listener at 127.0.0.1:PORT (several emulators in one process, no proxy needed).
NAMES = "names"
LOOPBACK = "loopback"
LAYOUTS = (NAMES, LOOPBACK)
# The ASDK's region and external domain.
DEFAULT_REGION = "local"
DEFAULT_FQDN = "azurestack.external"
# Built-in roles the emulator's service principal may be given on its subscription (--role).
PRINCIPAL_ROLES = ("Owner", "Contributor", "Reader", "User Access Administrator")
_DNS_LABEL = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")


@dataclass
class EmulatorConfig:
    """Options of one emulator; the defaults are what ``azs-scaffold emulator`` uses."""

    host: str = "127.0.0.1"
    port: int = 0
    release: str = "2108"
    identity_system: str = AZURE_AD
    state_dir: str | None = None
    allow_remote: bool = False
    registration_delay: float = 1.0
    token_lifetime: int = 3600
    page_size: int = 5
    faults: FaultPlan = field(default_factory=FaultPlan)
    # PEM certificates the service principal may also sign in with (client assertions).
    client_certificates: list[str] = field(default_factory=list)
    # NAMES: a Stack's host names (management.<region>.<fqdn>, ...) reached through the emulator's proxy;
    # LOOPBACK: every listener at 127.0.0.1:PORT.
    layout: str = NAMES
    region: str = DEFAULT_REGION
    fqdn: str = DEFAULT_FQDN
    # Port of the HTTPS proxy that maps the Stack's names to the listeners (names layout; 0: any free one).
    proxy_port: int = 0
    # Loopback layout only: one listener for everything (sign-in on the Stack's host and CA).
    single_host: bool = False
    # Where the stand-in public CA of Azure AD's sign-in host is kept (public-ca.pem/.key; made if missing):
    # share one among emulators to trust it once, as certifi is trusted once. Default: the state directory.
    public_ca_dir: str | None = None
    # Port of the sign-in listener (0: any free one; with --state-dir, the one used before).
    identity_port: int = 0
    # The built-in role the service principal holds on its subscription; ARM enforces it.
    role: str = "Owner"
    # Seconds an idle keep-alive connection (or proxy tunnel) is kept before it is closed.
    keep_alive_timeout: float = KEEP_ALIVE_SECONDS
    # Requests answered at once (one thread each); more wait in a backlog, and past it are answered 503.
    workers: int = WORKERS
    # The build the operator's update API reports (default: the release's initial build). A build also decides what
    # hotfixes changed: AD FS expands the ``.default`` scope from 1.2108.2.130 (api_tables.adfs_expands_default_scope).
    build: str | None = None

    def validate(self) -> None:
        """Refuse options that cannot work, with a message that says what to change."""
        if not is_valid_release(self.release):
            raise EmulatorUsageError(
                f"unknown --release {self.release!r}: give a release as YYMM from 1904 on "
                "(e.g. 2008, 2108, 2506) or 'azure' for global Azure"
            )
        if self.build is not None and not is_valid_build(self.build):
            raise EmulatorUsageError(f"unknown build {self.build!r}: give four numbers like 1.2108.2.130")
        if self.identity_system not in IDENTITY_SYSTEMS:
            raise EmulatorUsageError(f"unknown --identity-system {self.identity_system!r}: choose azure_ad or adfs")
        if self.release == AZURE and self.identity_system == ADFS:
            raise EmulatorUsageError("global Azure uses Azure AD: drop --identity-system adfs with --release azure")
        if self.role.lower() not in {r.lower() for r in PRINCIPAL_ROLES}:
            raise EmulatorUsageError(f"unknown --role {self.role!r}: choose {', '.join(PRINCIPAL_ROLES)}")
        if self.layout not in LAYOUTS:
            raise EmulatorUsageError(f"unknown --layout {self.layout!r}: choose names or loopback")
        if self.single_host and self.layout != LOOPBACK:
            raise EmulatorUsageError("--single-host serves every name on one 127.0.0.1 port: add --layout loopback")
        for option, port in (("--port", self.port), ("--identity-port", self.identity_port), ("--proxy-port", self.proxy_port)):
            if not 0 <= port <= 65535:
                raise EmulatorUsageError(f"{option} {port} is not a TCP port: give 0 (any free port) to 65535")
        if not 0 < self.keep_alive_timeout <= 3600:
            raise EmulatorUsageError(f"--keep-alive-timeout {self.keep_alive_timeout} is out of range: give seconds above 0, at most 3600")
        if not 1 <= self.workers <= 1024:
            raise EmulatorUsageError(f"--workers {self.workers} is out of range: give 1 to 1024")
        if not _DNS_LABEL.match(self.region):
            raise EmulatorUsageError(f"--region {self.region!r} is not a DNS label: use lower-case letters, digits and dashes (e.g. local)")
        labels = self.fqdn.split(".")
        if len(labels) < 2 or not all(_DNS_LABEL.match(label) for label in labels) or len(self.fqdn) > 200:
            raise EmulatorUsageError(f"--fqdn {self.fqdn!r} is not a domain name: give lower-case DNS labels joined by dots "
                             "(e.g. azurestack.external)")
        if not self.allow_remote and not _is_loopback(self.host):
            raise EmulatorUsageError(
                f"refusing to listen on {self.host}: the emulator accepts anyone's requests, so it listens "
                "on loopback only; add --allow-remote if you really mean to expose it"
            )


@dataclass(frozen=True)
class StackNames:
    """The host names a Stack (or global Azure) answers under, as clients address them (port 443)."""

    management: str
    admin_management: str
    sign_in: str
    graph: str  # the directory: Microsoft Graph for Azure AD, the Stack's own graph host for ADFS
    vault_suffix: str  # a vault is <name>.<vault_suffix>
    storage_suffix: str  # an account's blob service is <account>.blob.<storage_suffix>

    def vault_host(self, vault: str) -> str:
        return f"{vault.lower()}.{self.vault_suffix}"


def stack_names(config: EmulatorConfig) -> StackNames:
    """A Stack's names: ``management.<region>.<fqdn>`` and its siblings; global Azure's own for ``azure``."""
    if config.release == AZURE:
        return StackNames("management.azure.com", "adminmanagement.azure.com", "login.microsoftonline.com", "graph.microsoft.com",
                          "vault.azure.net", "core.windows.net")
    domain = f"{config.region}.{config.fqdn}"
    # Azure AD Stacks sign in at Microsoft's own host; only clients pointed at the emulator's proxy reach this one.
    adfs = config.identity_system == ADFS
    sign_in, graph = (f"adfs.{domain}", f"graph.{domain}") if adfs else ("login.microsoftonline.com", "graph.microsoft.com")
    return StackNames(f"management.{domain}", f"adminmanagement.{domain}", sign_in, graph, f"vault.{domain}", domain)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Addresses:
    """Where a running emulator is reached: base URLs without a trailing slash, and the data-plane suffixes."""

    arm: str  # the tenant Resource Manager
    admin: str  # the operator's Resource Manager
    identity: str  # sign-in: login.microsoftonline.com (Azure AD) or adfs.<region>.<fqdn>
    graph: str  # the directory: graph.microsoft.com (Azure AD) or graph.<region>.<fqdn> (ADFS)
    vault_suffix: str  # what the metadata names as keyVaultDns
    storage_suffix: str  # what the metadata names as the storage suffix
    public_ip_suffix: str  # a public IP's DNS label is <label>.<public_ip_suffix> (<region>.cloudapp.<fqdn> on a Stack)
    vault_url: Callable[[str], str]  # a vault's data-plane base URL, from its name


class EmulatorContext:
    """The running emulator's facts, shared by its services."""

    def __init__(self, config: EmulatorConfig, state: EmulatorState, addresses: Addresses) -> None:
        self.config = config
        self.state = state
        self.addresses = addresses
        self.base_url = addresses.arm
        self.identity_base_url = addresses.identity
        # The service principal's object id in the directory (the ``oid`` of its tokens); a state older than it gets one on load.
        self.service_principal_object_id = state.data["object_id"]
        self.release = config.release
        self.api_table: ApiTable = api_table_for(config.release)
        self.build = (config.build or build_for(config.release)) if config.release != AZURE else None

    @property
    def is_adfs(self) -> bool:
        return self.config.identity_system == ADFS

    def arm_base(self, admin: bool = False) -> str:
        """The base URL of the tenant (or operator's) Resource Manager."""
        return self.addresses.admin if admin else self.addresses.arm

    @property
    def arm_endpoint(self) -> str:
        return f"{self.addresses.arm}/"

    @property
    def admin_endpoint(self) -> str:
        return f"{self.addresses.admin}/"

    @property
    def login_endpoint(self) -> str:
        return f"{self.identity_base_url}/adfs" if self.is_adfs else f"{self.identity_base_url}/"

    @property
    def keyvault_dns_suffix(self) -> str:
        """What the metadata names as Key Vault's DNS suffix: ``vault.<region>.<fqdn>`` on a Stack."""
        return self.addresses.vault_suffix

    @property
    def storage_suffix(self) -> str:
        """What the metadata names as the storage suffix: ``<region>.<fqdn>`` on a Stack."""
        return self.addresses.storage_suffix

    @property
    def graph_audience(self) -> str:
        """The audience of directory tokens: the graph host, with its trailing slash, as metadata's graphAudience says."""
        return f"{self.addresses.graph}/"

    @property
    def vault_audience(self) -> str:
        """The audience of Key Vault data-plane tokens (the ``resource`` of its challenge)."""
        return f"https://{self.keyvault_dns_suffix}"

    def vault_uri(self, name: str) -> str:
        """A vault's data-plane URI: ``https://<name>.<keyVaultDns>/`` (in the loopback layout, a port of its own)."""
        return f"{self.addresses.vault_url(name)}/"

    def audience(self, admin: bool = False) -> str:
        """The token audience of the tenant (or admin) Resource Manager, as a Stack's metadata names it: an
        identifier, not an address (Azure AD: ``https://management.<directory>/<app id>``; ADFS:
        ``https://management.adfs.azurestack.local/<app id>``; global Azure: ``https://management.core.windows.net/``)."""
        data = self.state.data
        prefix = "adminmanagement" if admin else "management"
        app_id = data["admin_audience_app_id" if admin else "audience_app_id"]
        if self.release == AZURE:
            return f"https://{prefix}.core.windows.net/" + (app_id if admin else "")
        domain = "adfs.azurestack.local" if self.is_adfs else data["tenant_domain"]
        return f"https://{prefix}.{domain}/{app_id}"

    def authorization_uri(self) -> str:
        if self.is_adfs:
            return f"{self.identity_base_url}/adfs"
        return f"{self.identity_base_url}/{self.state.data['tenant_id']}"
