"""Profiles and Stack releases: which API version each management client sends under each profile, and which
profile each Azure Stack Hub release needs (adding a release is one line in ``STACK_RELEASES``); reading a release
from what a user or a Stack gives.

Sources: Microsoft's Azure Stack Hub profile tables and ``azure.profiles.KnownProfiles`` in azure-common 1.1.28."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from generator.errors import ScaffoldError

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
        f"cannot read the release {text!r}: give a release as YYMM (e.g. 2108) or a build like 1.2108.2.65 "
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
        f"(known: {', '.join(STACK_RELEASES)}); check the version, or pass --release with a known release"
    )


def profile(name: str) -> Profile:
    """The profile named ``name``."""
    try:
        return PROFILES[name]
    except KeyError:
        raise CatalogError(f"unknown profile {name!r}: choose one of {', '.join(PROFILES)}") from None
