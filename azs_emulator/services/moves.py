"""Moving resources to another resource group of the subscription (``moveResources`` and
``validateMoveResources``, Microsoft.Resources): each resource moves with its children, and every
reference to it (a network interface's subnet, say) follows, as after a move on ARM."""

from __future__ import annotations

from typing import Any

from azs_emulator import arm_errors
from azs_emulator.arm_core import Arm, group_id
from azs_emulator.protocol import Request, Response
from azs_emulator.routing import Route, route

_RG = r"/subscriptions/([^/]+)/resourcegroups/([^/]+)"


class MovesService:
    def __init__(self, arm: Arm) -> None:
        self.arm = arm

    def routes(self) -> list[Route]:
        groups = ("Microsoft.Resources", "resourceGroups")
        return [
            route("POST", _RG + r"/moveresources", self.move, api=groups),
            route("POST", _RG + r"/validatemoveresources", self.validate, api=groups),
        ]

    def _plan(self, request: Request, sub: str, rg: str) -> tuple[list[dict[str, Any]], str]:
        """The resources to move and the target group's id, or the error ARM answers."""
        source = group_id(sub, self.arm.group(rg)["name"]).lower() + "/"
        body = request.json()
        ids = body.get("resources") if isinstance(body, dict) else None
        target = str(body.get("targetResourceGroup") or "") if isinstance(body, dict) else ""
        if not isinstance(ids, list) or not ids or not target:
            raise arm_errors.invalid_request_content("resources and targetResourceGroup are required.")
        parts = target.rstrip("/").split("/")
        if len(parts) != 5 or parts[1].lower() != "subscriptions" or parts[3].lower() != "resourcegroups":
            raise arm_errors.resource_move_invalid(f"The target resource group '{target}' is not a resource group id.")
        if parts[2].lower() != sub.lower():
            raise arm_errors.resource_move_invalid("Moves to another subscription are not supported by this Stack.")
        target_id = group_id(sub, self.arm.group(parts[4])["name"])
        if target_id.lower() + "/" == source:
            raise arm_errors.resource_move_invalid("The source and target resource groups are the same.")
        moving = []
        for resource_id in ids:
            resource = self.arm.find(str(resource_id))
            if resource is None or not resource["id"].lower().startswith(source) or resource["type"].count("/") != 1:
                raise arm_errors.resource_move_invalid(
                    f"The resource '{resource_id}' is not a top-level resource of resource group '{rg}'.")
            moving.append(resource)
        return moving, target_id

    def validate(self, request: Request, sub: str, rg: str) -> Response:
        self._plan(request, sub, rg)
        return self.arm.accepted(request, sub)

    def move(self, request: Request, sub: str, rg: str) -> Response:
        moving, target_id = self._plan(request, sub, rg)
        renamed: dict[str, str] = {}
        for resource in moving:
            old = resource["id"]
            new = target_id + old[old.lower().index("/providers/"):]
            renamed[old.lower()] = new
        self.arm.move_resources(renamed)
        return self.arm.accepted(request, sub)

