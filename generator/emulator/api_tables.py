"""What each emulated Azure Stack Hub release serves: resource types and their API versions.

Transcribed from Microsoft's published Azure Stack Hub tables ("Resource provider API versions
supported by profiles in Azure Stack Hub"), NOT from the generator's catalog: the emulator is the
test double for that catalog, and sharing data would let one wrong entry fool both sides.

A release serves only the versions of its profile, so that a client built without the right
profile fails here exactly as it fails on a real Stack (400 InvalidApiVersionParameter).
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

# namespace -> resource type -> API versions served. Resource types are matched case-insensitively.
ApiTable = Mapping[str, Mapping[str, tuple[str, ...]]]

_SUBSCRIPTIONS = {"subscriptions": ("2016-06-01",), "locations": ("2016-06-01",), "tenants": ("2016-06-01",)}
_AUTHORIZATION = {
    "locks": ("2016-09-01",),
    "policyAssignments": ("2016-12-01",),
    "policyDefinitions": ("2016-12-01",),
    "roleAssignments": ("2015-07-01",),
    "roleDefinitions": ("2015-07-01",),
    "permissions": ("2015-07-01",),
}
_INSIGHTS = {"metrics": ("2018-01-01",), "metricDefinitions": ("2018-01-01",)}


def _resources(version: str) -> dict[str, tuple[str, ...]]:
    types = ("resourceGroups", "resources", "deployments", "providers", "operationresults")
    return {**{t: (version,) for t in types}, **_SUBSCRIPTIONS}


def _table(**namespaces: Mapping[str, tuple[str, ...]]) -> ApiTable:
    return MappingProxyType({ns.replace("_", "."): MappingProxyType(dict(t)) for ns, t in namespaces.items()})


def _all_types(types: tuple[str, ...], version: str) -> dict[str, tuple[str, ...]]:
    return {t: (version,) for t in types}


_STORAGE_TYPES = ("storageAccounts", "checkNameAvailability", "operations", "usages", "locations")
_NETWORK_TYPES = (
    "virtualNetworks",
    "networkInterfaces",
    "publicIPAddresses",
    "networkSecurityGroups",
    "loadBalancers",
    "routeTables",
    "virtualNetworkGateways",
    "connections",
    "localNetworkGateways",
    "locations",
    "operations",
)
_KEYVAULT_TYPES = ("vaults", "checkNameAvailability", "deletedVaults", "operations")

# 2019-03-01-hybrid: releases 1904 to 2008.
PROFILE_2019_03_01_HYBRID: ApiTable = _table(
    Microsoft_Resources=_resources("2018-05-01"),
    Microsoft_Authorization=_AUTHORIZATION,
    Microsoft_Compute={
        **_all_types(("virtualMachines", "availabilitySets", "images", "locations", "operations"), "2017-12-01"),
        "disks": ("2017-03-30",),
        "snapshots": ("2017-03-30",),
        "skus": ("2017-09-01",),
    },
    Microsoft_Network=_all_types(_NETWORK_TYPES, "2017-10-01"),
    Microsoft_Storage=_all_types(_STORAGE_TYPES, "2017-10-01"),
    Microsoft_KeyVault=_all_types(_KEYVAULT_TYPES, "2016-10-01"),
    Microsoft_Insights=_INSIGHTS,
    Microsoft_Dns={"dnszones": ("2016-04-01",)},
)

# 2020-09-01-hybrid: releases 2102 and later.
PROFILE_2020_09_01_HYBRID: ApiTable = _table(
    Microsoft_Resources=_resources("2019-10-01"),
    Microsoft_Authorization=_AUTHORIZATION,
    Microsoft_Compute={
        **_all_types(("virtualMachines", "availabilitySets", "images", "locations", "operations"), "2020-06-01"),
        "disks": ("2019-07-01",),
        "snapshots": ("2019-07-01",),
        "skus": ("2019-04-01",),
    },
    Microsoft_Network=_all_types(_NETWORK_TYPES, "2018-11-01"),
    Microsoft_Storage=_all_types(_STORAGE_TYPES, "2019-06-01"),
    Microsoft_KeyVault=_all_types(_KEYVAULT_TYPES, "2019-09-01"),
    Microsoft_Insights=_INSIGHTS,
    Microsoft_Dns={"dnszones": ("2016-04-01",)},
)

# Global Azure serves every version, the hybrid ones included: Resource Manager's own versions as
# published in the ARM REST specs, and for the other providers the newest versions that SDK releases
# still honouring profiles send.
_ARM_VERSIONS = ("2025-04-01", "2024-11-01", "2024-07-01", "2024-03-01", "2023-07-01", "2022-09-01", "2021-04-01",
                 "2021-01-01", "2020-10-01", "2020-08-01", "2020-06-01", "2019-10-01", "2019-08-01", "2019-07-01",
                 "2019-05-10", "2019-05-01", "2019-03-01", "2018-05-01", "2018-02-01", "2017-05-10", "2016-09-01")
_SUBSCRIPTION_VERSIONS = ("2022-12-01", "2021-01-01", "2020-01-01", "2019-11-01", "2019-06-01", "2018-06-01", "2016-06-01")
_AZURE_NEWEST = _table(
    Microsoft_Resources={
        **{t: _ARM_VERSIONS for t in ("resourceGroups", "resources", "deployments", "providers", "operationresults")},
        **{t: _SUBSCRIPTION_VERSIONS for t in ("subscriptions", "locations", "tenants")},
    },
    Microsoft_Compute=_all_types(("virtualMachines", "availabilitySets", "skus", "locations"), "2024-11-01"),
    Microsoft_Network=_all_types(_NETWORK_TYPES, "2024-03-01"),
    Microsoft_Storage=_all_types(_STORAGE_TYPES, "2024-01-01"),
    Microsoft_KeyVault=_all_types(_KEYVAULT_TYPES, "2023-07-01"),
)


def _union(*tables: ApiTable) -> ApiTable:
    merged: dict[str, dict[str, tuple[str, ...]]] = {}
    for table in tables:
        for namespace, types in table.items():
            for resource_type, versions in types.items():
                known = merged.setdefault(namespace, {}).get(resource_type, ())
                merged[namespace][resource_type] = tuple(sorted(set(known) | set(versions), reverse=True))
    return MappingProxyType({ns: MappingProxyType(types) for ns, types in merged.items()})


GLOBAL_AZURE: ApiTable = _union(_AZURE_NEWEST, PROFILE_2020_09_01_HYBRID, PROFILE_2019_03_01_HYBRID)

# Initial build of each release (hotfixes change only the last two parts).
KNOWN_BUILDS: Mapping[str, str] = MappingProxyType(
    {
        "2008": "1.2008.13.88",
        "2102": "1.2102.28.82",
        "2108": "1.2108.2.65",
        "2206": "1.2206.1.24",
        "2301": "1.2301.2.58",
        "2306": "1.2306.2.47",
        "2311": "1.2311.1.22",
        "2406": "1.2406.0.8",
        "2408": "1.2408.0.19",
        "2501": "1.2501.0.21",
        "2506": "1.2506.0.15",
    }
)

AZURE = "azure"
OLDEST_RELEASE = 1904
FIRST_2020_09_01_RELEASE = 2102


def is_valid_release(release: str) -> bool:
    """True for ``azure`` or a YYMM release from 1904 on (unknown later releases included)."""
    if release == AZURE:
        return True
    return len(release) == 4 and release.isdigit() and int(release) >= OLDEST_RELEASE and 1 <= int(release[2:]) <= 12


def api_table_for(release: str) -> ApiTable:
    """The API table a release serves (``azure`` for global Azure)."""
    if release == AZURE:
        return GLOBAL_AZURE
    if int(release) >= FIRST_2020_09_01_RELEASE:
        return PROFILE_2020_09_01_HYBRID
    return PROFILE_2019_03_01_HYBRID


def build_for(release: str) -> str:
    """The build number an emulated release reports (``1.YYMM.x.y``)."""
    return KNOWN_BUILDS.get(release, f"1.{release}.0.1")
