"""The api-versions real Azure Stack Hub stamps were seen to serve, beyond what their API profiles name.

A resource provider on a Stack serves every api-version its build carries, and lists them in its provider
answer and in its errors. What is here comes from real Stacks' own answers (each line names its source and
date; the parity corpus in ``tests/fixtures/parity/`` keeps the part of each answer a test compares). A build
carries its versions forward, so a version seen on a release is served by that release and every later one.
Where nothing was seen, :mod:`azs_emulator.api_tables` keeps the profile-based table (marked ``assumed``).
"""

from __future__ import annotations

from collections.abc import Mapping

# namespace -> resource type -> versions (same shape as api_tables.ApiTable, before the union).
Evidence = Mapping[str, Mapping[str, tuple[str, ...]]]

# Resource Manager's own versions on a Stack up to 2008, as its InvalidApiVersionParameter lists them (real-stack:
# microsoft/azure-pipelines-extensions#929, 2021-04-02, resource groups; microsoft/AzureStorageExplorer#4292, 2021;
# the provider answer of 2019 in Azure/AzureStack-Tools Policy/AzureStack.Provider.Metadata.json lists the same up to
# 2018-09-01 for deployments, resource groups, providers, subscriptions and locations).
ARM_UP_TO_2008 = ("2018-09-01", "2018-08-01", "2018-07-01", "2018-06-01", "2018-05-01", "2018-02-01", "2018-01-01",
                  "2017-12-01", "2017-08-01", "2017-06-01", "2017-05-10", "2017-05-01", "2017-03-01", "2016-09-01",
                  "2016-07-01", "2016-06-01", "2016-02-01", "2015-11-01", "2015-01-01", "2014-04-01-preview",
                  "2014-04-01", "2014-01-01", "2013-03-01", "2014-02-26", "2014-04")
# From 2102 (the first release whose profile needs Resources 2019-10-01), newest 2020-06-01 (real-stack:
# microsoft/vscode-azureresourcegroups#298, 2022-06-08; Azure/azure-cli#25572, 2023-03). 2102 itself: assumed.
ARM_FROM_2102 = ("2020-06-01", "2020-05-01", "2020-01-01", "2019-11-01", "2019-10-01", "2019-09-01", "2019-08-01",
                 "2019-07-01", "2019-06-01", "2019-05-10", "2019-05-01", "2019-03-01", "2018-11-01", *ARM_UP_TO_2008)
_ARM_TYPES = ("resourceGroups", "resources", "deployments", "deployments/operations", "providers", "operationresults",
              "tagNames", "subscriptions", "locations", "tenants")

# The provider answer of a 2019 Stack (real-stack: Azure/AzureStack-Tools Policy/AzureStack.Provider.Metadata.json,
# commit 1fec4e8 of 2019-03-06), per namespace the emulator serves.
_NETWORK_2019 = ("2017-10-01", "2017-09-01", "2017-08-01", "2017-06-01", "2017-04-01", "2017-03-01", "2016-12-01",
                 "2016-11-01", "2016-10-01", "2016-09-01", "2016-08-01", "2016-07-01", "2016-06-01", "2016-03-30",
                 "2015-06-15", "2015-05-01-preview", "2014-12-01-preview")
_NETWORK_TYPES = ("virtualNetworks", "networkInterfaces", "publicIPAddresses", "networkSecurityGroups", "loadBalancers",
                  "routeTables", "virtualNetworkGateways", "connections", "localNetworkGateways", "operations")
_COMPUTE_2019 = ("2017-12-01", "2017-03-30", "2016-03-30", "2015-06-15")
_COMPUTE_TYPES = ("virtualMachines", "virtualMachines/extensions", "availabilitySets", "locations", "locations/vmSizes",
                  "locations/publishers", "operations", "virtualMachineScaleSets", "virtualMachineScaleSets/extensions",
                  "virtualMachineScaleSets/virtualMachines", "virtualMachineScaleSets/networkInterfaces",
                  "virtualMachineScaleSets/virtualMachines/networkInterfaces")
_STORAGE_2019 = ("2017-10-01", "2017-06-01", "2016-12-01", "2016-05-01", "2016-01-01", "2015-06-15", "2015-05-01-preview")
STACK_2019: Evidence = {
    "Microsoft.Resources": {t: ARM_UP_TO_2008 for t in _ARM_TYPES},
    "Microsoft.Network": {**{t: _NETWORK_2019 for t in _NETWORK_TYPES},
                          "locations": (*_NETWORK_2019, "2016-04-01", "2015-05-04-preview"),
                          "dnszones": ("2016-04-01", "2015-05-04-preview")},
    "Microsoft.Compute": {**{t: _COMPUTE_2019 for t in _COMPUTE_TYPES}, "images": ("2017-12-01", "2017-03-30"),
                          "disks": ("2017-03-30",), "snapshots": ("2017-03-30",)},
    "Microsoft.Storage": {t: _STORAGE_2019 for t in ("storageAccounts", "checkNameAvailability", "operations", "usages")},
    "Microsoft.KeyVault": {t: ("2016-10-01", "2015-06-01") for t in ("vaults", "vaults/accessPolicies", "vaults/secrets",
                                                                     "operations")},
    "Microsoft.Authorization": {
        "locks": ("2017-04-01", "2016-09-01", "2015-06-01", "2015-05-01-preview", "2015-01-01"),
        "policyAssignments": ("2017-06-01-preview", "2016-12-01", "2016-04-01", "2015-10-01-preview"),
        "policyDefinitions": ("2016-12-01", "2016-04-01", "2015-10-01-preview"),
        "providerOperations": ("2015-07-01-preview", "2015-07-01"),
        **{t: ("2015-07-01", "2015-06-01", "2015-05-01-preview", "2014-10-01-preview", "2014-07-01-preview",
               "2014-04-01-preview") for t in ("roleAssignments", "roleDefinitions", "permissions")},
    },
}
STACK_2102: Evidence = {"Microsoft.Resources": {t: ARM_FROM_2102 for t in _ARM_TYPES}}
# Microsoft.Network on a 2025 Stack: the versions up to 2018-11-01 its NoRegisteredProviderFound listed for
# loadBalancers (real-stack: kubernetes-sigs/cloud-provider-azure#9704, 2025-12-01, whose author names 2018-11-01 the
# newest the Stack supports; the later versions that error lists are left out as unconfirmed). Nearest release: 2506.
_NETWORK_2025 = ("2018-11-01", "2018-10-01", "2018-08-01", "2018-07-01", "2018-06-01", "2018-05-01", "2018-04-01",
                 "2018-03-01", "2018-02-01", "2018-01-01", "2017-11-01", *_NETWORK_2019)
STACK_2506: Evidence = {"Microsoft.Network": {t: _NETWORK_2025 for t in _NETWORK_TYPES}}

# Key Vault's data plane: a Stack's vault named 7.1 "the latest supported version" (real-stack:
# Azure/azure-sdk-for-python#28595, 2023-02-02; nearest release 2206). 7.0 lies between it and 2016-10-01: assumed.
KEYVAULT_DATA_FROM_2206 = ("2016-10-01", "7.0", "7.1")

# Evidence by the first release it applies to, oldest first.
BY_RELEASE: tuple[tuple[int, Evidence], ...] = ((1904, STACK_2019), (2102, STACK_2102), (2506, STACK_2506))


def seen_up_to(release: int) -> list[Evidence]:
    """The evidence that applies to ``release`` (what it and every earlier release was seen to serve)."""
    return [evidence for first, evidence in BY_RELEASE if release >= first]


def versions_seen(release: int) -> dict[tuple[str, str], set[str]]:
    """(namespace, resource type) in lower case -> every version real Stacks of ``release`` or earlier served."""
    seen: dict[tuple[str, str], set[str]] = {}
    for evidence in seen_up_to(release):
        for namespace, types in evidence.items():
            for resource_type, versions in types.items():
                seen.setdefault((namespace.lower(), resource_type.lower()), set()).update(versions)
    return seen
