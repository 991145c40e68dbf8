"""Per-location usages (``.../providers/{Microsoft.Storage|Microsoft.Network|Microsoft.Compute}/locations/{location}/usages``):
what the subscription uses against its quota in the Stack's region, counted from the resources it holds. Limits are
the defaults of a Stack's base quota, not an operator's plan."""

from __future__ import annotations

from azs_emulator import arm_errors
from azs_emulator.arm_core import Arm
from azs_emulator.protocol import Request, Response
from azs_emulator.routing import Route, route
from azs_emulator.services.vm_sizes import SIZES

_CORES = "cores"  # counted as the sum of the VMs' cores, not as resources of a type
# namespace (lower case) -> (usage name, display name, counted type, limit)
_QUOTAS = {
    "microsoft.storage": (("StorageAccounts", "Storage Accounts", "Microsoft.Storage/storageAccounts", 250),),
    "microsoft.network": (
        ("VirtualNetworks", "Virtual Networks", "Microsoft.Network/virtualNetworks", 50),
        ("PublicIPAddresses", "Public IP Addresses", "Microsoft.Network/publicIPAddresses", 60),
        ("NetworkInterfaces", "Network Interfaces", "Microsoft.Network/networkInterfaces", 350),
        ("NetworkSecurityGroups", "Network Security Groups", "Microsoft.Network/networkSecurityGroups", 50),
        ("LoadBalancers", "Load Balancers", "Microsoft.Network/loadBalancers", 50),
        ("VirtualNetworkGateways", "Virtual Network Gateways", "Microsoft.Network/virtualNetworkGateways", 1),
    ),
    # real-stack: a Stack lists Compute's locations/usages (Azure/AzureStack-Tools Policy/AzureStack.Provider.Metadata.json),
    # as hybrid-2019-03-01 does (azure-rest-api-specs profiles/definitions). Names: Azure's (assumed); limits: a Stack's
    # default compute quota (docs: "Quota types in Azure Stack Hub"; not re-checked). "cores" counts the VMs' sizes' cores.
    "microsoft.compute": (
        ("availabilitySets", "Availability Sets", "Microsoft.Compute/availabilitySets", 10),
        ("cores", "Total Regional vCPUs", _CORES, 100),
        ("virtualMachines", "Virtual Machines", "Microsoft.Compute/virtualMachines", 50),
        ("virtualMachineScaleSets", "Virtual Machine Scale Sets", "Microsoft.Compute/virtualMachineScaleSets", 100),
    ),
}
_SIZE_CORES = {name.lower(): cores for name, cores, *_ in SIZES}


class UsagesService:
    def __init__(self, arm: Arm) -> None:
        self.arm = arm

    def routes(self) -> list[Route]:
        # Under a location both serve them at the versions of "locations" (real-stack: azurestack-powershell#43, a Stack
        # refusing Storage's location usages at 2018-11-01 named the type 'locations'); Storage's older versions (2017-10-01
        # and before) list them for the subscription, without a location, as a type "usages" of its own.
        in_location = lambda groups: (groups[1], "locations")  # noqa: E731
        return [route("GET", r"/subscriptions/([^/]+)/providers/(microsoft\.storage|microsoft\.network|microsoft\.compute)/locations/([^/]+)/usages",
                      self.usages, api=in_location),
                route("GET", r"/subscriptions/([^/]+)/providers/(microsoft\.storage)/usages", self.usages,
                      api=lambda groups: (groups[1], "usages"))]

    def usages(self, request: Request, sub: str, namespace: str, location: str | None = None) -> Response:
        if location is not None and location.replace(" ", "").lower() != self.arm.location:
            raise arm_errors.location_not_found(location, self.arm.location)
        prefix = f"/subscriptions/{sub}/".lower()
        resources = self.arm.resources_under(prefix)
        held = [r["type"].lower() for r in resources]
        cores = sum(_SIZE_CORES.get(str(r.get("properties", {}).get("hardwareProfile", {}).get("vmSize", "")).lower(), 0)
                    for r in resources if r["type"].lower() == "microsoft.compute/virtualmachines")
        return Response(200, {"value": [
            {"unit": "Count", "currentValue": cores if counted == _CORES else held.count(counted.lower()), "limit": limit,
             "name": {"value": name, "localizedValue": display}}
            for name, display, counted, limit in _QUOTAS[namespace.lower()]]})
