"""Exporting a managed disk or snapshot (Microsoft.Compute ``beginGetAccess`` / ``endGetAccess``, which a
Stack serves from 1808's managed disks on): a read SAS for the disk's blob while access is granted, its
``diskState`` ``ActiveSAS``; a disk attached to a VM that is not deallocated is refused, as on Azure."""

from __future__ import annotations

import dataclasses
import datetime as dt
import secrets
import uuid
from typing import Any

from generator.emulator import arm_errors
from generator.emulator.arm_core import Arm, ResourceType
from generator.emulator.protocol import Request, Response

DISKS = "Microsoft.Compute/disks"
SNAPSHOTS = "Microsoft.Compute/snapshots"


class DiskAccessService:
    def __init__(self, arm: Arm) -> None:
        self.arm = arm
        actions = {"post begingetaccess": self.grant, "post endgetaccess": self.revoke}
        for full_type in (DISKS, SNAPSHOTS):
            behaviour = arm.types.get(full_type.lower(), ResourceType())
            arm.types[full_type.lower()] = dataclasses.replace(behaviour, actions={**behaviour.actions, **actions})

    def routes(self) -> list:
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
