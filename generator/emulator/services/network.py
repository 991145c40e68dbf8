"""Microsoft.Network: what a virtual machine needs - virtual networks and subnets, public IP addresses,
network interfaces, network security groups - with the in-use checks Network makes before a delete."""

from __future__ import annotations

import ipaddress
import uuid
from typing import Any

from generator.emulator import arm_errors
from generator.emulator.arm_core import Arm, ResourceType, ref_id
from generator.emulator.routing import Route

VNETS = "Microsoft.Network/virtualNetworks"
SUBNETS = "Microsoft.Network/virtualNetworks/subnets"
PUBLIC_IPS = "Microsoft.Network/publicIPAddresses"
NICS = "Microsoft.Network/networkInterfaces"
NSGS = "Microsoft.Network/networkSecurityGroups"


def _etag(resource: dict[str, Any]) -> None:
    resource["etag"] = f'W/"{uuid.uuid4()}"'
    resource["properties"].setdefault("resourceGuid", str(uuid.uuid4()))


def _nics_referring(arm: Arm, needle: str) -> list[dict[str, Any]]:
    """Network interfaces whose IP configurations reference ``needle`` (a subnet or public IP id, lower case)."""
    found = []
    for nic in arm.data["resources"].values():
        if nic["type"] != NICS:
            continue
        for config in nic["properties"].get("ipConfigurations", []):
            props = config.get("properties", {})
            subnet, address = ref_id(props.get("subnet")).lower(), ref_id(props.get("publicIPAddress")).lower()
            if needle in (subnet, address) or subnet.startswith(needle + "/"):
                found.append(nic)
                break
    return found


class NetworkService:
    def __init__(self, arm: Arm) -> None:
        self.arm = arm
        common = dict(async_delete=True, read_only=("provisioningState", "resourceGuid"))
        arm.types.update({
            VNETS.lower(): ResourceType(shape=_shape_vnet, before_delete=_vnet_not_in_use, **common),
            PUBLIC_IPS.lower(): ResourceType(shape=_shape_public_ip, before_delete=_public_ip_not_in_use,
                                             async_delete=True, read_only=("provisioningState", "resourceGuid", "ipAddress", "ipConfiguration")),
            NICS.lower(): ResourceType(shape=_shape_nic, before_delete=_nic_not_in_use, async_delete=True,
                                       read_only=("provisioningState", "resourceGuid", "macAddress", "virtualMachine", "primary")),
            NSGS.lower(): ResourceType(shape=_shape_nsg, async_delete=True,
                                       read_only=("provisioningState", "resourceGuid", "defaultSecurityRules", "networkInterfaces")),
        })

    def routes(self) -> list[Route]:
        return []


def _shape_vnet(arm: Arm, vnet: dict[str, Any], existing: dict[str, Any] | None) -> None:
    """Subnets given inline become child resources; the vnet shows its children, as ARM does."""
    _etag(vnet)
    inline = vnet["properties"].pop("subnets", None)
    if inline is not None and inline != vnet.get("_shown_subnets"):
        kept = {str(s.get("name", "")).lower() for s in inline}
        for subnet in arm.resources_under(vnet["id"].lower() + "/subnets/", depth=None):
            if subnet["name"].lower() not in kept:
                if _nics_referring(arm, subnet["id"].lower()):
                    raise arm_errors.subnet_in_use(f"Subnet {subnet['name']} is")
                arm.delete_tree(subnet["id"])
        for subnet in inline:
            subnet_id = f"{vnet['id']}/subnets/{subnet['name']}"
            arm.store({"id": subnet_id, "name": subnet["name"], "type": SUBNETS, "etag": vnet["etag"],
                       "properties": {**dict(subnet.get("properties") or {}), "provisioningState": "Succeeded"}})
    shown = [arm.public(s) for s in arm.resources_under(vnet["id"].lower() + "/subnets/", depth=None)]
    vnet["properties"]["subnets"] = shown
    vnet["_shown_subnets"] = shown


def _vnet_not_in_use(arm: Arm, vnet: dict[str, Any]) -> None:
    if _nics_referring(arm, vnet["id"].lower() + "/subnets"):
        raise arm_errors.subnet_in_use(f"Subnets of virtual network {vnet['name']} are")


def _shape_public_ip(arm: Arm, ip: dict[str, Any], existing: dict[str, Any] | None) -> None:
    _etag(ip)
    props = ip["properties"]
    props.setdefault("publicIPAllocationMethod", "Dynamic")
    props.setdefault("publicIPAddressVersion", "IPv4")
    props.setdefault("idleTimeoutInMinutes", 4)
    if "ipAddress" not in props:
        taken = {r["properties"].get("ipAddress") for r in arm.data["resources"].values() if r["type"] == PUBLIC_IPS}
        props["ipAddress"] = next(f"192.0.2.{n}" for n in range(10, 255) if f"192.0.2.{n}" not in taken)
    ip.setdefault("sku", {"name": "Basic"})
    label = (props.get("dnsSettings") or {}).get("domainNameLabel")
    if label:
        props["dnsSettings"]["fqdn"] = f"{label}.{arm.ctx.addresses.public_ip_suffix}"


def _public_ip_not_in_use(arm: Arm, ip: dict[str, Any]) -> None:
    users = _nics_referring(arm, ip["id"].lower())
    if users:
        raise arm_errors.public_ip_in_use(ip["id"], users[0]["id"])


def _shape_nic(arm: Arm, nic: dict[str, Any], existing: dict[str, Any] | None) -> None:
    _etag(nic)
    configs = nic["properties"].get("ipConfigurations") or []
    if not configs:
        raise arm_errors.invalid_parameter("A network interface needs at least one IP configuration.")
    for index, config in enumerate(configs):
        props = config.setdefault("properties", {})
        name = config.setdefault("name", f"ipconfig{index + 1}")
        config["id"] = f"{nic['id']}/ipConfigurations/{name}"
        subnet = arm.find(ref_id(props.get("subnet")))
        if subnet is None or subnet["type"] != SUBNETS:
            raise arm_errors.invalid_parameter(
                f"Subnet {ref_id(props.get('subnet')) or '(none)'} of network interface {nic['name']} was not found.")
        if props.get("publicIPAddress") is not None and (arm.find(ref_id(props["publicIPAddress"])) or {}).get("type") != PUBLIC_IPS:
            raise arm_errors.invalid_parameter(
                f"Public IP address {ref_id(props['publicIPAddress'])} of network interface {nic['name']} was not found.")
        if "privateIPAddress" not in props:
            prefix = ipaddress.ip_network(subnet["properties"].get("addressPrefix", "10.0.0.0/24"), strict=False)
            used = sum(1 for n in _nics_referring(arm, subnet["id"].lower()) if n["id"] != nic["id"])
            props["privateIPAddress"] = str(prefix.network_address + 4 + used)
        props.setdefault("privateIPAllocationMethod", "Dynamic")
        props["provisioningState"] = "Succeeded"
        config.setdefault("primary", index == 0)
    nsg = nic["properties"].get("networkSecurityGroup")
    if nsg is not None and (arm.find(ref_id(nsg)) or {}).get("type") != NSGS:
        raise arm_errors.invalid_parameter(f"Network security group {ref_id(nsg)} was not found.")
    nic["properties"].setdefault("macAddress", "00-0D-3A-" + "-".join(f"{b:02X}" for b in uuid.uuid4().bytes[:3]))
    nic["properties"].setdefault("primary", True)


def _nic_not_in_use(arm: Arm, nic: dict[str, Any]) -> None:
    machine = nic["properties"].get("virtualMachine")
    if machine:
        raise arm_errors.nic_in_use(nic["id"], machine["id"])


def _shape_nsg(arm: Arm, nsg: dict[str, Any], existing: dict[str, Any] | None) -> None:
    _etag(nsg)
    rules = nsg["properties"].get("securityRules") or []
    for rule in rules:
        rule["id"] = f"{nsg['id']}/securityRules/{rule.get('name')}"
        rule.setdefault("properties", {})["provisioningState"] = "Succeeded"
    nsg["properties"]["securityRules"] = rules
    nsg["properties"]["defaultSecurityRules"] = [
        {"id": f"{nsg['id']}/defaultSecurityRules/{name}", "name": name,
         "properties": {"access": access, "direction": direction, "priority": priority, "protocol": "*",
                        "sourceAddressPrefix": "*", "destinationAddressPrefix": "*", "sourcePortRange": "*",
                        "destinationPortRange": "*", "provisioningState": "Succeeded"}}
        for name, access, direction, priority in (
            ("AllowVnetInBound", "Allow", "Inbound", 65000), ("DenyAllInBound", "Deny", "Inbound", 65500),
            ("AllowVnetOutBound", "Allow", "Outbound", 65000), ("DenyAllOutBound", "Deny", "Outbound", 65500))
    ]
