"""The catalog: every fact the generator decides with, as data in one place.

- which API version each management client sends under each profile;
- which profile each Azure Stack Hub release needs (adding a release is one line in ``STACK_RELEASES``);
- the exact package set that still honours the profiles, with the reason for each pin, and beside the pins
  their lock (``generator/catalog/pins.lock``, read by ``generator/catalog/lock.py``): everything they install, hashed;
- what each sample needs: packages, clients and resource providers.

Beside it: ``lock`` (the lock's reader), ``pins`` (``python -m generator.catalog.pins``: docs/pins.md, the lock, the
wire probe of candidate releases) and ``_pin_probe`` (that probe, run by a candidate venv's Python).

Sources: Microsoft's Azure Stack Hub profile tables, ``azure.profiles.KnownProfiles`` in
azure-common 1.1.28, and wire tests of each pinned package against the emulator.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING

from generator.errors import ScaffoldError

if TYPE_CHECKING:
    from generator.catalog.lock import Locked

__all__ = [
    "BASE_PACKAGES",
    "CLIENTS",
    "CatalogError",
    "ClientSpec",
    "DEFAULT_SAMPLES",
    "HYBRID_2019",
    "HYBRID_2020",
    "LATEST",
    "PINS",
    "PROFILES",
    "Pin",
    "Profile",
    "ROLES",
    "Role",
    "SAMPLES",
    "STACK_RELEASES",
    "STORAGE_DATA_API_VERSION",
    "Sample",
    "clients_for",
    "locked_for",
    "minimal_role",
    "packages_for",
    "parse_release",
    "profile",
    "profile_for_release",
    "providers_for",
    "refused_actions",
    "role_for_action",
    "sample_names",
]

LATEST = "latest"
HYBRID_2020 = "2020_09_01_hybrid"
HYBRID_2019 = "2019_03_01_hybrid"


@dataclass(frozen=True)
class ClientSpec:
    """A management client, the package it comes from, and the resource type its version shows on."""

    name: str
    package: str
    module: str
    namespace: str
    marker_type: str  # a resource type whose served api-versions tell whether a Stack speaks this client's version
    extra_packages: tuple[str, ...] = ()  # what the pinned release imports without declaring it


CLIENTS: Mapping[str, ClientSpec] = MappingProxyType(
    {
        c.name: c
        for c in (
            ClientSpec("ResourceManagementClient", "azure-mgmt-resource", "azure.mgmt.resource", "Microsoft.Resources",
                       "resourceGroups"),
            ClientSpec("SubscriptionClient", "azure-mgmt-resource", "azure.mgmt.resource", "Microsoft.Resources",
                       "subscriptions"),
            ClientSpec("StorageManagementClient", "azure-mgmt-storage", "azure.mgmt.storage", "Microsoft.Storage", "storageAccounts"),
            ClientSpec("NetworkManagementClient", "azure-mgmt-network", "azure.mgmt.network", "Microsoft.Network", "virtualNetworks"),
            ClientSpec("KeyVaultManagementClient", "azure-mgmt-keyvault", "azure.mgmt.keyvault", "Microsoft.KeyVault", "vaults"),
            ClientSpec("ComputeManagementClient", "azure-mgmt-compute", "azure.mgmt.compute", "Microsoft.Compute", "virtualMachines"),
        )
    }
)


STORAGE_DATA_API_VERSION = "2019-07-07"


@dataclass(frozen=True)
class Profile:
    """An API version profile: the version each client sends under it."""

    name: str
    known_profile: str  # the attribute of azure.profiles.KnownProfiles
    api_versions: Mapping[str, str]  # client name -> api-version
    # Key Vault's data plane (azure-keyvault-secrets): no profile covers it, so the project passes this
    # api_version explicitly (the SDK's default is global Azure's newest, which a Stack refuses).
    keyvault_data_api_version: str = "2016-10-01"
    # The storage data plane (azure-storage-blob) has no profile either. Microsoft's "Azure Stack Hub storage:
    # Differences and considerations" lists the service versions each release serves: 2019-07-07 is the newest
    # on 2008 and every later release (2005: 2019-02-02); global Azure serves it too.
    storage_data_api_version: str = STORAGE_DATA_API_VERSION

    def required_versions(self) -> dict[tuple[str, str], str]:
        """(namespace, resource type) -> the api-version a Stack must serve for this profile."""
        return {
            (CLIENTS[c].namespace, CLIENTS[c].marker_type): v
            for c, v in self.api_versions.items()
            if c in CLIENTS
        }


# Newest first: evidence from a provider list picks the first profile that fits.
PROFILES: Mapping[str, Profile] = MappingProxyType(
    {
        LATEST: Profile(  # global Azure: each client's newest API version
            LATEST,
            "latest",
            # What the pinned packages send under KnownProfiles.latest (measured against the emulator).
            MappingProxyType({
                "ResourceManagementClient": "2025-04-01",
                "SubscriptionClient": "2022-12-01",
                "StorageManagementClient": "2024-01-01",
                "NetworkManagementClient": "2024-03-01",
                "KeyVaultManagementClient": "2023-07-01",
            }),
            # A stable version global Azure serves; the SDK's own default moves with every release.
            keyvault_data_api_version="7.6",
        ),
        HYBRID_2020: Profile(  # Azure Stack Hub 2102 and later
            HYBRID_2020,
            "v2020_09_01_hybrid",
            MappingProxyType({
                "ResourceManagementClient": "2019-10-01",
                "SubscriptionClient": "2016-06-01",
                "StorageManagementClient": "2019-06-01",
                "NetworkManagementClient": "2018-11-01",
                "KeyVaultManagementClient": "2019-09-01",
                "ComputeManagementClient": "2020-06-01",
            }),
        ),
        HYBRID_2019: Profile(  # Azure Stack Hub 1904 to 2008
            HYBRID_2019,
            "v2019_03_01_hybrid",
            MappingProxyType({
                "ResourceManagementClient": "2018-05-01",
                "SubscriptionClient": "2016-06-01",
                "StorageManagementClient": "2017-10-01",
                "NetworkManagementClient": "2017-10-01",
                "KeyVaultManagementClient": "2016-10-01",
                "ComputeManagementClient": "2017-12-01",
            }),
        ),
    }
)

# Azure Stack Hub release (YYMM) -> profile. One line per release.
STACK_RELEASES: Mapping[str, str] = MappingProxyType(
    {
        "1904": HYBRID_2019,
        "1907": HYBRID_2019,
        "1908": HYBRID_2019,
        "1910": HYBRID_2019,
        "2002": HYBRID_2019,
        "2005": HYBRID_2019,
        "2008": HYBRID_2019,
        "2102": HYBRID_2020,
        "2108": HYBRID_2020,
        "2206": HYBRID_2020,
        "2301": HYBRID_2020,
        "2306": HYBRID_2020,
        "2311": HYBRID_2020,
        "2406": HYBRID_2020,
        "2408": HYBRID_2020,
        "2501": HYBRID_2020,
        "2506": HYBRID_2020,
        "2601": HYBRID_2020,  # build 1.2601.0.4 (Dell's OEM release artifacts; no newer hybrid profile exists)
    }
)


@dataclass(frozen=True)
class Pin:
    """One exact package pin and why it is exactly that release."""

    package: str
    version: str  # the newest release proven (python -m generator.catalog.pins verify), unless the reason says otherwise
    reason: str
    oldest: str = ""  # the oldest release proven the same way ("" where not measured)
    breaks: str = ""  # the first release after ``version`` that fails, and how

    @property
    def requirement(self) -> str:
        return f"{self.package}=={self.version}"


# One package set serves all three profiles: these releases still carry the hybrid API versions
# and honour ``profile=``; the next release of each does not.
PINS: Mapping[str, Pin] = MappingProxyType(
    {
        p.package: p
        for p in (
            Pin("azure-identity", "1.27.0", "the newest release; signs in on Azure AD and ADFS Stacks without asking "
                "login.microsoftonline.com (disable_instance_discovery)", oldest="1.13.0",
                breaks="none newer yet; 1.12.0 and older have no disable_instance_discovery: MSAL asks "
                "login.microsoftonline.com about the Stack's authority (fails disconnected)"),
            Pin("azure-common", "1.1.28", "provides azure.profiles.KnownProfiles; newer mgmt packages no longer depend on it"),
            Pin("azure-mgmt-resource", "24.0.0", "the newest release that carries 2019-10-01 and 2018-05-01 and honours "
                "profile= (25.0.0 dropped them); proven on the wire against the emulator for all three profiles. The oldest "
                "that works is 16.1.0 (15.0.0 uses another profile tag and silently ignores profiles), but it needs six and "
                "the retired msrest, and is four years older", oldest="16.1.0 (15.0.0 ignores profiles: another profile tag)",
                breaks="25.0.0: sends 2025-04-01 under both hybrid profiles, and moved SubscriptionClient out"),
            Pin("azure-mgmt-storage", "22.2.0", "last release with 2019-06-01 and 2017-10-01 and profile=; 23.0.0 dropped them",
                oldest="16.0.0 (hybrid profiles)", breaks="23.0.0: sends 2024-01-01 under both hybrid profiles"),
            Pin("azure-mgmt-network", "27.0.0", "last release with 2018-11-01 and 2017-10-01 and profile=; 28.0.0 dropped them",
                oldest="16.0.0 (hybrid profiles; not contiguous: 23.0.0 sends 2022-09-01 under 2019_03_01_hybrid)",
                breaks="28.0.0: sends 2024-03-01 under both hybrid profiles"),
            Pin("azure-mgmt-keyvault", "10.3.1", "last release with 2019-09-01 and 2016-10-01 and profile=; 11.0.0 dropped 2019-09-01",
                oldest="7.0.0", breaks="11.0.0: has no 'vaults' operations at 2019-09-01 (2020_09_01_hybrid)"),
            Pin("azure-mgmt-compute", "35.0.0", "last release with 2020-06-01 and 2017-12-01 and profile=; 36.0.0 dropped them",
                oldest="17.0.0 (hybrid profiles)", breaks="36.0.0: sends 2024-11-01 under both hybrid profiles"),
            Pin("azure-keyvault-secrets", "4.12.0", "Key Vault's data plane, which no profile covers: the project passes "
                "api_version (2016-10-01 on a Stack, both hybrid profiles name it for the data plane) and keeps the "
                "challenge check on (a vault's host ends in the Stack's vault audience); 4.8.0 is the first that answers an "
                "ADFS challenge", oldest="4.8.0 (ADFS challenges)",
                breaks="none newer yet; a release that drops api_version 2016-10-01 would"),
            Pin("azure-storage-blob", "12.3.1", "the storage data plane, which no profile covers: Microsoft's Stack storage "
                "documentation names 12.3.1 for releases 2008 and later; it speaks service version 2019-07-07 (a Stack's "
                "newest) for requests and for the shared access signatures it signs, which newer releases sign at their own "
                "newer version (a Stack refuses them)", oldest="12.3.1",
                breaks="12.4.0 and newer: shared access signatures carry their own newer signed version (12.9.0: 2020-10-02)"),
            Pin("six", "1.17.0", "azure-storage-blob 12.3.1 imports six without declaring it", oldest="1.17.0",
                breaks="none known"),
        )
    }
)
# Every project needs these, whatever its samples.
BASE_PACKAGES = ("azure-common", "azure-identity")
# One set of pins serves every profile: these releases carry both hybrid profiles' API versions and send
# their newest under ``latest``.


@dataclass(frozen=True)
class Sample:
    """A sample script of the generated project and what it needs."""

    name: str
    title: str
    clients: tuple[str, ...]
    providers: tuple[str, ...]  # resource providers to register before it runs
    packages: tuple[str, ...] = ()  # what it imports beside its management clients (data-plane packages)
    actions: tuple[str, ...] = ()  # the Resource Manager actions it performs (beside registering its providers)

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
                "resource groups: create, tag, a Key Vault as a generic resource, export, delete",
                ("ResourceManagementClient",),
                ("Microsoft.KeyVault",),
                actions=("Microsoft.KeyVault/vaults/write", "Microsoft.Resources/subscriptions/resourceGroups/exportTemplate/action"),
            ),
            Sample("storage_accounts", "storage accounts: check a name, create, list keys, delete",
                   ("ResourceManagementClient", "StorageManagementClient"), ("Microsoft.Storage",),
                   actions=("Microsoft.Storage/storageAccounts/write", "Microsoft.Storage/storageAccounts/listKeys/action",
                            "Microsoft.Storage/storageAccounts/delete")),
            Sample("virtual_networks", "virtual networks and subnets: create, list, delete",
                   ("ResourceManagementClient", "NetworkManagementClient"), ("Microsoft.Network",),
                   actions=("Microsoft.Network/virtualNetworks/write", "Microsoft.Network/virtualNetworks/delete")),
            Sample("virtual_machines", "a Linux VM from the Stack's marketplace with disks, SSH key sign-in, power actions, "
                   "delete", ("ResourceManagementClient", "NetworkManagementClient", "ComputeManagementClient"),
                   ("Microsoft.Network", "Microsoft.Compute"),
                   actions=("Microsoft.Network/virtualNetworks/write", "Microsoft.Network/publicIPAddresses/write",
                            "Microsoft.Network/networkSecurityGroups/write", "Microsoft.Network/networkInterfaces/write",
                            "Microsoft.Compute/virtualMachines/write", "Microsoft.Compute/virtualMachines/start/action",
                            "Microsoft.Compute/virtualMachines/powerOff/action", "Microsoft.Compute/virtualMachines/delete",
                            "Microsoft.Compute/disks/delete")),
            Sample("key_vault", "a key vault with an access policy for the service principal, then secrets: set, get, "
                   "versions, delete", ("ResourceManagementClient", "KeyVaultManagementClient"), ("Microsoft.KeyVault",),
                   packages=("azure-keyvault-secrets",),
                   actions=("Microsoft.KeyVault/vaults/write", "Microsoft.KeyVault/vaults/delete")),
            Sample("blob_storage", "blobs in a storage account: a container, upload, list by prefix, download, a "
                   "read-only SAS that expires, delete", ("ResourceManagementClient", "StorageManagementClient"),
                   ("Microsoft.Storage",), packages=("azure-storage-blob", "six"),
                   actions=("Microsoft.Storage/storageAccounts/write", "Microsoft.Storage/storageAccounts/listKeys/action",
                            "Microsoft.Storage/storageAccounts/delete")),
            Sample("template_deployment", "an ARM template from templates/: validate, deploy, outputs, operations",
                   ("ResourceManagementClient",), ("Microsoft.Storage", "Microsoft.Network"),
                   actions=("Microsoft.Resources/deployments/validate/action", "Microsoft.Resources/deployments/write",
                            "Microsoft.Storage/storageAccounts/write", "Microsoft.Network/virtualNetworks/write")),
        )
    }
)
DEFAULT_SAMPLES = tuple(SAMPLES)


class CatalogError(ScaffoldError):
    """A release, profile or sample the catalog does not know."""


_BUILD = re.compile(r"^1\.([0-9]{4})\.[0-9]+\.[0-9]+$")
_OTHER_BUILD = re.compile(r"^[0-9]{1,9}(\.[0-9]{1,9}){3}$")


def parse_release(text: str) -> tuple[str, str | None]:
    """``(release, build)`` from ``YYMM`` or a build like ``1.2108.2.65`` (build is None for YYMM)."""
    text = text.strip()
    match = _BUILD.match(text)
    if match:
        return match.group(1), text
    if re.fullmatch(r"[0-9]{4}", text) and 1 <= int(text[2:]) <= 12:
        return text, None
    if _OTHER_BUILD.match(text):
        raise CatalogError(
            f"build {text} is not a release build (1.YYMM.x.y; Microsoft's internal test stamps report builds like "
            "9.2222.0.222), so it names no release: give the release as YYMM (e.g. 2108)"
        )
    raise CatalogError(
        f"cannot read Stack version {text!r}: give a release as YYMM (e.g. 2108) or a build like 1.2108.2.65 "
        "(the portal shows it under Help + support > About)"
    )


def profile_for_release(release: str) -> tuple[str, str]:
    """The profile a release needs, and one sentence saying why."""
    if release in STACK_RELEASES:
        profile = STACK_RELEASES[release]
        return profile, f"release {release} is served by the {profile} profile (catalog)"
    oldest, newest = min(STACK_RELEASES), max(STACK_RELEASES)
    if release < oldest:
        raise CatalogError(
            f"Azure Stack Hub release {release} is older than any API profile supports (the oldest, "
            f"{STACK_RELEASES[oldest]}, needs {oldest} or later); update the Stack first"
        )
    if release > newest:
        profile = STACK_RELEASES[newest]
        return profile, (
            f"release {release} is newer than the catalog knows ({newest}); no hybrid profile newer than "
            f"{profile} exists, so it is assumed"
        )
    raise CatalogError(
        f"Azure Stack Hub release {release} is not a release the catalog knows "
        f"(known: {', '.join(STACK_RELEASES)}); check the version, or pass --stack-version with a known release"
    )


def profile(name: str) -> Profile:
    """The profile named ``name``."""
    try:
        return PROFILES[name]
    except KeyError:
        raise CatalogError(f"unknown profile {name!r}: choose one of {', '.join(PROFILES)}") from None


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
