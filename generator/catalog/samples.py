"""The samples of a generated project and what each needs: packages, management clients, resource providers, and
the Resource Manager actions it performs (with the least built-in role that allows them)."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import KW_ONLY, dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

from generator.catalog.packages import BASE_PACKAGES, PINS, Pin
from generator.catalog.profiles import CLIENTS, CatalogError, profile

if TYPE_CHECKING:
    from generator.catalog.lock import Locked

@dataclass(frozen=True)
class Sample:
    """A sample script of the generated project and what it needs."""

    name: str
    title: str  # what copier's ``samples`` question shows for it (copier.yml takes the choices from here)
    clients: tuple[str, ...]
    providers: tuple[str, ...]  # resource providers to register before it runs
    packages: tuple[str, ...] = ()  # what it imports beside its management clients (data-plane packages)
    actions: tuple[str, ...] = ()  # the Resource Manager actions it performs (beside registering its providers)
    _: KW_ONLY
    # The generated README's row: what it does (``{storage_data_api_version}`` and ``{keyvault_data_api_version}``
    # are the profile's), and how long it takes on an emulator / on a Stack.
    description: str
    duration: str

    @property
    def needed_actions(self) -> tuple[str, ...]:
        """Every action the sample needs, its providers' registration (``register_providers.py``) included."""
        return (*_GROUP_ACTIONS, *self.actions, *(f"{provider}/register/action" for provider in self.providers))


@dataclass(frozen=True)
class Role:
    """A built-in role as every Azure and Azure Stack Hub defines it (the generator's own copy, never the emulator's)."""

    name: str
    actions: tuple[str, ...]
    not_actions: tuple[str, ...] = ()

    def allows(self, action: str) -> bool:
        def matches(patterns: tuple[str, ...]) -> bool:
            return any(fnmatch.fnmatchcase(action.lower(), pattern.lower()) for pattern in patterns)
        return matches(self.actions) and not matches(self.not_actions)


# Least to most, so that the first that allows an action is the one to ask for.
ROLES = (
    Role("Reader", ("*/read",)),
    Role("Contributor", ("*",), ("Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write",
                                 "Microsoft.Authorization/elevateAccess/Action")),
    Role("Owner", ("*",)),
)
# Every sample makes its own resource group and deletes it afterwards.
_GROUP_ACTIONS = ("Microsoft.Resources/subscriptions/resourceGroups/write", "Microsoft.Resources/subscriptions/resourceGroups/delete")


SAMPLES: Mapping[str, Sample] = MappingProxyType(
    {
        s.name: s
        for s in (
            Sample(
                "resource_groups",
                "Resource groups: create, tag, a Key Vault as a generic resource, export, delete",
                ("ResourceManagementClient",),
                ("Microsoft.KeyVault",),
                actions=("Microsoft.KeyVault/vaults/write", "Microsoft.Resources/subscriptions/resourceGroups/exportTemplate/action"),
                   description="a resource group: create, tag; a key vault as a generic resource; export the group's template; delete",
                   duration="seconds / about a minute"),
            Sample("storage_accounts", "Storage accounts: check a name, create, list keys, delete",
                   ("ResourceManagementClient", "StorageManagementClient"), ("Microsoft.Storage",),
                   actions=("Microsoft.Storage/storageAccounts/write", "Microsoft.Storage/storageAccounts/listKeys/action",
                            "Microsoft.Storage/storageAccounts/delete"),
                   description="a storage account: check the name, create, list keys (names only), list, delete",
                   duration="seconds / one to two minutes"),
            Sample("virtual_networks", "Virtual networks and subnets: create, list, delete",
                   ("ResourceManagementClient", "NetworkManagementClient"), ("Microsoft.Network",),
                   actions=("Microsoft.Network/virtualNetworks/write", "Microsoft.Network/virtualNetworks/delete"),
                   description="a virtual network with subnets: create, list, delete",
                   duration="seconds / about a minute"),
            Sample("virtual_machines", "Virtual machines: a Linux VM from the Stack's marketplace, disks, SSH key sign-in, power "
                   "actions", ("ResourceManagementClient", "NetworkManagementClient", "ComputeManagementClient"),
                   ("Microsoft.Network", "Microsoft.Compute"),
                   actions=("Microsoft.Network/virtualNetworks/write", "Microsoft.Network/publicIPAddresses/write",
                            "Microsoft.Network/networkSecurityGroups/write", "Microsoft.Network/networkInterfaces/write",
                            "Microsoft.Compute/virtualMachines/write", "Microsoft.Compute/virtualMachines/start/action",
                            "Microsoft.Compute/virtualMachines/powerOff/action", "Microsoft.Compute/virtualMachines/delete",
                            "Microsoft.Compute/disks/delete"),
                   description="a Linux VM from an image the Stack's marketplace offers (found, not assumed), with a virtual network, public "
                               "IP, network security group and NIC, a managed OS disk and an empty data disk, SSH-key sign-in (key pair made "
                               "once in the git-ignored `.ssh/`, private key mode 0600); instance view; power off, start, restart, deallocate;"
                               " list; delete",
                   duration="about a minute / ten to twenty minutes"),
            Sample("key_vault", "Key Vault: a vault with an access policy for the service principal, secrets set, read, "
                   "versioned, deleted", ("ResourceManagementClient", "KeyVaultManagementClient"), ("Microsoft.KeyVault",),
                   packages=("azure-keyvault-secrets",),
                   actions=("Microsoft.KeyVault/vaults/write", "Microsoft.KeyVault/vaults/delete"),
                   description="a key vault with an access policy for this service principal (its object id from its token, or `objectId` in "
                               "the service principal file), then secrets: set, get, a second version, list versions, delete (purge where the "
                               "vault keeps deleted secrets); values never printed. The data plane uses api-version "
                               "`{keyvault_data_api_version}` (no profile covers it)",
                   duration="seconds / one to two minutes"),
            Sample("blob_storage", "Blobs (the storage data plane): upload, list, download, metadata, copy, snapshot, lease, "
                   "page blob, a SAS", ("ResourceManagementClient", "StorageManagementClient"),
                   ("Microsoft.Storage",), packages=("azure-storage-blob", "six"),
                   actions=("Microsoft.Storage/storageAccounts/write", "Microsoft.Storage/storageAccounts/listKeys/action",
                            "Microsoft.Storage/storageAccounts/delete"),
                   description="blobs in a new storage account: a container, upload, list by prefix, download and compare, a read-only SAS URL"
                               " valid for five seconds that reads the blob and is then refused, metadata, a server-side copy and a snapshot, "
                               "a lease that guards writes, a page blob (what a VM's VHD is), delete; signed with the account's key (a Stack's"
                               " blob service takes no Azure AD tokens) at service version `{storage_data_api_version}` (no profile covers the"
                               " data plane; it is a Stack's newest)",
                   duration="seconds / one to two minutes"),
            Sample("template_deployment", "Template deployment: an ARM template from templates/, validated, deployed, its outputs",
                   ("ResourceManagementClient",), ("Microsoft.Storage", "Microsoft.Network"),
                   actions=("Microsoft.Resources/deployments/validate/action", "Microsoft.Resources/deployments/write",
                            "Microsoft.Storage/storageAccounts/write", "Microsoft.Network/virtualNetworks/write"),
                   description="the ARM template `templates/storage_and_network.json` with `templates/storage_and_network.parameters.json` (a "
                               "storage account and a virtual network; edit them, or pass other files as arguments): validate, deploy "
                               "(Incremental), show outputs and operations",
                   duration="seconds / a few minutes"),
        )
    }
)
DEFAULT_SAMPLES = tuple(SAMPLES)


def sample_names(text: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Validated sample names from a comma-separated string or a list, in catalog order."""
    names = [n.strip() for n in (text.split(",") if isinstance(text, str) else text) if n.strip()]
    unknown = [n for n in names if n not in SAMPLES]
    if unknown or not names:
        raise CatalogError(
            f"unknown sample(s) {', '.join(unknown) or '(none given)'}: choose from {', '.join(SAMPLES)}"
        )
    return tuple(n for n in SAMPLES if n in names)


def packages_for(samples: tuple[str, ...], profile_name: str) -> list[Pin]:
    """The exact pins a project with these samples needs on this profile (base packages included), by name."""
    needed = set(BASE_PACKAGES)
    for name in samples:
        needed.update(SAMPLES[name].packages)
        for client in SAMPLES[name].clients:
            needed.update((CLIENTS[client].package, *CLIENTS[client].extra_packages))
    profile(profile_name)  # refuses a profile the catalog does not know
    missing = needed - set(PINS)
    if missing:
        raise CatalogError(f"the catalog pins no release of {', '.join(sorted(missing))} for {profile_name}")
    return [PINS[p] for p in sorted(needed)]


def locked_for(samples: tuple[str, ...], profile_name: str) -> list[Locked]:
    """The lock's share a project with these samples installs on this profile: its pins and everything under them,
    each entry with the sha256 of every file (what its requirements.txt holds, in hash-checking mode)."""
    from generator.catalog.lock import share_of

    return share_of(pin.package for pin in packages_for(samples, profile_name))


def clients_for(samples: tuple[str, ...]) -> list[str]:
    """The management clients these samples use, in order of first need."""
    ordered: list[str] = []
    for name in samples:
        ordered.extend(c for c in SAMPLES[name].clients if c not in ordered)
    return ordered


def providers_for(samples: tuple[str, ...]) -> list[str]:
    """The resource providers to register for these samples, in order of first need."""
    ordered: list[str] = []
    for name in samples:
        ordered.extend(p for p in SAMPLES[name].providers if p not in ordered)
    return ordered


def minimal_role(sample: str) -> str:
    """The least built-in role on the subscription that lets ``sample`` (and its registration step) run."""
    needed = SAMPLES[sample].needed_actions
    return next(role.name for role in ROLES if all(role.allows(action) for action in needed))


def role_for_action(action: str) -> str:
    """The least built-in role that grants ``action``."""
    return next((role.name for role in ROLES if role.allows(action)), ROLES[-1].name)


def refused_actions(sample: str, roles: list[str]) -> list[str]:
    """The actions of ``sample`` that none of ``roles`` (built-in role names held on the subscription) allows; an
    unknown (custom) role counts as allowing everything, since its actions are not known here."""
    held = [role for role in ROLES if role.name.lower() in {r.lower() for r in roles}]
    if any(r.lower() not in {role.name.lower() for role in ROLES} for r in roles):
        return []
    return [action for action in SAMPLES[sample].needed_actions if not any(role.allows(action) for role in held)]
