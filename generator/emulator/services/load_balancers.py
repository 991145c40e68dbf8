"""Microsoft.Network load balancers, as the scale set templates use them: frontend IP configurations on a
public IP or a subnet, backend address pools, probes, load-balancing rules, inbound NAT pools and rules
(inline, or as ``loadBalancers/inboundNatRules`` child resources), each with its id and provisioning state."""

from __future__ import annotations

import uuid
from typing import Any

from generator.emulator import arm_errors
from generator.emulator.arm_core import Arm, ResourceType, ref_id
from generator.emulator.routing import Route
from generator.emulator.services.network import PUBLIC_IPS, SUBNETS

LOAD_BALANCERS = "Microsoft.Network/loadBalancers"
NAT_RULES = "Microsoft.Network/loadBalancers/inboundNatRules"
_PARTS = ("frontendIPConfigurations", "backendAddressPools", "loadBalancingRules", "probes", "inboundNatPools",
          "inboundNatRules", "outboundRules")
# Integers templates often write as strings ("50000"); Network reads them as numbers.
_NUMBERS = ("frontendPort", "backendPort", "frontendPortRangeStart", "frontendPortRangeEnd", "port", "intervalInSeconds",
            "numberOfProbes", "idleTimeoutInMinutes")


class LoadBalancersService:
    def __init__(self, arm: Arm) -> None:
        self.arm = arm
        arm.types.update({
            LOAD_BALANCERS.lower(): ResourceType(shape=_shape_load_balancer, async_delete=True,
                                                 read_only=("provisioningState", "resourceGuid")),
            NAT_RULES.lower(): ResourceType(shape=_shape_nat_rule, async_delete=True),
        })

    def routes(self) -> list[Route]:
        return []


def _shape_load_balancer(arm: Arm, balancer: dict[str, Any], existing: dict[str, Any] | None) -> None:
    balancer["etag"] = f'W/"{uuid.uuid4()}"'
    props = balancer["properties"]
    props.setdefault("resourceGuid", str(uuid.uuid4()))
    balancer.setdefault("sku", {"name": "Basic"})
    for part in _PARTS:
        entries = props.get(part) or []
        for entry in entries:
            if not entry.get("name"):
                raise arm_errors.invalid_parameter(f"Every entry of {part} of load balancer {balancer['name']} needs a name.")
            entry["id"] = f"{balancer['id']}/{part}/{entry['name']}"
            settings = entry.setdefault("properties", {})
            for key in _NUMBERS:
                if isinstance(settings.get(key), str) and settings[key].isdigit():
                    settings[key] = int(settings[key])
            settings["provisioningState"] = "Succeeded"
        props[part] = entries
    for frontend in props["frontendIPConfigurations"]:
        settings = frontend["properties"]
        if settings.get("publicIPAddress") is not None:
            if (arm.find(ref_id(settings["publicIPAddress"])) or {}).get("type") != PUBLIC_IPS:
                raise arm_errors.invalid_parameter(f"Public IP address {ref_id(settings['publicIPAddress'])} of load balancer "
                                                   f"{balancer['name']} was not found.")
        elif settings.get("subnet") is not None:
            if (arm.find(ref_id(settings["subnet"])) or {}).get("type") != SUBNETS:
                raise arm_errors.invalid_parameter(f"Subnet {ref_id(settings['subnet'])} of load balancer {balancer['name']} "
                                                   "was not found.")
            settings.setdefault("privateIPAllocationMethod", "Dynamic")
    known = {entry["id"].lower() for part in _PARTS for entry in props[part]}
    for part in ("loadBalancingRules", "inboundNatPools", "inboundNatRules"):
        for entry in props[part]:
            for key in ("frontendIPConfiguration", "backendAddressPool", "probe"):
                target = ref_id(entry["properties"].get(key))
                if target and target.lower() not in known:
                    raise arm_errors.invalid_parameter(f"Resource {target} referenced by {part} {entry['name']} of load "
                                                       f"balancer {balancer['name']} was not found.")
    inline = {entry["id"].lower() for entry in props["inboundNatRules"]}
    for child in arm.resources_under(balancer["id"].lower() + "/inboundnatrules/", depth=None):
        if child["id"].lower() not in inline:
            props["inboundNatRules"].append(arm.public(child))


def _shape_nat_rule(arm: Arm, rule: dict[str, Any], existing: dict[str, Any] | None) -> None:
    settings = rule["properties"]
    for key in _NUMBERS:
        if isinstance(settings.get(key), str) and settings[key].isdigit():
            settings[key] = int(settings[key])
    rule["etag"] = f'W/"{uuid.uuid4()}"'
