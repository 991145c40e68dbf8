"""A scale set's actions on its instances and the network interfaces they hold (Microsoft.Compute and, for the
interfaces, Microsoft.Network; both in every hybrid profile): ``start``, ``restart``, ``powerOff``, ``deallocate``,
``delete`` and ``manualupgrade`` with an optional (``delete``, ``manualupgrade``: required) list of instance ids,
each answered 202 and polled as Compute's actions are, and the same on one instance's path (``*``: every
instance); ``.../networkInterfaces`` of the scale set and of one instance, each a NIC per NIC configuration of the
model, with a private address from the configuration's subnet; a load balancer's inbound NAT rules for the
instances that join its inbound NAT pools."""

from __future__ import annotations

import hashlib
from typing import Any
from urllib.parse import unquote

from azs_emulator import arm_errors
from azs_emulator.arm_core import Arm, ref_id
from azs_emulator.protocol import Request, Response
from azs_emulator.resource_types import Action, Render, TypeAddition, TypeDeclarations
from azs_emulator.routing import Route, route
from azs_emulator.services.network import free_address, held_addresses
from azs_emulator.services.scale_sets import SCALE_SETS, free_slot

NICS = "Microsoft.Network/networkInterfaces"
LOAD_BALANCERS = "Microsoft.Network/loadBalancers"
_POWER = {"start": "running", "restart": "running", "poweroff": "stopped", "deallocate": "deallocated"}
_ONE = r"/subscriptions/([^/]+)/resourcegroups/([^/]+)/providers/microsoft\.compute/virtualmachinescalesets/([^/]+)"
_COMPUTE = ("Microsoft.Compute", "virtualMachineScaleSets")
_NETWORK = ("Microsoft.Network", "networkInterfaces")  # Network's versions, as the Network spec serves these paths


class ScaleSetActionsService:
    def __init__(self, arm: Arm) -> None:
        self.arm = arm

    def resource_types(self) -> TypeDeclarations:
        actions: dict[str, Action] = {f"post {name}": self.power for name in _POWER}
        actions.update({"post delete": self.delete_instances, "post manualupgrade": self.manual_upgrade})
        return TypeDeclarations(additions={SCALE_SETS: TypeAddition(actions=actions),
                                           LOAD_BALANCERS: TypeAddition(render=self._balancer_render)})

    def routes(self) -> list[Route]:
        return [
            route("POST", _ONE + r"/virtualmachines/([^/]+)/(start|restart|poweroff|deallocate)", self.power_instance,
                  api=_COMPUTE),
            route("DELETE", _ONE + r"/virtualmachines/([^/]+)", self.delete_instance, api=_COMPUTE),
            route("GET", _ONE + r"/networkinterfaces", self.list_nics, api=_NETWORK),
            route("GET", _ONE + r"/virtualmachines/([^/]+)/networkinterfaces", self.list_instance_nics, api=_NETWORK),
            route("GET", _ONE + r"/virtualmachines/([^/]+)/networkinterfaces/([^/]+)", self.get_instance_nic, api=_NETWORK),
        ]

    # -- actions ---------------------------------------------------------------------------------

    def _chosen(self, request: Request, scale_set: dict[str, Any], required: bool) -> list[dict[str, Any]]:
        """The instances an action names (``instanceIds``; none or ``*`` is all of them, where that is allowed)."""
        body = request.json() if request.body else {}
        wanted = body.get("instanceIds") if isinstance(body, dict) else None
        instances: list[dict[str, Any]] = scale_set.get("_instances", [])
        if not wanted and required:
            raise arm_errors.invalid_parameter("The request needs instanceIds: the ids of the scale set's instances to act on.")
        if not wanted or wanted == ["*"]:
            return list(instances)
        known = {i["instanceId"]: i for i in instances}
        missing = [str(w) for w in wanted if str(w) not in known]
        if missing:
            raise arm_errors.invalid_parameter(f"The instance ids {', '.join(missing)} are not instances of scale set "
                                               f"{scale_set['name']}.")
        return [known[str(w)] for w in wanted]

    def power(self, arm: Arm, request: Request, scale_set: dict[str, Any]) -> Response:
        state = _POWER[request.path.rstrip("/").rsplit("/", 1)[-1].lower()]
        for instance in self._chosen(request, scale_set, required=False):
            instance["_power"] = state
        arm.save()
        return arm.accepted(request, scale_set["id"].split("/")[2])

    def delete_instances(self, arm: Arm, request: Request, scale_set: dict[str, Any]) -> Response:
        """Deleting instances lowers the capacity by as many, as Compute does."""
        gone = {i["instanceId"] for i in self._chosen(request, scale_set, required=True)}
        scale_set["_instances"] = [i for i in scale_set.get("_instances", []) if i["instanceId"] not in gone]
        scale_set["sku"]["capacity"] = len(scale_set["_instances"])
        arm.save()
        return arm.accepted(request, scale_set["id"].split("/")[2])

    def manual_upgrade(self, arm: Arm, request: Request, scale_set: dict[str, Any]) -> Response:
        """Instances are always made from the current model here, so an upgrade has nothing left to apply."""
        self._chosen(request, scale_set, required=True)
        return arm.accepted(request, scale_set["id"].split("/")[2])

    def _addressed(self, scale_set: dict[str, Any], instance_id: str) -> list[dict[str, Any]]:
        """One instance by its path, or every one for ``*`` (Compute answers ``virtualmachines/*/deallocate`` so)."""
        if unquote(instance_id) == "*":
            return list(scale_set.get("_instances", []))
        return [self._instance(scale_set, instance_id)]

    def power_instance(self, request: Request, sub: str, rg: str, name: str, instance_id: str, action: str) -> Response:
        scale_set = self._scale_set(sub, rg, name)
        for instance in self._addressed(scale_set, instance_id):
            instance["_power"] = _POWER[action.lower()]
        self.arm.save()
        return self.arm.accepted(request, sub)

    def delete_instance(self, request: Request, sub: str, rg: str, name: str, instance_id: str) -> Response:
        scale_set = self._scale_set(sub, rg, name)
        gone = {i["instanceId"] for i in self._addressed(scale_set, instance_id)}
        scale_set["_instances"] = [i for i in scale_set.get("_instances", []) if i["instanceId"] not in gone]
        scale_set["sku"]["capacity"] = len(scale_set["_instances"])
        self.arm.save()
        return self.arm.accepted(request, sub)

    # -- a load balancer's NAT rules for the instances ----------------------------------------------

    def _balancer_render(self, base: Render | None) -> Render:
        def render(arm: Arm, balancer: dict[str, Any], request: Request) -> dict[str, Any]:
            return self._with_nat_rules(arm, balancer, base(arm, balancer, request) if base else arm.public(balancer))
        return render

    def _with_nat_rules(self, arm: Arm, balancer: dict[str, Any], shown: dict[str, Any]) -> dict[str, Any]:
        """A balancer as Network shows it: each inbound NAT pool a scale set's instances join gives every instance
        an inbound NAT rule of its own (``{pool}.{instance id}``, the pool's next frontend port), which names the
        instance's IP configuration."""
        pools = {str(p.get("name", "")).lower(): p for p in (shown.get("properties") or {}).get("inboundNatPools") or []}
        derived = []
        for scale_set in arm.resources_of_type(SCALE_SETS):
            configurations = (((scale_set["properties"].get("virtualMachineProfile") or {}).get("networkProfile") or {})
                              .get("networkInterfaceConfigurations") or [])
            for configuration in configurations:
                for ip in (configuration.get("properties") or {}).get("ipConfigurations", []):
                    for joined in (ip.get("properties") or {}).get("loadBalancerInboundNatPools") or []:
                        balancer_id, _, pool_name = ref_id(joined).rpartition("/inboundNatPools/")
                        pool = pools.get(pool_name.lower())
                        if balancer_id.lower() != balancer["id"].lower() or pool is None:
                            continue
                        derived += self._nat_rules(scale_set, configuration["name"], ip["name"], balancer["id"], pool)
        if not derived:
            return shown
        props = shown["properties"]
        return {**shown, "properties": {**props, "inboundNatRules": [*(props.get("inboundNatRules") or []), *derived]}}

    def _nat_rules(self, scale_set: dict[str, Any], nic: str, ip: str, balancer_id: str, pool: dict[str, Any]) -> list[Any]:
        pool_props = pool.get("properties") or {}
        rules = []
        for instance in scale_set.get("_instances", []):
            name = f"{pool['name']}.{instance['instanceId']}"
            configuration = (f"{scale_set['id']}/virtualMachines/{instance['instanceId']}/networkInterfaces/{nic}"
                             f"/ipConfigurations/{ip}")
            rules.append({"name": name, "id": f"{balancer_id}/inboundNatRules/{name}", "properties": {
                "frontendIPConfiguration": pool_props.get("frontendIPConfiguration"),
                "frontendPort": int(pool_props.get("frontendPortRangeStart", 0)) + self._slot(scale_set, instance),
                "backendPort": pool_props.get("backendPort"), "protocol": pool_props.get("protocol"),
                "enableFloatingIP": False, "idleTimeoutInMinutes": pool_props.get("idleTimeoutInMinutes", 4),
                "backendIPConfiguration": {"id": configuration}, "provisioningState": "Succeeded"}})
        return rules

    def _slot(self, scale_set: dict[str, Any], instance: dict[str, Any]) -> int:
        """The instance's place in its NAT pools' port ranges (scale_sets.free_slot gives it when the instance is made)."""
        if "_slot" not in instance:  # an instance of a state saved before slots were kept
            instance["_slot"] = free_slot(scale_set.get("_instances", []))
            self.arm.save()
        return int(instance["_slot"])

    # -- network interfaces ----------------------------------------------------------------------

    def _scale_set(self, sub: str, rg: str, name: str) -> dict[str, Any]:
        return self.arm.get(self.arm.resource_id(sub, rg, SCALE_SETS, name), SCALE_SETS)

    def _nics(self, scale_set: dict[str, Any], instance: dict[str, Any]) -> list[dict[str, Any]]:
        configurations = scale_set["properties"]["virtualMachineProfile"]["networkProfile"]["networkInterfaceConfigurations"]
        instance_id = f"{scale_set['id']}/virtualMachines/{instance['instanceId']}"
        nics = []
        for configuration in configurations:
            nic_id = f"{instance_id}/networkInterfaces/{configuration['name']}"
            ip_configurations = []
            for ip in (configuration.get("properties") or {}).get("ipConfigurations", []):
                props = ip.get("properties") or {}
                subnet = ref_id(props.get("subnet"))
                shown = {"privateIPAddress": self._address(scale_set, instance, subnet, configuration["name"], ip["name"]),
                         "privateIPAllocationMethod": "Dynamic", "privateIPAddressVersion": "IPv4",
                         "subnet": {"id": subnet}, "primary": bool(props.get("primary", True)), "provisioningState": "Succeeded"}
                for pools in ("loadBalancerBackendAddressPools", "loadBalancerInboundNatPools"):
                    if props.get(pools):
                        shown[pools] = [{"id": ref_id(p)} for p in props[pools]]
                ip_configurations.append({"name": ip["name"], "id": f"{nic_id}/ipConfigurations/{ip['name']}",
                                          "properties": shown})
            props = configuration.get("properties") or {}
            nics.append({"name": configuration["name"], "id": nic_id, "location": scale_set["location"], "properties": {
                "provisioningState": "Succeeded", "ipConfigurations": ip_configurations,
                "dnsSettings": {"dnsServers": [], "appliedDnsServers": []}, "macAddress": _mac(instance, configuration["name"]),
                "primary": bool(props.get("primary", True)), "enableAcceleratedNetworking": False,
                "enableIPForwarding": bool(props.get("enableIPForwarding", False)), "virtualMachine": {"id": instance_id},
                **({"networkSecurityGroup": {"id": ref_id(props["networkSecurityGroup"])}}
                   if props.get("networkSecurityGroup") else {})}})
        return nics

    def _address(self, scale_set: dict[str, Any], instance: dict[str, Any], subnet_id: str, nic: str, ip: str) -> str:
        """The instance's address in the subnet: given once, the lowest free one then (Dynamic), and kept on the
        instance for as long as it lives, as Azure keeps a Dynamic address while its holder exists."""
        kept: dict[str, dict[str, str]] = instance.setdefault("_addresses", {})
        key = f"{nic}/{ip}".lower()
        if key not in kept or kept[key]["subnet"] != subnet_id.lower():
            subnet = self.arm.find(subnet_id) if subnet_id else None
            address = free_address(self.arm, subnet, held_addresses(self.arm, subnet_id)) if subnet else ""
            if not address:
                return ""
            kept[key] = {"subnet": subnet_id.lower(), "address": address}
            self.arm.save()
        return kept[key]["address"]

    def list_nics(self, request: Request, sub: str, rg: str, name: str) -> Response:
        scale_set = self._scale_set(sub, rg, name)
        return self.arm.paged(request, [n for i in scale_set.get("_instances", []) for n in self._nics(scale_set, i)])

    def list_instance_nics(self, request: Request, sub: str, rg: str, name: str, instance_id: str) -> Response:
        scale_set = self._scale_set(sub, rg, name)
        return self.arm.paged(request, self._nics(scale_set, self._instance(scale_set, instance_id)))

    def get_instance_nic(self, request: Request, sub: str, rg: str, name: str, instance_id: str, nic: str) -> Response:
        scale_set = self._scale_set(sub, rg, name)
        found = next((n for n in self._nics(scale_set, self._instance(scale_set, instance_id)) if n["name"].lower() == nic.lower()),
                     None)
        if found is None:
            raise arm_errors.resource_not_found(NICS, nic, rg)
        return Response(200, found)

    def _instance(self, scale_set: dict[str, Any], instance_id: str) -> dict[str, Any]:
        found = next((i for i in scale_set.get("_instances", []) if i["instanceId"] == instance_id), None)
        if found is None:
            raise arm_errors.resource_not_found(f"{SCALE_SETS}/virtualMachines", f"{scale_set['name']}/{instance_id}",
                                                scale_set["id"].split("/")[4])
        return found


def _mac(instance: dict[str, Any], nic: str) -> str:
    """A stable MAC address in Hyper-V's range (00-15-5D), as a Stack's NICs get."""
    digits = int.from_bytes(hashlib.sha256(f"{instance['vmId']}/{nic}".encode()).digest()[:3], "big")
    return "00-15-5D-" + "-".join(f"{(digits >> s) & 0xFF:02X}" for s in (16, 8, 0))
