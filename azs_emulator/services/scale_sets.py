"""Microsoft.Compute virtual machine scale sets: created from a marketplace image with a NIC configuration
(subnet, load balancer pools) and extensions, their instances listed and read as ``virtualMachines`` of the
scale set, scaled by ``sku.capacity`` (new instances get the next ids; scaling in removes the highest)."""

from __future__ import annotations

import copy
import itertools
import uuid
from typing import Any

from azs_emulator import arm_errors
from azs_emulator.arm_core import Arm, now, ref_id
from azs_emulator.protocol import Request, Response
from azs_emulator.resource_types import ResourceType, TypeDeclarations
from azs_emulator.routing import Route, route
from azs_emulator.services.compute import ComputeService
from azs_emulator.services.extensions import shape_extension_settings
from azs_emulator.services.network import SUBNETS
from azs_emulator.services.vm_sizes import SIZES

SCALE_SETS = "Microsoft.Compute/virtualMachineScaleSets"
SCALE_SET_EXTENSIONS = "Microsoft.Compute/virtualMachineScaleSets/extensions"
INSTANCES = "Microsoft.Compute/virtualMachineScaleSets/virtualMachines"
MAX_CAPACITY = 100  # a scale set on one placement group, as on Azure Stack Hub
_ONE = (r"/subscriptions/([^/]+)/resourcegroups/([^/]+)/providers/microsoft\.compute/virtualmachinescalesets/([^/]+)")
_API = ("Microsoft.Compute", "virtualMachineScaleSets")
# What Compute shows for a model that names no OS configuration, by the image's OS.
_OS_CONFIGURATION: dict[str, tuple[str, dict[str, Any]]] = {
    "Linux": ("linuxConfiguration", {"disablePasswordAuthentication": False, "provisionVMAgent": True}),
    "Windows": ("windowsConfiguration", {"provisionVMAgent": True, "enableAutomaticUpdates": True}),
}


def free_slot(instances: list[dict[str, Any]]) -> int:
    """An instance's place in its NAT pools' port ranges (``_slot``): the lowest no other instance holds, given once
    and kept for its life, so deleting an instance moves no other's port."""
    taken = {i["_slot"] for i in instances if "_slot" in i}
    return next(slot for slot in itertools.count() if slot not in taken)


class ScaleSetsService:
    def __init__(self, arm: Arm, compute: ComputeService) -> None:
        self.arm = arm
        self.compute = compute

    def resource_types(self) -> TypeDeclarations:
        return TypeDeclarations({
            SCALE_SETS: ResourceType(shape=self._shape, async_delete=True, read_only=("provisioningState", "uniqueId")),
            SCALE_SET_EXTENSIONS: ResourceType(shape=lambda arm_, ext, existing: shape_extension_settings(ext["properties"]),
                                               async_delete=True),
        })

    def routes(self) -> list[Route]:
        return [
            route("GET", _ONE + r"/virtualmachines", self.list_instances, api=_API),
            route("GET", _ONE + r"/virtualmachines/([^/]+)", self.get_instance, api=_API),
            route("GET", _ONE + r"/virtualmachines/([^/]+)/instanceview", self.instance_view, api=_API),
            route("GET", _ONE + r"/instanceview", self.scale_set_view, api=_API),
        ]

    # -- the scale set ---------------------------------------------------------------------------

    def _shape(self, arm: Arm, scale_set: dict[str, Any], existing: dict[str, Any] | None) -> None:
        # An update may name the capacity alone (az vmss scale, SDK begin_update): the rest of the sku stays.
        sku = {**((existing or {}).get("sku") or {}), **(scale_set.get("sku") or {})}
        size = str(sku.get("name") or "")
        if size.lower() not in {s[0].lower() for s in SIZES}:
            raise arm_errors.vm_size_not_available(size, (s[0] for s in SIZES))
        try:
            capacity = int(sku.get("capacity", 0 if existing is None else existing["sku"].get("capacity", 0)))
        except (TypeError, ValueError):
            raise arm_errors.invalid_parameter(f"The value '{sku.get('capacity')}' of sku.capacity is not an integer.") from None
        if not 0 <= capacity <= MAX_CAPACITY:
            raise arm_errors.invalid_parameter(f"The capacity {capacity} of scale set {scale_set['name']} must be between 0 "
                                               f"and {MAX_CAPACITY}.")
        scale_set["sku"] = {"name": size, "tier": sku.get("tier", "Standard"), "capacity": capacity}
        props = scale_set["properties"]
        profile = props.get("virtualMachineProfile") or {}
        if not profile:
            raise arm_errors.invalid_parameter("Required parameter 'virtualMachineProfile' is missing (null).")
        storage = profile.setdefault("storageProfile", {})
        user_image = ((storage.get("osDisk") or {}).get("image") or {}).get("uri")
        if user_image and not storage.get("imageReference"):
            # A user image VHD (spec: VirtualMachineScaleSetOSDisk.image, "the source user image"; osType says its OS),
            # as Microsoft's Stack quickstart 201-vmss-windows-customimage makes one: no marketplace image.
            os_type = str(storage["osDisk"].get("osType", "")).capitalize()
            if os_type not in _OS_CONFIGURATION:
                raise arm_errors.invalid_parameter("The osDisk of a scale set from a user image VHD needs osType Linux or Windows.")
            if isinstance(profile.get("osProfile"), dict):
                profile["osProfile"].setdefault(*_OS_CONFIGURATION[os_type])
        elif not (storage.get("imageReference") or {}).get("id"):
            image = self.compute.find_image(storage.get("imageReference") or {})
            if isinstance(profile.get("osProfile"), dict):  # Compute fills in the model's OS configuration
                profile["osProfile"].setdefault(*_OS_CONFIGURATION[image[4]])
        elif self.arm.find(storage["imageReference"]["id"]) is None:
            raise arm_errors.not_found(f"Image {storage['imageReference']['id']}")
        os_profile = profile.get("osProfile") or {}
        if existing is None:
            if not os_profile.get("computerNamePrefix") or not os_profile.get("adminUsername"):
                raise arm_errors.invalid_parameter("Required parameter 'osProfile.computerNamePrefix' and 'adminUsername' "
                                                   "are missing (null).")
            linux = os_profile.get("linuxConfiguration") or {}
            if not os_profile.get("adminPassword") and not (linux.get("ssh") or {}).get("publicKeys"):
                raise arm_errors.invalid_parameter(
                    "Authentication using either SSH or by user name and password must be enabled in Linux profile.")
        os_profile.pop("adminPassword", None)  # never stored, never shown
        self._check_network(scale_set, profile)
        for extension in (profile.get("extensionProfile") or {}).get("extensions") or []:
            shape_extension_settings(extension.setdefault("properties", {}))
        props.setdefault("upgradePolicy", {"mode": "Manual"})
        props.setdefault("overprovision", True)
        props.setdefault("singlePlacementGroup", True)
        props.setdefault("uniqueId", str(uuid.uuid4()))
        self._scale(scale_set, capacity)

    def _check_network(self, scale_set: dict[str, Any], profile: dict[str, Any]) -> None:
        configurations = (profile.get("networkProfile") or {}).get("networkInterfaceConfigurations") or []
        if not configurations:
            raise arm_errors.invalid_parameter("The scale set needs at least one network interface configuration "
                                               "(networkProfile.networkInterfaceConfigurations).")
        for configuration in configurations:
            settings = configuration.setdefault("properties", {})
            if isinstance(settings.get("primary"), str):  # templates write "true"; ARM reads it as a boolean
                settings["primary"] = settings["primary"].lower() == "true"
            for ip in settings.get("ipConfigurations") or []:
                ip_settings = ip.get("properties") or {}
                subnet = self.arm.find(ref_id(ip_settings.get("subnet")))
                if subnet is None or subnet["type"] != SUBNETS:
                    raise arm_errors.invalid_parameter(f"Subnet {ref_id(ip_settings.get('subnet')) or '(none)'} of scale set "
                                                       f"{scale_set['name']} was not found.")
                for pool in (*(ip_settings.get("loadBalancerBackendAddressPools") or []),
                             *(ip_settings.get("loadBalancerInboundNatPools") or [])):
                    self._check_pool(scale_set, ref_id(pool))

    def _check_pool(self, scale_set: dict[str, Any], pool_id: str) -> None:
        """A load balancer pool the NIC configuration joins must be one of that load balancer's."""
        balancer_id, _, rest = pool_id.partition("/backendAddressPools/") if "/backendAddressPools/" in pool_id \
            else pool_id.partition("/inboundNatPools/")
        balancer = self.arm.find(balancer_id)
        kind = "backendAddressPools" if "/backendAddressPools/" in pool_id else "inboundNatPools"
        pools = {str(p.get("name", "")).lower() for p in ((balancer or {}).get("properties") or {}).get(kind) or []}
        if balancer is None or rest.lower() not in pools:
            raise arm_errors.invalid_parameter(f"Resource {pool_id} referenced by scale set {scale_set['name']} was not found.")

    def _scale(self, scale_set: dict[str, Any], capacity: int) -> None:
        """Instances to match the capacity, each a copy of the current model."""
        instances: list[dict[str, Any]] = scale_set.setdefault("_instances", [])
        while len(instances) > capacity:
            instances.pop()  # scaling in removes the newest
        next_id = scale_set.get("_next_instance", 0)
        while len(instances) < capacity:
            instances.append({"instanceId": str(next_id), "vmId": str(uuid.uuid4()), "created": now(),
                              "_slot": free_slot(instances)})
            next_id += 1
        scale_set["_next_instance"] = next_id

    # -- instances -------------------------------------------------------------------------------

    def _scale_set(self, sub: str, rg: str, name: str) -> dict[str, Any]:
        return self.arm.get(self.arm.resource_id(sub, rg, SCALE_SETS, name), SCALE_SETS)

    def _instance_body(self, scale_set: dict[str, Any], instance: dict[str, Any]) -> dict[str, Any]:
        profile = copy.deepcopy(scale_set["properties"]["virtualMachineProfile"])
        index = int(instance["instanceId"])
        prefix = profile.get("osProfile", {}).get("computerNamePrefix", scale_set["name"])
        os_profile = {**profile.get("osProfile", {}), "computerName": f"{prefix}{_base36(index):0>6}"}
        os_profile.pop("computerNamePrefix", None)
        nic_prefix = f"{scale_set['id']}/virtualMachines/{index}/networkInterfaces/"
        return {
            "id": f"{scale_set['id']}/virtualMachines/{index}",
            "name": f"{scale_set['name']}_{index}",
            "type": INSTANCES,
            "location": scale_set["location"],
            "instanceId": instance["instanceId"],
            "sku": {"name": scale_set["sku"]["name"], "tier": scale_set["sku"]["tier"]},
            "properties": {
                "latestModelApplied": True,
                "vmId": instance["vmId"],
                "hardwareProfile": {"vmSize": scale_set["sku"]["name"]},
                "storageProfile": profile.get("storageProfile", {}),
                "osProfile": os_profile,
                "networkProfile": {"networkInterfaces": [
                    {"id": nic_prefix + str(c.get("name"))} for c in profile["networkProfile"]["networkInterfaceConfigurations"]]},
                "provisioningState": "Succeeded",
            },
        }

    def _instance(self, scale_set: dict[str, Any], instance_id: str) -> dict[str, Any]:
        found = next((i for i in scale_set.get("_instances", []) if i["instanceId"] == instance_id), None)
        if found is None:
            raise arm_errors.resource_not_found(INSTANCES, f"{scale_set['name']}/{instance_id}", scale_set["id"].split("/")[4])
        return found

    def list_instances(self, request: Request, sub: str, rg: str, name: str) -> Response:
        scale_set = self._scale_set(sub, rg, name)
        items = [self._instance_body(scale_set, i) for i in scale_set.get("_instances", [])]
        return self.arm.paged(request, items)

    def get_instance(self, request: Request, sub: str, rg: str, name: str, instance_id: str) -> Response:
        scale_set = self._scale_set(sub, rg, name)
        return Response(200, self._instance_body(scale_set, self._instance(scale_set, instance_id)))

    def instance_view(self, request: Request, sub: str, rg: str, name: str, instance_id: str) -> Response:
        scale_set = self._scale_set(sub, rg, name)
        power = self._instance(scale_set, instance_id).get("_power", "running")  # set by scale_set_actions.py
        return Response(200, {"platformUpdateDomain": int(instance_id) % 5, "platformFaultDomain": int(instance_id) % 3,
                              "statuses": [_running()[0], {"code": f"PowerState/{power}", "level": "Info",
                                                           "displayStatus": f"VM {power}"}]})

    def scale_set_view(self, request: Request, sub: str, rg: str, name: str) -> Response:
        scale_set = self._scale_set(sub, rg, name)
        count = len(scale_set.get("_instances", []))
        return Response(200, {"virtualMachine": {"statusesSummary": [{"code": "ProvisioningState/succeeded", "count": count}]},
                              "statuses": _running()[:1]})


def _running() -> list[dict[str, Any]]:
    return [{"code": "ProvisioningState/succeeded", "level": "Info", "displayStatus": "Provisioning succeeded"},
            {"code": "PowerState/running", "level": "Info", "displayStatus": "VM running"}]


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, rest = divmod(number, 36)
        text = digits[rest] + text
        if number == 0:
            return text
