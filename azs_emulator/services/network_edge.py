"""Microsoft.Network beyond a VM's own needs: load balancers (frontends, pools, rules, probes, NAT rules and
pools as children), route tables and routes, VPN gateways (sku capacity, BGP settings, IP configurations, BGP
views), local network gateways and connections, with the properties and defaults the REST specs' examples show."""

from __future__ import annotations

import functools
import uuid
from typing import Any

from azs_emulator import arm_errors, child_collections
from azs_emulator.arm_core import Arm, ref_id
from azs_emulator.child_collections import ChildCollection
from azs_emulator.protocol import Request, Response
from azs_emulator.resource_types import ResourceType, TypeDeclarations
from azs_emulator.routing import Route
from azs_emulator.services.network import free_address, held_addresses, set_etag, spelled

LOAD_BALANCERS = "Microsoft.Network/loadBalancers"
ROUTE_TABLES = "Microsoft.Network/routeTables"
VPN_GATEWAYS = "Microsoft.Network/virtualNetworkGateways"
LOCAL_GATEWAYS = "Microsoft.Network/localNetworkGateways"
CONNECTIONS = "Microsoft.Network/connections"


class NetworkEdgeService:
    def __init__(self, arm: Arm) -> None:
        self.arm = arm

    def resource_types(self) -> TypeDeclarations:
        owned = ("provisioningState", "resourceGuid")
        network_type = functools.partial(ResourceType, async_delete=True, put_replaces=True)  # long-running delete; a PUT replaces
        return TypeDeclarations({
            LOAD_BALANCERS: network_type(shape=_shape_load_balancer, read_only=owned),
            ROUTE_TABLES: network_type(shape=_shape_route_table, read_only=owned),
            f"{ROUTE_TABLES}/routes": network_type(),
            VPN_GATEWAYS: network_type(shape=_shape_vpn_gateway, create_status=201, read_only=owned,
                                       actions={f"post {a}": _no_bgp_routes for a in _BGP_VIEWS}),
            LOCAL_GATEWAYS: network_type(shape=_shape_etag_only, read_only=owned),
            CONNECTIONS: network_type(shape=_shape_connection,
                                      read_only=(*owned, "connectionStatus", "ingressBytesTransferred", "egressBytesTransferred")),
            **{f"{LOAD_BALANCERS}/{c.name}": network_type(shape=_shape_lb_child) for c in _LB_COLLECTIONS},
            f"{VPN_GATEWAYS}/ipConfigurations": network_type(shape=_shape_lb_child),
        })

    def routes(self) -> list[Route]:
        return []


def _shape_etag_only(arm: Arm, resource: dict[str, Any], existing: dict[str, Any] | None) -> None:
    set_etag(resource)


_LB_COLLECTIONS = tuple(ChildCollection(name) for name in (
    "frontendIPConfigurations", "backendAddressPools", "loadBalancingRules", "probes", "inboundNatRules", "inboundNatPools"))


def _shape_load_balancer(arm: Arm, lb: dict[str, Any], existing: dict[str, Any] | None) -> None:
    set_etag(lb)
    lb.setdefault("sku", {"name": "Basic"})
    lb["sku"]["name"] = spelled(lb["sku"].get("name"), ("Basic", "Standard"))
    _check_load_balancer_parts(arm, lb)
    child_collections.sync(arm, lb, _LB_COLLECTIONS)


_LB_PARTS = ("frontendIPConfigurations", "backendAddressPools", "loadBalancingRules", "probes", "inboundNatPools",
             "inboundNatRules", "outboundRules")
# Integers templates often write as strings ("50000"); Network reads them as numbers.
_LB_NUMBERS = ("frontendPort", "backendPort", "frontendPortRangeStart", "frontendPortRangeEnd", "port", "intervalInSeconds",
               "numberOfProbes", "idleTimeoutInMinutes")


def _check_load_balancer_parts(arm: Arm, lb: dict[str, Any]) -> None:
    """What Network refuses in a load balancer's inline parts: a nameless part, a frontend on a public IP or subnet that
    does not exist, a rule naming a frontend, pool or probe the balancer lacks; and numbers written as strings read."""
    props = lb["properties"]
    known = set()
    for part in _LB_PARTS:
        for entry in props.get(part) or []:
            if not entry.get("name"):
                raise arm_errors.invalid_parameter(f"Every entry of {part} of load balancer {lb['name']} needs a name.")
            known.add(f"{lb['id']}/{part}/{entry['name']}".lower())
            settings = entry.setdefault("properties", {})
            for key in _LB_NUMBERS:
                if isinstance(settings.get(key), str) and settings[key].isdigit():
                    settings[key] = int(settings[key])
    for frontend in props.get("frontendIPConfigurations") or []:
        settings = frontend["properties"]
        for key, wanted, what in (("publicIPAddress", "Microsoft.Network/publicIPAddresses", "Public IP address"),
                                  ("subnet", "Microsoft.Network/virtualNetworks/subnets", "Subnet")):
            target = ref_id(settings.get(key))
            if target and (arm.find(target) or {}).get("type") != wanted:
                raise arm_errors.invalid_parameter(f"{what} {target} of load balancer {lb['name']} was not found.")
    for part in ("loadBalancingRules", "inboundNatPools", "inboundNatRules"):
        for entry in props.get(part) or []:
            for key in ("frontendIPConfiguration", "backendAddressPool", "probe"):
                target = ref_id(entry["properties"].get(key))
                if target and target.lower() not in known:
                    raise arm_errors.invalid_parameter(f"Resource {target} referenced by {part} {entry['name']} of load "
                                                       f"balancer {lb['name']} was not found.")


# Defaults the Network spec gives each load balancer (and gateway) child's properties.
_LB_CHILD_DEFAULTS: dict[str, dict[str, Any]] = {
    "frontendIPConfigurations": {"privateIPAllocationMethod": "Dynamic"},
    "ipConfigurations": {"privateIPAllocationMethod": "Dynamic"},
    "loadBalancingRules": {"idleTimeoutInMinutes": 4, "enableFloatingIP": False, "loadDistribution": "Default"},
    "inboundNatRules": {"idleTimeoutInMinutes": 4, "enableFloatingIP": False},
    "inboundNatPools": {"idleTimeoutInMinutes": 4, "enableFloatingIP": False},
    "probes": {"intervalInSeconds": 15, "numberOfProbes": 2},
}


def _shape_lb_child(arm: Arm, child: dict[str, Any], existing: dict[str, Any] | None) -> None:
    """A load balancer's (or gateway's) frontend, pool, rule or probe: the defaults Network fills in, and a private
    address from the subnet for a frontend on one."""
    child["etag"] = f'W/"{uuid.uuid4()}"'
    collection = child["type"].rsplit("/", 1)[-1]
    props = child["properties"]
    for key, value in _LB_CHILD_DEFAULTS.get(collection, {}).items():
        props.setdefault(key, value)
    if "privateIPAllocationMethod" in props:
        props["privateIPAllocationMethod"] = spelled(props["privateIPAllocationMethod"], ("Dynamic", "Static"))
        subnet = arm.find(ref_id(props.get("subnet")))
        if subnet is not None and not props.get("privateIPAddress"):
            props["privateIPAddress"] = free_address(arm, subnet, held_addresses(arm, subnet["id"], child["id"]))
    for key in ("protocol",):
        if key in props:
            props[key] = spelled(props[key], ("Tcp", "Udp", "All", "Http", "Https"))
    props["provisioningState"] = "Succeeded"


def _shape_route_table(arm: Arm, table: dict[str, Any], existing: dict[str, Any] | None) -> None:
    set_etag(table)
    table["properties"].setdefault("disableBgpRoutePropagation", False)
    child_collections.sync(arm, table, (ChildCollection("routes"),))


# What each Stack VPN gateway SKU is ("Azure Stack Hub VPN gateway settings": Basic, Standard, HighPerformance).
_GATEWAY_SKUS = ("Basic", "Standard", "HighPerformance", "VpnGw1", "VpnGw2", "VpnGw3")


def _shape_vpn_gateway(arm: Arm, gateway: dict[str, Any], existing: dict[str, Any] | None) -> None:
    """A virtual network gateway: its sku with the ``capacity`` Network computes, the enums in their spelling,
    BGP settings when BGP is on, its IP configurations as children."""
    set_etag(gateway)
    props = gateway["properties"]
    sku = props.setdefault("sku", {"name": "Basic"})
    sku["name"] = spelled(sku.get("name"), _GATEWAY_SKUS)
    sku["tier"] = spelled(sku.get("tier") or sku["name"], _GATEWAY_SKUS)
    sku["capacity"] = 2
    props["gatewayType"] = spelled(props.get("gatewayType", "Vpn"), ("Vpn", "ExpressRoute"))
    props["vpnType"] = spelled(props.get("vpnType", "RouteBased"), ("RouteBased", "PolicyBased"))
    props.setdefault("enableBgp", False)
    props.setdefault("activeActive", False)
    client = props.get("vpnClientConfiguration")
    if isinstance(client, dict):  # the spec's lists, [] when unset (az's ipsec-policy list reads them after a clear)
        for key in ("vpnClientProtocols", "vpnClientRootCertificates", "vpnClientRevokedCertificates",
                    "vpnClientIpsecPolicies"):
            client.setdefault(key, [])
    if props["enableBgp"]:
        bgp = props.setdefault("bgpSettings", {})
        bgp.setdefault("asn", 65515)
        bgp.setdefault("peerWeight", 0)
        bgp.setdefault("bgpPeeringAddress", "10.0.0.254")
    child_collections.sync(arm, gateway, (ChildCollection("ipConfigurations"),))


def _shape_connection(arm: Arm, connection: dict[str, Any], existing: dict[str, Any] | None) -> None:
    set_etag(connection)
    props = connection["properties"]
    props["connectionType"] = spelled(props.get("connectionType"), ("IPsec", "Vnet2Vnet", "ExpressRoute", "VPNClient"))
    props.setdefault("connectionStatus", "Unknown")
    props.setdefault("ingressBytesTransferred", 0)
    props.setdefault("egressBytesTransferred", 0)
    props.setdefault("ipsecPolicies", [])
    props.setdefault("usePolicyBasedTrafficSelectors", False)
    props.setdefault("enableBgp", False)
    props.setdefault("routingWeight", 0)


_BGP_VIEWS = ("getlearnedroutes", "getadvertisedroutes", "getbgppeerstatus")


def _no_bgp_routes(arm: Arm, request: Request, gateway: dict[str, Any]) -> Response:
    """A gateway's BGP views: nothing learned, advertised or peered, since no on-premises device ever connects."""
    return arm.accepted(request, gateway["id"].split("/")[2], result={"value": []})
