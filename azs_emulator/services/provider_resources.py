"""Any provider's resources under a resource group: create or update, read, update (PATCH), delete,
child resources, per-resource actions and sub-views, and lists by type. What differs per type
(computed properties, status codes, checks) comes from each service's :class:`ResourceType`."""

from __future__ import annotations

import copy
from typing import Any

from azs_emulator import arm_errors
from azs_emulator.arm_core import Arm, deep_merge, now
from azs_emulator.protocol import Request, Response, without_nulls
from azs_emulator.routing import Route, route

_SUB = r"/subscriptions/([^/]+)"
_PROVIDER = _SUB + r"/resourcegroups/([^/]+)/providers/([^/]+)"


def _top_type(groups: tuple[str, ...]) -> tuple[str, str]:
    return groups[2], groups[3]


class ProviderResourcesService:
    def __init__(self, arm: Arm) -> None:
        self.arm = arm

    def routes(self) -> list[Route]:
        by_type = lambda groups: (groups[1], groups[2])  # noqa: E731
        return [
            route("GET", _SUB + r"/providers/([^/]+)/([^/]+)", self.list_in_subscription, api=by_type),
            route("GET", _PROVIDER + r"/([^/]+)", self.list_in_group, api=_top_type),
            route("PUT|GET|PATCH|DELETE", _PROVIDER + r"/([^/]+)/([^/]+)", self.resource, api=_top_type),
            route("PUT|GET|DELETE", _PROVIDER + r"/([^/]+)/([^/]+)/([^/]+)/([^/]+)", self.child_or_operation, api=_top_type),
            route("GET|POST", _PROVIDER + r"/([^/]+)/([^/]+)/([^/]+)", self.operation_or_children, api=_top_type),
        ]

    # -- one resource ----------------------------------------------------------------------------

    def resource(self, request: Request, sub: str, rg: str, namespace: str, rtype: str, name: str) -> Response:
        full_type = self.arm.canonical_type(namespace, rtype)
        resource_id = self.arm.resource_id(sub, rg, full_type, name)
        if request.method == "GET":
            return Response(200, self.arm.shown(self.arm.get(resource_id, full_type), request))
        if request.method == "DELETE":
            return self.delete(request, sub, resource_id, full_type)
        self.arm.require_registration(namespace)
        body = request.json_object()
        if request.method == "PATCH":
            existing = self.arm.get(resource_id, full_type)
            return Response(200, self.arm.shown(self.write(existing, body, existing), request))
        return self.put(request, sub, resource_id, full_type, name, body)

    def put(self, request: Request, sub: str, resource_id: str, full_type: str, name: str, body: dict[str, Any]) -> Response:
        resource, existed = self.create_or_update(resource_id, full_type, body)
        behaviour = self.arm.behaviour(full_type)
        if existed:
            return Response(200, self.arm.shown(resource, request))
        if behaviour.create_status == 202:
            return self.arm.accepted(request, sub, resource_id)
        return Response(behaviour.create_status, self.arm.shown(resource, request))

    def create_or_update(self, resource_id: str, full_type: str, body: dict[str, Any],
                         parent: dict[str, Any] | None = None) -> tuple[dict[str, Any], bool]:
        """Create or update one resource (a child of ``parent`` when given): the one way resources are made, by a
        direct PUT and by a template deployment alike. Returns the resource and whether it existed before."""
        existing = self.arm.find(resource_id)
        replaces = existing is not None and self.arm.behaviour(full_type).put_replaces
        base = (self._replaced(existing) if replaces else existing) if existing else {
            "id": resource_id, "name": resource_id.rsplit("/", 1)[-1], "type": full_type, "properties": {}, "_created": now()}
        if parent is None and self.arm.behaviour(full_type).global_location and str(body.get("location")).lower() == "global":
            base["location"] = "global"
        elif parent is None:
            base["location"] = self.arm.check_location(body.get("location"), "resource type")
        resource = self.write(base, body, existing)
        if parent is not None:
            self._children_changed(parent)
        return resource, existing is not None

    def _replaced(self, existing: dict[str, Any]) -> dict[str, Any]:
        """What survives a full PUT of an existing resource: its identity, the emulator's bookkeeping and the
        properties the service owns (its type's read-only ones). ARM's PUT replaces everything else: a property
        the body leaves out is gone, as after ``az network vpn-connection ipsec-policy clear``."""
        kept = {k: v for k, v in existing.items() if k in ("id", "name", "type", "location") or k.startswith("_")}
        owned = self.arm.behaviour(existing["type"]).read_only
        kept["properties"] = {k: v for k, v in existing.get("properties", {}).items() if k in owned}
        return copy.deepcopy(kept)

    def write(self, base: dict[str, Any], body: dict[str, Any], existing: dict[str, Any] | None) -> dict[str, Any]:
        """Merge ``body`` into ``base`` (for a PUT, the little a replaced resource keeps; for a PATCH, the resource
        itself: omitted properties are kept; tags, sku, kind given are replaced whole), let the type shape it,
        store it."""
        body = without_nulls(body)
        resource = deep_merge(base, {"properties": dict(body.get("properties") or {})})
        for key in ("tags", "sku", "kind", "zones", "plan", "identity"):
            if key in body:
                resource[key] = body[key]
        resource["_changed"] = now()
        resource["properties"]["provisioningState"] = "Succeeded"
        shape = self.arm.behaviour(resource["type"]).shape
        if shape is not None:
            shape(self.arm, resource, existing)
        self.arm.store(resource)
        self.arm.save()
        return resource

    def delete(self, request: Request, sub: str, resource_id: str, full_type: str) -> Response:
        resource = self.arm.find(resource_id)
        if resource is None:
            return Response(204)
        behaviour = self.arm.behaviour(full_type)
        if behaviour.before_delete is not None:
            behaviour.before_delete(self.arm, resource)
        self.arm.delete_tree(resource_id)
        if behaviour.after_delete is not None:
            behaviour.after_delete(self.arm, resource)
        self.arm.save()
        return self.arm.accepted(request, sub) if behaviour.async_delete else Response(200)

    # -- below one resource: actions, views, child resources -------------------------------------

    def _parent(self, sub: str, rg: str, namespace: str, rtype: str, name: str) -> dict[str, Any]:
        full_type = self.arm.canonical_type(namespace, rtype)
        return self.arm.get(self.arm.resource_id(sub, rg, full_type, name), full_type)

    def operation_or_children(self, request: Request, sub: str, rg: str, namespace: str, rtype: str, name: str,
                              what: str) -> Response:
        parent = self._parent(sub, rg, namespace, rtype, name)
        operation = self.arm.behaviour(parent["type"]).actions.get(f"{request.method} {what}".lower())
        if operation is not None:
            if request.method == "POST":
                self.arm.require_registration(namespace)
            return operation(self.arm, request, parent)
        if request.method == "POST":
            raise arm_errors.action_not_supported(what, parent["type"])
        prefix = f"{parent['id']}/{what}/".lower()
        children = [self.arm.shown(r, request) for r in self.arm.resources_under(prefix, depth=None)
                    if r["id"].count("/") == prefix.count("/")]
        return Response(200, {"value": children})

    def child_or_operation(self, request: Request, sub: str, rg: str, namespace: str, rtype: str, name: str,
                           child_type: str, child: str) -> Response:
        parent = self._parent(sub, rg, namespace, rtype, name)
        behaviour = self.arm.behaviour(parent["type"])
        operation = behaviour.actions.get(f"{request.method} {child_type}/{child}".lower())
        if operation is not None:
            return operation(self.arm, request, parent)
        full_type = f"{parent['type']}/{child_type}"
        resource_id = f"{parent['id']}/{child_type}/{child}"
        if request.method == "GET":
            return Response(200, self.arm.shown(self.arm.get(resource_id, full_type), request))
        if request.method == "DELETE":
            found = self.arm.find(resource_id)
            if found is None:
                return Response(204)
            child_behaviour = self.arm.behaviour(full_type)
            if child_behaviour.before_delete is not None:
                child_behaviour.before_delete(self.arm, found)
            self.arm.delete_tree(resource_id)
            if child_behaviour.after_delete is not None:
                child_behaviour.after_delete(self.arm, found)
            self._children_changed(parent)
            return self.arm.accepted(request, sub) if behaviour.async_delete else Response(200)
        body = request.json_object()
        resource, existed = self.create_or_update(resource_id, full_type, body, parent)
        return Response(200 if existed else 201, self.arm.shown(resource, request))

    def _children_changed(self, parent: dict[str, Any]) -> None:
        shape = self.arm.behaviour(parent["type"]).shape
        if shape is not None:
            shape(self.arm, parent, parent)
        self.arm.save()

    # -- lists by type ---------------------------------------------------------------------------

    def list_in_group(self, request: Request, sub: str, rg: str, namespace: str, rtype: str) -> Response:
        full_type = self.arm.canonical_type(namespace, rtype).lower()
        items = [self.arm.shown(r, request) for r in self.arm.group_resources(sub, rg) if r["type"].lower() == full_type]
        return self.arm.paged(request, items)

    def list_in_subscription(self, request: Request, sub: str, namespace: str, rtype: str) -> Response:
        full_type = self.arm.canonical_type(namespace, rtype).lower()
        items = [self.arm.shown(r, request) for r in self.arm.resources_under(f"/subscriptions/{sub}/".lower())
                 if r["type"].lower() == full_type]
        return self.arm.paged(request, items)
