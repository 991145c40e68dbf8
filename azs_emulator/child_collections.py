"""Child resources that Resource Manager also shows inside their parent (a network security group's
``securityRules``, a virtual network's ``subnets``, a load balancer's ``frontendIPConfigurations``, ...).

Both ways of writing them end in one place: a child given inline in the parent's body becomes a child
resource (``{parent id}/{collection}/{name}``), a child PUT on its own is stored the same way, and the
parent always shows every stored child of the collection. A full PUT of the parent replaces the
collection: a child it leaves out is deleted (as ARM deletes a virtual network's subnets a PUT omits).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from azs_emulator.arm_core import Arm


@dataclass(frozen=True)
class ChildCollection:
    """One collection property of a parent type and what may stop a child's removal."""

    name: str  # the property and the id segment: "securityRules"
    # Raises (an ArmError) when the child may not go, e.g. a subnet a network interface uses.
    before_remove: Callable[[Arm, dict[str, Any]], None] | None = None


def child_type(parent: dict[str, Any], collection: str) -> str:
    return f"{parent['type']}/{collection}"


def stored_children(arm: Arm, parent: dict[str, Any], collection: str) -> list[dict[str, Any]]:
    """The stored children of one collection, directly below ``parent`` (not their own children)."""
    prefix = f"{parent['id']}/{collection}/".lower()
    return [r for r in arm.resources_under(prefix, depth=None) if "/" not in r["id"][len(prefix):]]


def sync(arm: Arm, parent: dict[str, Any], collections: tuple[ChildCollection, ...]) -> None:
    """Store the children ``parent``'s body gives inline, drop the stored ones it leaves out, and show every
    child in the parent. A body whose collection is what the parent showed last (a child's own PUT re-shapes
    its parent this way) changes nothing."""
    shown_before = parent.setdefault("_shown", {})
    for collection in collections:
        inline = parent["properties"].pop(collection.name, None)
        if inline != shown_before.get(collection.name):
            _replace(arm, parent, collection, [c for c in (inline or []) if isinstance(c, dict)])
        shown = [arm.public(c) for c in stored_children(arm, parent, collection.name)]
        parent["properties"][collection.name] = shown
        shown_before[collection.name] = shown


def _replace(arm: Arm, parent: dict[str, Any], collection: ChildCollection, inline: list[dict[str, Any]]) -> None:
    kept = {str(c.get("name", "")).lower() for c in inline}
    for child in stored_children(arm, parent, collection.name):
        if child["name"].lower() not in kept:
            if collection.before_remove is not None:
                collection.before_remove(arm, child)
            arm.delete_tree(child["id"])
    full_type = child_type(parent, collection.name)
    shape = arm.behaviour(full_type).shape
    for given in inline:
        name = str(given.get("name") or "")
        if not name:
            continue
        child_id = f"{parent['id']}/{collection.name}/{name}"
        existing = arm.find(child_id)
        child = {"id": child_id, "name": name, "type": full_type, "etag": f'W/"{uuid.uuid4()}"',
                 "properties": {**dict(given.get("properties") or {}), "provisioningState": "Succeeded"}}
        if shape is not None:
            shape(arm, child, existing)
        arm.store(child)
