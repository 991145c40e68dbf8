"""Microsoft.Network DNS zones (location ``global``) and their record sets: a new zone has its SOA and NS
record sets at ``@``; record sets are read per type (``dnszones/Z/A``) or all together (``dnszones/Z/recordsets``)."""

from __future__ import annotations

import uuid
from typing import Any

from azs_emulator import arm_errors
from azs_emulator.arm_core import Arm
from azs_emulator.protocol import Request, Response
from azs_emulator.resource_types import ResourceType, TypeDeclarations
from azs_emulator.routing import Route

ZONES = "Microsoft.Network/dnszones"
RECORD_TYPES = ("A", "AAAA", "CAA", "CNAME", "MX", "NS", "PTR", "SOA", "SRV", "TXT")
# The properties that hold each type's records, as the DNS REST API names them.
_RECORDS = {"A": "ARecords", "AAAA": "AAAARecords", "CAA": "caaRecords", "CNAME": "CNAMERecord", "MX": "MXRecords",
            "NS": "NSRecords", "PTR": "PTRRecords", "SOA": "SOARecord", "SRV": "SRVRecords", "TXT": "TXTRecords"}
MAX_RECORD_SETS = 5000


class DnsService:
    def __init__(self, arm: Arm) -> None:
        self.arm = arm

    def resource_types(self) -> TypeDeclarations:
        zone = ResourceType(shape=self._shape_zone, create_status=201, async_delete=True,
                            read_only=("nameServers", "numberOfRecordSets", "maxNumberOfRecordSets"),
                            actions={"get recordsets": self.list_record_sets, "get all": self.list_record_sets},
                            global_location=True)
        record_set = ResourceType(shape=_shape_record_set, read_only=("fqdn", "provisioningState"))
        return TypeDeclarations({ZONES: zone, **{f"{ZONES}/{record}": record_set for record in RECORD_TYPES}})

    def routes(self) -> list[Route]:
        return []

    def name_servers(self) -> list[str]:
        """The Stack's own DNS servers (its region's DNS names under the Stack's FQDN)."""
        suffix = self.arm.ctx.addresses.public_ip_suffix.replace("cloudapp.", "", 1)
        return [f"ns1-01.{suffix}.", f"ns2-01.{suffix}."]

    def _shape_zone(self, arm: Arm, zone: dict[str, Any], existing: dict[str, Any] | None) -> None:
        if "." not in zone["name"].strip("."):
            raise arm_errors.invalid_parameter(f"The zone name '{zone['name']}' must have at least two labels (contoso.com).")
        zone["etag"] = str(uuid.uuid4())
        props = zone["properties"]
        props.pop("provisioningState", None)  # zones show none
        props["nameServers"] = self.name_servers()
        props["maxNumberOfRecordSets"] = MAX_RECORD_SETS
        prefix = zone["id"].lower() + "/"
        if existing is None:
            for record, records in (("SOA", {"host": self.name_servers()[0], "email": "azuredns-hostmaster.microsoft.com",
                                             "serialNumber": 1, "refreshTime": 3600, "retryTime": 300,
                                             "expireTime": 2419200, "minimumTTL": 300}),
                                    ("NS", [{"nsdname": server} for server in self.name_servers()])):
                record_set = {"id": f"{zone['id']}/{record}/@", "name": "@", "type": f"{ZONES}/{record}",
                              "properties": {"TTL": 3600 if record == "SOA" else 172800, _RECORDS[record]: records}}
                _shape_record_set(arm, record_set, None)
                arm.store(record_set)
        props["numberOfRecordSets"] = len(arm.resources_under(prefix, depth=None))

    def list_record_sets(self, arm: Arm, request: Request, zone: dict[str, Any]) -> Response:
        found = [arm.public(r) for r in arm.resources_under(zone["id"].lower() + "/", depth=None)]
        return arm.paged(request, found)


def _shape_record_set(arm: Arm, record_set: dict[str, Any], existing: dict[str, Any] | None) -> None:
    record = record_set["type"].rsplit("/", 1)[-1].upper()
    record_set["type"] = f"{ZONES}/{record}"
    props = record_set["properties"]
    for key in list(props):  # ARM reads property names case-insensitively ("TTL", "ttl", "aRecords")
        canonical = next((name for name in (*_RECORDS.values(), "TTL", "metadata") if name.lower() == key.lower()), key)
        if canonical != key:
            props[canonical] = props.pop(key)
    if "TTL" in props:
        try:
            props["TTL"] = int(props["TTL"])
        except (TypeError, ValueError):
            raise arm_errors.invalid_parameter(f"The TTL '{props['TTL']}' of record set {record_set['name']} is not an integer.") from None
    zone = record_set["id"].split("/")[-3]
    props["fqdn"] = f"{zone}." if record_set["name"] == "@" else f"{record_set['name']}.{zone}."
    props["provisioningState"] = "Succeeded"
    record_set["etag"] = str(uuid.uuid4())
