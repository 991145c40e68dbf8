"""Microsoft.Network: what a virtual machine needs - virtual networks and subnets, public IP addresses,
network interfaces, network security groups, virtual network peerings - with the in-use checks Network makes before a delete
and the properties Network computes
(the REST specs' examples show them; load balancers, route tables and gateways: ``network_edge``). Child
collections show in their parent (``child_collections``)."""

from __future__ import annotations

import functools
import ipaddress
import itertools
import uuid
from typing import Any

from azs_emulator import arm_errors, child_collections
from azs_emulator.arm_core import Arm, ref_id
from azs_emulator.child_collections import ChildCollection
from azs_emulator.protocol import Request, Response
from azs_emulator.resource_types import ResourceType, TypeDeclarations
from azs_emulator.routing import Route

VNETS = "Microsoft.Network/virtualNetworks"
SUBNETS = "Microsoft.Network/virtualNetworks/subnets"
PUBLIC_IPS = "Microsoft.Network/publicIPAddresses"
NICS = "Microsoft.Network/networkInterfaces"
NSGS = "Microsoft.Network/networkSecurityGroups"


def set_etag(resource: dict[str, Any]) -> None:
    """A new etag, and the resource GUID Network gives a resource once."""
    resource["etag"] = f'W/"{uuid.uuid4()}"'
    resource["properties"].setdefault("resourceGuid", str(uuid.uuid4()))


def nics_referring(arm: Arm, needle: str) -> list[dict[str, Any]]:
    """Network interfaces whose IP configurations reference ``needle`` (a subnet or public IP id, lower case)."""
    found = []
    for nic in arm.resources_of_type(NICS):
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

    def resource_types(self) -> TypeDeclarations:
        # Every Network resource: a long-running delete, and a PUT that replaces what it leaves out.
        network_type = functools.partial(ResourceType, async_delete=True, put_replaces=True)
        return TypeDeclarations({
            VNETS: network_type(shape=_shape_vnet, before_delete=_vnet_not_in_use, render=_render_vnet,
                                actions={"get checkipaddressavailability": _check_ip_address},
                                read_only=("provisioningState", "resourceGuid")),
            PUBLIC_IPS: network_type(shape=_shape_public_ip, before_delete=_public_ip_not_in_use,
                                     read_only=("provisioningState", "resourceGuid", "ipAddress", "ipConfiguration")),
            NICS: network_type(shape=_shape_nic, before_delete=_nic_not_in_use,
                               actions={"post effectivenetworksecuritygroups": _effective_nsgs,
                                        "post effectiveroutetable": _effective_routes},
                               read_only=("provisioningState", "resourceGuid", "macAddress", "virtualMachine", "primary")),
            NSGS: network_type(shape=_shape_nsg,
                               read_only=("provisioningState", "resourceGuid", "defaultSecurityRules", "networkInterfaces")),
            f"{NSGS}/securityRules": network_type(shape=_shape_security_rule),
            f"{NSGS}/defaultSecurityRules": network_type(),
            SUBNETS: network_type(shape=_shape_subnet, before_delete=_subnet_not_in_use, render=_render_subnet),
            f"{VNETS}/virtualNetworkPeerings": network_type(shape=_shape_peering, after_delete=_peering_removed,
                                                            read_only=("provisioningState", "peeringState")),
            f"{NICS}/ipConfigurations": network_type(shape=_shape_child_ip_configuration),
        })

    def routes(self) -> list[Route]:
        return []


def _subnet_not_in_use(arm: Arm, subnet: dict[str, Any]) -> None:
    if nics_referring(arm, subnet["id"].lower()):
        raise arm_errors.subnet_in_use(f"Subnet {subnet['name']} is")


_VNET_COLLECTIONS = (ChildCollection("subnets", before_remove=_subnet_not_in_use), ChildCollection("virtualNetworkPeerings"))


def _without_empty_servers(settings: Any) -> None:
    """DNS server lists keep only addresses: Azure CLI 2.66 sends ``[""]`` to clear them (``--dns-servers ""``), and
    Network answers the list cleared (assumed: an empty string is no address Network would store)."""
    if isinstance(settings, dict) and isinstance(settings.get("dnsServers"), list):
        settings["dnsServers"] = [server for server in settings["dnsServers"] if server]


def _shape_vnet(arm: Arm, vnet: dict[str, Any], existing: dict[str, Any] | None) -> None:
    """Subnets and peerings given inline become child resources; the vnet shows its children, as ARM does."""
    set_etag(vnet)
    _without_empty_servers(vnet["properties"].get("dhcpOptions"))
    vnet["properties"].setdefault("enableDdosProtection", False)
    vnet["properties"].setdefault("enableVmProtection", False)
    child_collections.sync(arm, vnet, _VNET_COLLECTIONS)


def _shape_subnet(arm: Arm, subnet: dict[str, Any], existing: dict[str, Any] | None) -> None:
    subnet["etag"] = f'W/"{uuid.uuid4()}"'
    subnet["properties"].pop("ipConfigurations", None)  # computed when shown
    subnet["properties"]["provisioningState"] = "Succeeded"


def _render_subnet(arm: Arm, subnet: dict[str, Any], request: Request | None = None) -> dict[str, Any]:
    """A subnet with the IP configurations using it (Network shows the list only when there are some)."""
    shown = arm.public(subnet)
    users = [c for nic in nics_referring(arm, subnet["id"].lower()) for c in nic["properties"].get("ipConfigurations", [])
             if ref_id(c.get("properties", {}).get("subnet")).lower() == subnet["id"].lower()]
    if users:
        shown["properties"] = {**shown["properties"], "ipConfigurations": [{"id": c["id"]} for c in users]}
    return shown


def _render_vnet(arm: Arm, vnet: dict[str, Any], request: Request) -> dict[str, Any]:
    shown = arm.public(vnet)
    subnets = [_render_subnet(arm, s) for s in child_collections.stored_children(arm, vnet, "subnets")]
    shown["properties"] = {**shown["properties"], "subnets": subnets}
    return shown


def _shape_peering(arm: Arm, peering: dict[str, Any], existing: dict[str, Any] | None) -> None:
    """``peeringState``: Initiated until the remote vnet peers back, then Connected on both sides; the remote's
    address space is shown, as Network computes it."""
    props = peering["properties"]
    for flag in ("allowVirtualNetworkAccess", "allowForwardedTraffic", "allowGatewayTransit", "useRemoteGateways"):
        props.setdefault(flag, flag == "allowVirtualNetworkAccess")
    local_vnet = peering["id"].rsplit("/virtualNetworkPeerings/", 1)[0]
    remote = arm.find(ref_id(props.get("remoteVirtualNetwork")))
    if remote is None or remote["type"] != VNETS:
        raise arm_errors.invalid_parameter(
            f"The remote virtual network {ref_id(props.get('remoteVirtualNetwork')) or '(none)'} of peering {peering['name']} "
            "was not found.")
    props["remoteAddressSpace"] = remote["properties"].get("addressSpace", {"addressPrefixes": []})
    back = next((p for p in child_collections.stored_children(arm, remote, "virtualNetworkPeerings")
                 if ref_id(p["properties"].get("remoteVirtualNetwork")).lower() == local_vnet.lower()), None)
    props["peeringState"] = "Connected" if back is not None else "Initiated"
    if back is not None and back["properties"].get("peeringState") != "Connected":
        back["properties"]["peeringState"] = "Connected"
        _reshow(arm, remote, _VNET_COLLECTIONS)


def _peering_removed(arm: Arm, peering: dict[str, Any]) -> None:
    """The remote side's peering turns Disconnected when one side is deleted."""
    remote = arm.find(ref_id(peering["properties"].get("remoteVirtualNetwork")))
    local_vnet = peering["id"].rsplit("/virtualNetworkPeerings/", 1)[0].lower()
    if remote is None:
        return
    for back in child_collections.stored_children(arm, remote, "virtualNetworkPeerings"):
        if ref_id(back["properties"].get("remoteVirtualNetwork")).lower() == local_vnet:
            back["properties"]["peeringState"] = "Disconnected"
            _reshow(arm, remote, _VNET_COLLECTIONS)


def _reshow(arm: Arm, parent: dict[str, Any], collections: tuple[ChildCollection, ...]) -> None:
    """Show a parent's children again after one changed without a PUT of its own."""
    for collection in collections:
        shown = [arm.public(c) for c in child_collections.stored_children(arm, parent, collection.name)]
        parent["properties"][collection.name] = shown
        parent.setdefault("_shown", {})[collection.name] = shown


def _check_ip_address(arm: Arm, request: Request, vnet: dict[str, Any]) -> Response:
    """``CheckIPAddressAvailability``: ``available``, and when not, up to five free addresses of the same subnet."""
    try:
        address = ipaddress.ip_address(request.query.get("ipAddress", ""))
    except ValueError:
        raise arm_errors.invalid_parameter(f"The IP address '{request.query.get('ipAddress', '')}' is not valid.") from None
    for subnet in child_collections.stored_children(arm, vnet, "subnets"):
        prefix = ipaddress.ip_network(subnet["properties"].get("addressPrefix", "0.0.0.0/32"), strict=False)
        if address in prefix:
            # Azure keeps a subnet's first four addresses and its last (broadcast, which hosts() leaves out too).
            held = held_addresses(arm, subnet["id"])
            usable = [a for a in itertools.islice(prefix.hosts(), 3, None) if str(a) not in held]
            if address in usable:
                return Response(200, {"available": True})
            return Response(200, {"available": False, "availableIPAddresses": [str(a) for a in usable[:5]]})
    return Response(200, {"available": False, "availableIPAddresses": []})


def _vnet_not_in_use(arm: Arm, vnet: dict[str, Any]) -> None:
    if nics_referring(arm, vnet["id"].lower() + "/subnets"):
        raise arm_errors.subnet_in_use(f"Subnets of virtual network {vnet['name']} are")


def _shape_public_ip(arm: Arm, ip: dict[str, Any], existing: dict[str, Any] | None) -> None:
    set_etag(ip)
    props = ip["properties"]
    props.setdefault("publicIPAllocationMethod", "Dynamic")
    props.setdefault("publicIPAddressVersion", "IPv4")
    props.setdefault("idleTimeoutInMinutes", 4)
    if "ipAddress" not in props:
        taken = {r["properties"].get("ipAddress") for r in arm.resources_of_type(PUBLIC_IPS)}
        props["ipAddress"] = next(f"192.0.2.{n}" for n in range(10, 255) if f"192.0.2.{n}" not in taken)
    ip.setdefault("sku", {"name": "Basic"})
    label = (props.get("dnsSettings") or {}).get("domainNameLabel")
    if label:
        props["dnsSettings"]["fqdn"] = f"{label}.{arm.ctx.addresses.public_ip_suffix}"


# What holds a private address in a subnet besides NICs: load balancer frontends (children of their balancer), and
# scale set instances, which keep theirs on the instance as each is given one (services/scale_set_actions.py).
_FRONTENDS = "Microsoft.Network/loadBalancers/frontendIPConfigurations"
_SCALE_SETS = "Microsoft.Compute/virtualMachineScaleSets"


def held_addresses(arm: Arm, subnet_id: str, except_id: str = "") -> set[str]:
    """Every private address held in the subnet ``subnet_id`` (but by the resource ``except_id``, being shaped)."""
    subnet, held = subnet_id.lower(), set()
    configurations = [c for n in arm.resources_of_type(NICS) if n["id"].lower() != except_id.lower()
                      for c in n["properties"].get("ipConfigurations", [])]
    configurations += [f for f in arm.resources_of_type(_FRONTENDS) if f["id"].lower() != except_id.lower()]
    for configuration in configurations:
        props = configuration.get("properties") or {}
        if ref_id(props.get("subnet")).lower() == subnet and props.get("privateIPAddress"):
            held.add(str(props["privateIPAddress"]))
    for scale_set in arm.resources_of_type(_SCALE_SETS):
        for instance in scale_set.get("_instances", []):
            held |= {kept["address"] for kept in instance.get("_addresses", {}).values() if kept["subnet"] == subnet}
    return held


def free_address(arm: Arm, subnet: dict[str, Any], held: set[str]) -> str:
    """The lowest address of ``subnet`` that nothing ``held``, past the four Azure keeps (network, gateway, DNS):
    what Dynamic allocation gives. Empty when the subnet is full or has no prefix."""
    props = subnet.get("properties") or {}
    prefix = str(props.get("addressPrefix") or next(iter(props.get("addressPrefixes") or []), ""))
    if not prefix:
        return ""
    network = ipaddress.ip_network(prefix, strict=False)
    return next((str(a) for a in itertools.islice(network.hosts(), 3, None) if str(a) not in held), "")


def _public_ip_not_in_use(arm: Arm, ip: dict[str, Any]) -> None:
    users = nics_referring(arm, ip["id"].lower())
    if users:
        raise arm_errors.public_ip_in_use(ip["id"], users[0]["id"])


def _shape_nic(arm: Arm, nic: dict[str, Any], existing: dict[str, Any] | None) -> None:
    set_etag(nic)
    configs = nic["properties"].get("ipConfigurations") or []
    if not configs:
        raise arm_errors.invalid_parameter("A network interface needs at least one IP configuration.")
    for index, config in enumerate(configs):
        props = config.setdefault("properties", {})
        name = config.setdefault("name", f"ipconfig{index + 1}")
        config["id"] = f"{nic['id']}/ipConfigurations/{name}"
        if str(props.get("privateIPAddressVersion", "IPv4")).lower() == "ipv6" and arm.ctx.release != "azure":
            # "Differences and considerations for Azure Stack Hub networking": only IPv4 is supported.
            raise arm_errors.invalid_parameter(
                f"IP configuration {name} of network interface {nic['name']} asks for IPv6; Azure Stack Hub supports IPv4 only.")
        subnet = arm.find(ref_id(props.get("subnet")))
        if subnet is None or subnet["type"] != SUBNETS:
            raise arm_errors.invalid_parameter(
                f"Subnet {ref_id(props.get('subnet')) or '(none)'} of network interface {nic['name']} was not found.")
        if props.get("publicIPAddress") is not None and (arm.find(ref_id(props["publicIPAddress"])) or {}).get("type") != PUBLIC_IPS:
            raise arm_errors.invalid_parameter(
                f"Public IP address {ref_id(props['publicIPAddress'])} of network interface {nic['name']} was not found.")
        if "privateIPAddress" not in props:
            # This NIC's own earlier configurations in the same subnet hold theirs too.
            own = {str(c["properties"]["privateIPAddress"]) for c in configs[:index]
                   if ref_id(c["properties"].get("subnet")).lower() == subnet["id"].lower()}
            props["privateIPAddress"] = free_address(arm, subnet, held_addresses(arm, subnet["id"], nic["id"]) | own)
        props.setdefault("privateIPAllocationMethod", "Dynamic")
        props["provisioningState"] = "Succeeded"
        props.setdefault("primary", index == 0)
    nsg = nic["properties"].get("networkSecurityGroup")
    if nsg is not None and (arm.find(ref_id(nsg)) or {}).get("type") != NSGS:
        raise arm_errors.invalid_parameter(f"Network security group {ref_id(nsg)} was not found.")
    nic["properties"].setdefault("macAddress", "00-0D-3A-" + "-".join(f"{b:02X}" for b in uuid.uuid4().bytes[:3]))
    nic["properties"].setdefault("primary", True)
    nic["properties"].setdefault("enableIPForwarding", False)
    nic["properties"].setdefault("dnsSettings", {"dnsServers": [], "appliedDnsServers": []})
    _without_empty_servers(nic["properties"]["dnsSettings"])
    child_collections.sync(arm, nic, (ChildCollection("ipConfigurations"),))


def _shape_child_ip_configuration(arm: Arm, config: dict[str, Any], existing: dict[str, Any] | None) -> None:
    """A network interface's IP configuration, as a child (its checks are the interface's, made on the interface)."""
    config["properties"].setdefault("privateIPAllocationMethod", "Dynamic")
    config["properties"].setdefault("privateIPAddressVersion", "IPv4")


def _nic_not_in_use(arm: Arm, nic: dict[str, Any]) -> None:
    machine = nic["properties"].get("virtualMachine")
    if machine:
        raise arm_errors.nic_in_use(nic["id"], machine["id"])


def _shape_nsg(arm: Arm, nsg: dict[str, Any], existing: dict[str, Any] | None) -> None:
    set_etag(nsg)
    child_collections.sync(arm, nsg, (ChildCollection("securityRules"),))
    nsg["properties"]["defaultSecurityRules"] = [
        {"id": f"{nsg['id']}/defaultSecurityRules/{name}", "name": name,
         "properties": {"description": description, "access": access, "direction": direction, "priority": priority,
                        "protocol": "*", "sourceAddressPrefix": source, "destinationAddressPrefix": destination,
                        "sourcePortRange": "*", "destinationPortRange": "*", **_EMPTY_RULE_LISTS,
                        "provisioningState": "Succeeded"}}
        for name, description, access, direction, priority, source, destination in (
            ("AllowVnetInBound", "Allow inbound traffic from all VMs in VNET", "Allow", "Inbound", 65000,
             "VirtualNetwork", "VirtualNetwork"),
            ("AllowAzureLoadBalancerInBound", "Allow inbound traffic from azure load balancer", "Allow", "Inbound", 65001,
             "AzureLoadBalancer", "*"),
            ("DenyAllInBound", "Deny all inbound traffic", "Deny", "Inbound", 65500, "*", "*"),
            ("AllowVnetOutBound", "Allow outbound traffic from all VMs to all VMs in VNET", "Allow", "Outbound", 65000,
             "VirtualNetwork", "VirtualNetwork"),
            ("AllowInternetOutBound", "Allow outbound traffic from all VMs to Internet", "Allow", "Outbound", 65001,
             "*", "Internet"),
            ("DenyAllOutBound", "Deny all outbound traffic", "Deny", "Outbound", 65500, "*", "*"))
    ]


_EMPTY_RULE_LISTS: dict[str, list[str]] = {"sourcePortRanges": [], "destinationPortRanges": [], "sourceAddressPrefixes": [],
                     "destinationAddressPrefixes": []}
# Enum members of a security rule, in the spec's spelling (a client may send any case).
_RULE_ENUMS = {"access": ("Allow", "Deny"), "direction": ("Inbound", "Outbound"),
               "protocol": ("Tcp", "Udp", "Icmp", "*")}


def _shape_security_rule(arm: Arm, rule: dict[str, Any], existing: dict[str, Any] | None) -> None:
    """A security rule as Network shows it: every list property present ([] when unset), enums in their spelling."""
    rule["etag"] = f'W/"{uuid.uuid4()}"'
    props = rule["properties"]
    for key, value in _EMPTY_RULE_LISTS.items():
        props.setdefault(key, list(value))
    for key, members in _RULE_ENUMS.items():
        props[key] = spelled(props.get(key), members)
    props["provisioningState"] = "Succeeded"


def spelled(value: Any, members: tuple[str, ...]) -> Any:
    """An enum value in the spec's spelling (ARM reads enums case-insensitively and answers its own spelling)."""
    return next((m for m in members if isinstance(value, str) and m.lower() == value.lower()), value)


# -- views Network computes on request -------------------------------------------------------------------


def _effective_nsgs(arm: Arm, request: Request, nic: dict[str, Any]) -> Response:
    """The security groups in force on an interface (its own, and each subnet's), with their rules as one list."""
    groups = [ref_id(nic["properties"].get("networkSecurityGroup"))]
    for config in nic["properties"].get("ipConfigurations", []):
        subnet = arm.find(ref_id(config.get("properties", {}).get("subnet")))
        groups.append(ref_id((subnet or {}).get("properties", {}).get("networkSecurityGroup")))
    value = []
    for nsg in (arm.find(g) for g in dict.fromkeys(g for g in groups if g)):
        if nsg is None:
            continue
        rules = [*nsg["properties"].get("securityRules", []), *nsg["properties"].get("defaultSecurityRules", [])]
        value.append({"networkSecurityGroup": {"id": nsg["id"]}, "association": {"networkInterface": {"id": nic["id"]}},
                      "effectiveSecurityRules": [
                          {"name": r["name"], **{k: r["properties"].get(k) for k in (
                              "protocol", "sourcePortRange", "destinationPortRange", "sourceAddressPrefix",
                              "destinationAddressPrefix", "access", "priority", "direction")}} for r in rules]})
    return arm.accepted(request, nic["id"].split("/")[2], result={"value": value})


def _effective_routes(arm: Arm, request: Request, nic: dict[str, Any]) -> Response:
    """The system routes of the interface's virtual network: the vnet's own prefixes, then the Internet."""
    prefixes: list[str] = []
    for config in nic["properties"].get("ipConfigurations", []):
        subnet_id = ref_id(config.get("properties", {}).get("subnet"))
        vnet = arm.find(subnet_id.rsplit("/subnets/", 1)[0]) if subnet_id else None
        prefixes += (vnet or {}).get("properties", {}).get("addressSpace", {}).get("addressPrefixes", [])
    routes = [{"source": "Default", "state": "Active", "addressPrefix": list(dict.fromkeys(prefixes)),
               "nextHopIpAddress": [], "nextHopType": "VnetLocal"},
              {"source": "Default", "state": "Active", "addressPrefix": ["0.0.0.0/0"], "nextHopIpAddress": [],
               "nextHopType": "Internet"}]
    return arm.accepted(request, nic["id"].split("/")[2], result={"value": routes})
