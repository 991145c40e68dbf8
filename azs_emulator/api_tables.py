"""What each emulated Azure Stack Hub release serves: resource types and their API versions.

Real Stacks come first: :mod:`azs_emulator.api_evidence` holds the versions real Stacks were seen to serve (their
provider answers and errors), and each release serves those on top of its profiles. Where no Stack's answer says
anything, the table below is what backs a version (``assumed``), transcribed from Microsoft's published API
profiles for Azure Stack Hub (the ``2017-03-09-profile``,
``2018-03-01-hybrid``, ``2019-03-01-hybrid`` and ``2020-09-01-hybrid`` tables), NOT from the generator's
catalog: the emulator is the test double for that catalog, and sharing data would let one wrong entry
fool both sides.

A Stack keeps serving the versions of the older profiles beside its newest one, so a release serves the
union of every profile it supports (2008: up to 2019-03-01-hybrid; 2102 and later: up to
2020-09-01-hybrid), plus the few versions Microsoft's clients send outside any profile (azure-mgmt-core's
provider registration with Microsoft.Resources 2016-02-01; the Key Vault client's vault list with
2015-11-01). A client built without a profile sends today's global-Azure versions, which no release
lists, and fails here exactly as it fails on a real Stack (400 InvalidApiVersionParameter).
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from types import MappingProxyType

from azs_emulator.api_evidence import KEYVAULT_DATA_FROM_2206, seen_up_to

# namespace -> resource type -> API versions served, newest first. Resource types match case-insensitively.
ApiTable = Mapping[str, Mapping[str, tuple[str, ...]]]

_RESOURCES_TYPES = ("resourceGroups", "resources", "deployments", "deployments/operations", "providers",
                    "operationresults", "tagNames")
_SUBSCRIPTIONS_TYPES = ("subscriptions", "locations", "tenants")
_COMPUTE_TYPES = ("virtualMachines", "virtualMachines/extensions", "availabilitySets", "images", "locations",
                  "locations/vmSizes", "locations/publishers", "operations",
                  # scale sets: every hybrid profile names them at the Compute version (hybrid-2018-03-01.md, ...)
                  "virtualMachineScaleSets", "virtualMachineScaleSets/extensions", "virtualMachineScaleSets/virtualMachines",
                  "virtualMachineScaleSets/networkInterfaces", "virtualMachineScaleSets/virtualMachines/networkInterfaces")
_DISK_TYPES = ("disks", "snapshots")
_STORAGE_TYPES = ("storageAccounts", "checkNameAvailability", "operations", "usages", "locations")
_NETWORK_TYPES = ("virtualNetworks", "networkInterfaces", "publicIPAddresses", "networkSecurityGroups", "loadBalancers",
                  "routeTables", "virtualNetworkGateways", "connections", "localNetworkGateways", "locations", "operations")
_DNS_TYPES = ("dnszones", *(f"dnszones/{record}" for record in ("A", "AAAA", "CAA", "CNAME", "MX", "NS", "PTR", "SOA", "SRV",
                                                                "TXT", "recordsets", "all")))
_KEYVAULT_TYPES = ("vaults", "vaults/accessPolicies", "vaults/secrets", "checkNameAvailability", "deletedVaults", "operations")
# Key Vault at 2016-10-01 (and its template-era 2015-06-01) has no checkNameAvailability and no deletedVaults: neither
# hybrid profile lists them (spec: profiles/definitions/hybrid-2018-03-01.md, hybrid-2019-03-01.md), nor did a Stack's own
# provider list (real-stack: AzureStack-Tools Policy/AzureStack.Provider.Metadata.json), and a Stack refused deletedVaults
# at 2016-10-01 with 404 InvalidResourceType (real-stack: Azure/azure-cli#27967, a Microsoft test stamp, 2023).
_KEYVAULT_TYPES_2016 = ("vaults", "vaults/accessPolicies", "vaults/secrets", "operations")
_AUTHORIZATION = {
    "locks": ("2016-09-01",),
    "policyAssignments": ("2016-12-01",),
    "policyDefinitions": ("2016-12-01",),
    "roleAssignments": ("2015-07-01",),
    "roleDefinitions": ("2015-07-01",),
    "permissions": ("2015-07-01",),
    "providerOperations": ("2015-07-01",),
}


def _profile(resources: str, compute: str, disks: str, skus: str, network: str, storage: str, keyvault: str,
             tags: bool = False) -> dict[str, dict[str, tuple[str, ...]]]:
    """One API profile's versions, per namespace and resource type."""
    table: dict[str, dict[str, tuple[str, ...]]] = {
        "Microsoft.Resources": {**{t: (resources,) for t in _RESOURCES_TYPES},
                                **{t: ("2016-06-01",) for t in _SUBSCRIPTIONS_TYPES}},
        "Microsoft.Compute": {**{t: (compute,) for t in _COMPUTE_TYPES}, **{t: (disks,) for t in _DISK_TYPES}, "skus": (skus,)},
        "Microsoft.Network": {t: (network,) for t in _NETWORK_TYPES},
        "Microsoft.Storage": {t: (storage,) for t in _STORAGE_TYPES},
        "Microsoft.KeyVault": {t: (keyvault,) for t in (_KEYVAULT_TYPES_2016 if keyvault == "2016-10-01" else _KEYVAULT_TYPES)},
        "Microsoft.Authorization": dict(_AUTHORIZATION),
        "Microsoft.Insights": {"metrics": ("2018-01-01",), "metricDefinitions": ("2018-01-01",)},
    }
    # DNS zones are Microsoft.Network's at a version of their own in every profile (dnsZones: 2016-04-01); a Stack has no
    # namespace Microsoft.Dns (real-stack: AzureStack-Tools Policy/AzureStack.Provider.Metadata.json; spec: hybrid profiles).
    table["Microsoft.Network"].update({t: ("2016-04-01",) for t in _DNS_TYPES})
    if tags:  # tags at any scope arrived with Microsoft.Resources 2019-10-01
        table["Microsoft.Resources"]["tags"] = (resources,)
    return table


PROFILE_2017_03_09 = _profile("2016-02-01", "2016-03-30", "2016-04-30-preview", "2016-03-30", "2015-06-15", "2016-01-01", "2016-10-01")
PROFILE_2018_03_01_HYBRID = _profile("2018-02-01", "2017-03-30", "2017-03-30", "2017-03-30", "2017-10-01", "2016-01-01", "2016-10-01")
PROFILE_2019_03_01_HYBRID = _profile("2018-05-01", "2017-12-01", "2017-03-30", "2017-09-01", "2017-10-01", "2017-10-01", "2016-10-01")
PROFILE_2020_09_01_HYBRID = _profile("2019-10-01", "2020-06-01", "2019-07-01", "2019-04-01", "2018-11-01", "2019-06-01", "2019-09-01",
                                     tags=True)
# Templates may name a profile (``"apiProfile"``) instead of an apiVersion per resource.
API_PROFILES: Mapping[str, Mapping[str, Mapping[str, tuple[str, ...]]]] = MappingProxyType({
    "2017-03-09-profile": PROFILE_2017_03_09,
    "2018-03-01-hybrid": PROFILE_2018_03_01_HYBRID,
    "2019-03-01-hybrid": PROFILE_2019_03_01_HYBRID,
    "2020-09-01-hybrid": PROFILE_2020_09_01_HYBRID,
})


def profile_version(profile: str, namespace: str, resource_type: str) -> str | None:
    """The api-version an API profile gives a resource type (None: the profile or the type is unknown)."""
    table = next((t for name, t in API_PROFILES.items() if name.lower() == profile.lower()), None)
    types = next((t for ns, t in (table or {}).items() if ns.lower() == namespace.lower()), {})
    return next((v[0] for t, v in types.items() if t.lower() == resource_type.lower()), None)


# Versions Microsoft's own clients send outside any profile, which a Stack serves.
_CLIENT_EXTRAS: ApiTable = {
    "Microsoft.Resources": {"providers": ("2016-02-01",), "resources": ("2015-11-01",)},
}

# The storage resource provider's own list ("Azure Stack Hub storage: Differences and considerations", "API
# version", release 2008 and later): every management version from 2015-05-01-preview to 2019-06-01 but the
# ones global Azure made after 2018-07-01. Azure CLI's VM templates pin storage accounts at 2015-06-15.
_STORAGE_MANAGEMENT_2008 = ("2019-06-01", "2018-07-01", "2018-02-01", "2017-10-01", "2017-06-01", "2016-12-01",
                            "2016-05-01", "2016-01-01", "2015-06-15", "2015-05-01-preview")
_STORAGE_SERVED: ApiTable = {"Microsoft.Storage": {t: _STORAGE_MANAGEMENT_2008 for t in _STORAGE_TYPES}}
# Network keeps its first ARM versions, 2015-06-15 and 2016-03-30, beside the profiles' ones (Azure CLI's VM
# and VPN templates pin 2015-06-15; its load-balancer paths on 2019-03-01-hybrid send 2016-03-30).
_NETWORK_OLDER: ApiTable = {"Microsoft.Network": {t: ("2016-03-30", "2015-06-15") for t in _NETWORK_TYPES}}


def _union(*tables: Mapping[str, Mapping[str, tuple[str, ...]]]) -> ApiTable:
    merged: dict[str, dict[str, tuple[str, ...]]] = {}
    for table in tables:
        for namespace, types in table.items():
            for resource_type, versions in types.items():
                known = merged.setdefault(namespace, {}).get(resource_type, ())
                merged[namespace][resource_type] = tuple(sorted(set(known) | set(versions), reverse=True))
    return MappingProxyType({ns: MappingProxyType(types) for ns, types in merged.items()})


# The versions Microsoft's "Develop templates for Azure Stack Hub" (API versioning) lists as valid on every
# Stack, older than any profile, which the Stack quickstart templates still name.
_TEMPLATE_ERA: ApiTable = {
    "Microsoft.Compute": {t: ("2015-06-15",) for t in ("virtualMachines", "virtualMachines/extensions", "availabilitySets",
                                                        "locations", "locations/vmSizes", "locations/publishers",
                                                        "virtualMachineScaleSets", "virtualMachineScaleSets/virtualMachines")},
    "Microsoft.Network": {t: ("2015-06-15", "2015-05-01-preview") for t in _NETWORK_TYPES},
    "Microsoft.Storage": {t: ("2016-01-01", "2015-06-15", "2015-05-01-preview") for t in _STORAGE_TYPES},
    "Microsoft.KeyVault": {t: ("2015-06-01",) for t in _KEYVAULT_TYPES_2016},
    "Microsoft.Resources": {"deployments": ("2015-01-01",), "deployments/operations": ("2015-01-01",)},
}

# Release 1904 to 2008.
RELEASE_2008: ApiTable = _union(PROFILE_2017_03_09, PROFILE_2018_03_01_HYBRID, PROFILE_2019_03_01_HYBRID, _CLIENT_EXTRAS,
                                _TEMPLATE_ERA, _STORAGE_SERVED, _NETWORK_OLDER)
# Release 2102 and later (2108, 2206, ... 2506 serve the same tables as far as the profiles tell).
RELEASE_2102: ApiTable = _union(RELEASE_2008, PROFILE_2020_09_01_HYBRID)

# Global Azure serves every version, the hybrid ones included: Resource Manager's own versions as
# published in the ARM REST specs, and for the other providers the newest versions that SDK releases
# still honouring profiles send. (Known limit: between the hybrid and the newest, versions are not listed.)
_ARM_VERSIONS = ("2025-04-01", "2024-11-01", "2024-07-01", "2024-03-01", "2023-07-01", "2022-09-01", "2021-04-01",
                 "2021-01-01", "2020-10-01", "2020-08-01", "2020-06-01", "2019-10-01", "2019-08-01", "2019-07-01",
                 "2019-05-10", "2019-05-01", "2019-03-01", "2018-05-01", "2018-02-01", "2017-05-10", "2016-09-01")
_SUBSCRIPTION_VERSIONS = ("2022-12-01", "2021-01-01", "2020-01-01", "2019-11-01", "2019-06-01", "2018-06-01", "2016-06-01")
_AZURE_NEWEST: ApiTable = {
    "Microsoft.Resources": {**{t: _ARM_VERSIONS for t in (*_RESOURCES_TYPES, "tags")},
                            **{t: _SUBSCRIPTION_VERSIONS for t in _SUBSCRIPTIONS_TYPES}},
    "Microsoft.Compute": {**{t: ("2024-11-01", "2024-07-01") for t in _COMPUTE_TYPES},
                          **{t: ("2025-01-02", "2024-03-02") for t in _DISK_TYPES}, "skus": ("2021-07-01",)},
    "Microsoft.Network": {t: ("2024-05-01", "2024-03-01") for t in _NETWORK_TYPES},
    "Microsoft.Storage": {t: ("2024-01-01", "2023-05-01") for t in _STORAGE_TYPES},
    "Microsoft.KeyVault": {t: ("2024-11-01", "2023-07-01") for t in _KEYVAULT_TYPES},
}
GLOBAL_AZURE: ApiTable = _union(_AZURE_NEWEST, RELEASE_2102)

# Key Vault's data plane: no profile covers it. Both hybrid profiles name 2016-10-01 for it; global Azure
# serves every 7.x as well.
_KEYVAULT_DATA_STACK = ("2016-10-01",)
_KEYVAULT_DATA_AZURE = ("2016-10-01", "7.0", "7.1", "7.2", "7.3", "7.4", "7.5", "7.6", "2025-07-01", "2026-04-01")

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
        # named in Dell's OEM release artifacts (dell/azurestack-docs ReleaseArtifacts/2603); Microsoft's notes not found
        "2601": "1.2601.0.4",
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


@cache
def api_table_for(release: str) -> ApiTable:
    """The API table a release serves (``azure`` for global Azure): its profiles' versions, widened by every
    version a real Stack of that release or an earlier one was seen to serve."""
    if release == AZURE:
        return _union(GLOBAL_AZURE, *seen_up_to(9999))
    profiles = RELEASE_2102 if int(release) >= FIRST_2020_09_01_RELEASE else RELEASE_2008
    return _union(profiles, *seen_up_to(int(release)))


def keyvault_data_versions(release: str) -> tuple[str, ...]:
    """The Key Vault data-plane api-versions a release serves, oldest first."""
    if release == AZURE:
        return _KEYVAULT_DATA_AZURE
    return KEYVAULT_DATA_FROM_2206 if int(release) >= 2206 else _KEYVAULT_DATA_STACK


def profiles_of(release: str) -> tuple[str, ...]:
    """The API profiles a release supports, oldest first (global Azure: every hybrid one)."""
    names = tuple(API_PROFILES)
    if release != AZURE and int(release) < FIRST_2020_09_01_RELEASE:
        return names[:-1]
    return names


def api_profiles(release: str, namespace: str, resource_type: str) -> list[dict[str, str]]:
    """A provider answer's ``apiProfiles`` of one resource type: ``[{profileVersion, apiVersion}]`` for each profile of
    the release that names the type (real-stack: a 2019 Stack's provider answer gives them beside apiVersions)."""
    found = ((name, profile_version(name, namespace, resource_type)) for name in profiles_of(release))
    return [{"profileVersion": name, "apiVersion": version} for name, version in found if version is not None]


# The storage data plane (blob, queue, table) has no API profile: Microsoft's "Azure Stack Hub storage: Differences and
# considerations" (azure-stack-acs-differences, "API version") lists the service versions each release serves.
_STORAGE_DATA_BEFORE_2005 = ("2015-04-05", "2015-07-08", "2015-12-11", "2016-05-31", "2017-04-17", "2017-07-29", "2017-11-09")
_STORAGE_DATA_2005 = (*_STORAGE_DATA_BEFORE_2005, "2018-03-28", "2018-11-09", "2019-02-02")
_STORAGE_DATA_2008 = (*_STORAGE_DATA_2005, "2019-07-07")


def storage_data_versions(release: str) -> tuple[str, ...] | None:
    """The storage data-plane service versions a release serves, oldest first (None: global Azure serves them all)."""
    if release == AZURE:
        return None
    if int(release) >= 2008:
        return _STORAGE_DATA_2008
    return _STORAGE_DATA_2005 if int(release) >= 2005 else _STORAGE_DATA_BEFORE_2005


def is_valid_build(build: str) -> bool:
    """Four dot-separated numbers: ``1.2108.2.65``, or the internal shape Microsoft's test stamps report
    (``9.2222.0.222``, azurestack-powershell's Update.Admin recordings)."""
    parts = build.split(".")
    return len(parts) == 4 and all(p.isdigit() and len(p) <= 9 for p in parts)


# docs: "Support for the .default scope has been added to AD FS" (hotfix 1.2108.2.130, azure-stack/operator/
# hotfix-1-2108-2-130.md). Builds of later releases are taken to carry it from 2206 on (assumed).
_ADFS_DEFAULT_SCOPE_BUILD = (1, 2108, 2, 130)


def adfs_expands_default_scope(build: str | None) -> bool:
    """Whether AD FS of ``build`` takes a bare ``<audience>/.default`` scope (an unknown or internal build: yes)."""
    if build is None or not is_valid_build(build):
        return True
    numbers = tuple(int(p) for p in build.split("."))
    if numbers[0] != 1:  # an internal build (9.2222.0.222): no release to judge by
        return True
    return numbers[1] >= 2206 or numbers >= _ADFS_DEFAULT_SCOPE_BUILD


def build_for(release: str) -> str:
    """The build number an emulated release reports (``1.YYMM.x.y``)."""
    return KNOWN_BUILDS.get(release, f"1.{release}.0.1")


def backing(release: str, namespace: str, resource_type: str, version: str) -> str:
    """What backs serving ``version`` of a type on a release, strongest first: ``real-stack`` (a real Stack's answer,
    api_evidence), ``spec`` (an API profile of azure-rest-api-specs), ``docs`` (Microsoft's Stack documentation:
    template versions, storage differences) or ``assumed``."""

    def has(table: Mapping[str, Mapping[str, tuple[str, ...]]]) -> bool:
        types = next((t for ns, t in table.items() if ns.lower() == namespace.lower()), {})
        return any(t.lower() == resource_type.lower() and version in v for t, v in types.items())

    if any(has(evidence) for evidence in seen_up_to(9999 if release == AZURE else int(release))):
        return "real-stack"
    if any(has(profile) for profile in API_PROFILES.values()):
        return "spec"
    if has(_TEMPLATE_ERA) or has(_STORAGE_SERVED):
        return "docs"
    return "assumed"
