"""Snapshots (PUT answered 200, as disks are), and exporting a managed disk or snapshot (Microsoft.Compute
``beginGetAccess`` / ``endGetAccess``, which a Stack serves from 1808's managed disks on): a read SAS for the disk's blob while access is granted, its
``diskState`` ``ActiveSAS``; a disk attached to a VM that is not deallocated is refused, as on Azure."""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from typing import Any

from azs_emulator import arm_errors
from azs_emulator.arm_core import Arm
from azs_emulator.protocol import Request, Response
from azs_emulator.resource_types import ResourceType, TypeAddition, TypeDeclarations
from azs_emulator.routing import Route

DISKS = "Microsoft.Compute/disks"
SNAPSHOTS = "Microsoft.Compute/snapshots"


class DiskAccessService:
    def __init__(self, arm: Arm) -> None:
        self.arm = arm

    def resource_types(self) -> TypeDeclarations:
        access = TypeAddition(actions={"post begingetaccess": self.grant, "post endgetaccess": self.revoke})
        return TypeDeclarations(
            # A snapshot answers a PUT as a disk does (200: the SDK accepts only 200 and 202), its DELETE long-running.
            {SNAPSHOTS: ResourceType(shape=_shape_snapshot, create_status=200, async_delete=True,
                                     read_only=("provisioningState", "timeCreated", "uniqueId"))},
            {DISKS: access, SNAPSHOTS: access},
        )

    def routes(self) -> list[Route]:
        return []

    def grant(self, arm: Arm, request: Request, disk: dict[str, Any]) -> Response:
        body = request.json()
        access = str(body.get("access", "")) if isinstance(body, dict) else ""
        duration = body.get("durationInSeconds") if isinstance(body, dict) else None
        if access.lower() != "read":
            raise arm_errors.invalid_parameter(f"The access level '{access or '(none)'}' is not supported; use Read.")
        if not isinstance(duration, int) or duration <= 0:
            raise arm_errors.invalid_parameter("durationInSeconds must be a positive number of seconds.")
        owner = arm.find(str(disk.get("managedBy") or ""))
        if owner is not None and owner.get("_power") != "deallocated":
            raise arm_errors.conflict("OperationNotAllowed", f"Disk {disk['name']} is attached to VM {owner['id']}: "
                                                             "deallocate the VM before granting access to its disk.")
        expiry = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=duration)).strftime("%Y-%m-%dT%H:%M:%SZ")
        host = f"md-{uuid.uuid4().hex[:12]}.blob.{arm.ctx.storage_suffix}"
        sas = (f"https://{host}/{uuid.uuid4().hex[:12]}/abcd?sv=2017-04-17&sr=b&si={uuid.uuid4()}"
               f"&sig={secrets.token_urlsafe(32)}&se={expiry}&sp=r")
        disk["properties"]["diskState"] = "ActiveSAS"
        arm.save()
        return arm.accepted(request, disk["id"].split("/")[2], result={"accessSAS": sas})

    def revoke(self, arm: Arm, request: Request, disk: dict[str, Any]) -> Response:
        if disk["properties"].get("diskState") == "ActiveSAS":
            disk["properties"]["diskState"] = "Attached" if disk.get("managedBy") else "Unattached"
            arm.save()
        return arm.accepted(request, disk["id"].split("/")[2])


def _shape_snapshot(arm: Arm, snapshot: dict[str, Any], existing: dict[str, Any] | None) -> None:
    """What Compute fills in on a snapshot: its sku (Standard_LRS unless given), time and id, and, copied from a
    source disk, the size and OS type."""
    props = snapshot["properties"]
    creation = props.setdefault("creationData", {"createOption": "Empty"})
    source = arm.find(str(creation.get("sourceResourceId") or creation.get("sourceUri") or ""))
    if source is not None:
        props.setdefault("diskSizeGB", source["properties"].get("diskSizeGB"))
        if source["properties"].get("osType"):
            props.setdefault("osType", source["properties"]["osType"])
    elif str(creation.get("createOption", "")).lower() == "empty" and not props.get("diskSizeGB"):
        raise arm_errors.invalid_parameter("Required parameter 'diskSizeGB' is missing (null).")
    snapshot.setdefault("sku", {"name": "Standard_LRS"})
    snapshot["sku"].setdefault("tier", "Premium" if str(snapshot["sku"].get("name") or "").startswith("Premium") else "Standard")
    props.setdefault("timeCreated", dt.datetime.now(dt.timezone.utc).isoformat().replace("+00:00", "Z"))
    props.setdefault("uniqueId", str(uuid.uuid4()))
    props["provisioningState"] = "Succeeded"
