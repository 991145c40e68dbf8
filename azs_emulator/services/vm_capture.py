"""Images (deleted as Compute deletes, long-running), and a virtual machine's ``generalize`` and ``capture``
(Microsoft.Compute, every hybrid profile): generalize marks a stopped VM generalized (a running one is refused, as
on Azure); capture, for a generalized VM with unmanaged disks, answers the template that makes VMs from the
captured VHD, named beside the OS disk under ``system/Microsoft.Compute/Images/<container>/``."""

from __future__ import annotations

import uuid
from typing import Any

from azs_emulator import arm_errors
from azs_emulator.arm_core import Arm
from azs_emulator.protocol import Request, Response
from azs_emulator.resource_types import ResourceType, TypeAddition, TypeDeclarations
from azs_emulator.routing import Route

VMS = "Microsoft.Compute/virtualMachines"
IMAGES = "Microsoft.Compute/images"


class VmCaptureService:
    def __init__(self, arm: Arm) -> None:
        self.arm = arm

    def resource_types(self) -> TypeDeclarations:
        return TypeDeclarations(
            # An image made from a generalized VM is deleted as Compute deletes (202, polled): az's client reads a
            # 200 as the end of the operation and fails on its empty body.
            {IMAGES: ResourceType(async_delete=True)},
            {VMS: TypeAddition(actions={"post generalize": self.generalize, "post capture": self.capture})},
        )

    def routes(self) -> list[Route]:
        return []

    def generalize(self, arm: Arm, request: Request, vm: dict[str, Any]) -> Response:
        if vm.get("_power", "running") == "running":
            raise arm_errors.operation_not_allowed(
                f"Operation 'generalize' is not allowed on VM '{vm['name']}' since the VM is running. Stop it first.")
        vm["_generalized"] = True
        arm.save()
        return Response(200)

    def capture(self, arm: Arm, request: Request, vm: dict[str, Any]) -> Response:
        body = request.json()
        if not isinstance(body, dict) or not body.get("vhdPrefix") or not body.get("destinationContainerName"):
            raise arm_errors.invalid_parameter("A capture needs vhdPrefix and destinationContainerName.")
        if not vm.get("_generalized"):
            raise arm_errors.operation_not_allowed(f"Capture operation cannot be completed because the VM '{vm['name']}' "
                                                   "is not generalized.")
        os_disk = vm["properties"].get("storageProfile", {}).get("osDisk", {})
        source = str((os_disk.get("vhd") or {}).get("uri") or "")
        if not source:
            raise arm_errors.operation_not_allowed("Capture is supported for virtual machines with unmanaged disks only.")
        account = source.split("/")[2]
        image = (f"https://{account}/system/Microsoft.Compute/Images/{body['destinationContainerName']}/"
                 f"{body['vhdPrefix']}-osDisk.{uuid.uuid4()}.vhd")
        template = {
            "$schema": "https://schema.management.azure.com/schemas/2015-01-01/deploymentTemplate.json#",
            "contentVersion": "1.0.0.0",
            "parameters": {"vmName": {"type": "string"}, "vmSize": {"type": "string", "defaultValue":
                           vm["properties"].get("hardwareProfile", {}).get("vmSize")},
                           "adminUserName": {"type": "string"}, "adminPassword": {"type": "securestring"},
                           "networkInterfaceId": {"type": "string"}},
            "resources": [{"apiVersion": request.api_version, "name": "[parameters('vmName')]", "type": VMS,
                           "location": vm["location"], "properties": {"storageProfile": {"osDisk": {
                               "osType": os_disk.get("osType", "Linux"), "name": f"{body['vhdPrefix']}-osDisk",
                               "createOption": "FromImage", "image": {"uri": image}, "caching": "ReadWrite"}}}}],
        }
        version = request.api_version or ""
        # Compute moved the template out of properties.output in 2019-03-01.
        result = template if version >= "2019-03-01" else {"properties": {"output": template}}
        return arm.accepted(request, vm["id"].split("/")[2], result={"id": vm["id"], **result})
