"""Microsoft.Compute/skus (the resource SKUs list ``az vm list-skus`` reads): the Stack's VM sizes as resource
SKUs in its one region, without zones (a Stack has none), and the managed disk SKUs it offers."""

from __future__ import annotations

from typing import Any

from azs_emulator.arm_core import Arm
from azs_emulator.protocol import Request, Response
from azs_emulator.routing import Route, route
from azs_emulator.services.vm_sizes import SIZES

_DISK_SKUS = (("Standard_LRS", "Standard"), ("Premium_LRS", "Premium"))


class ComputeSkusService:
    def __init__(self, arm: Arm) -> None:
        self.arm = arm

    def routes(self) -> list[Route]:
        return [route("GET", r"/subscriptions/([^/]+)/providers/microsoft\.compute/skus", self.list_skus,
                      api=("Microsoft.Compute", "skus"))]

    def _located(self) -> dict[str, Any]:
        return {"locations": [self.arm.location], "locationInfo": [{"location": self.arm.location, "zones": []}],
                "restrictions": []}

    def list_skus(self, request: Request, sub: str) -> Response:
        sizes = [{"resourceType": "virtualMachines", "name": name, "tier": name.split("_", 1)[0],
                  "size": name.split("_", 1)[-1],
                  **self._located(), "capabilities": [
                      {"name": "vCPUs", "value": str(cores)}, {"name": "MemoryGB", "value": f"{memory / 1024:g}"},
                      {"name": "MaxDataDiskCount", "value": str(disks)},
                      {"name": "MaxResourceVolumeMB", "value": str(resource_disk)}]}
                 for name, cores, memory, disks, resource_disk in SIZES]
        disks = [{"resourceType": "disks", "name": name, "tier": tier, **self._located(), "capabilities": []}
                 for name, tier in _DISK_SKUS]
        return Response(200, {"value": [*sizes, *disks]})
