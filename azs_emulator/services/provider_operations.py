"""Microsoft.Authorization/providerOperations (2015-07-01, in every hybrid profile's Authorization table): the
operations each resource provider offers, as ``az provider operation show`` and role authors read them. The
emulator derives them from what it serves: per resource type read, write and delete, and per provider its
``register/action``."""

from __future__ import annotations

import re
from typing import Any

from azs_emulator import arm_errors
from azs_emulator.arm_core import Arm
from azs_emulator.protocol import Request, Response
from azs_emulator.routing import Route, route

OPERATIONS = "Microsoft.Authorization/providerOperations"
_VERBS = (("read", "Read", "Reads"), ("write", "Write", "Creates or updates"), ("delete", "Delete", "Deletes"))


def _words(name: str) -> str:
    """``virtualNetworkGateways`` -> ``Virtual Network Gateways`` (a display name)."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", name.replace("/", " "))
    return " ".join(w[:1].upper() + w[1:] for w in spaced.split())


class ProviderOperationsService:
    def __init__(self, arm: Arm) -> None:
        self.arm = arm

    def routes(self) -> list[Route]:
        api = ("Microsoft.Authorization", "providerOperations")
        base = r"/providers/microsoft\.authorization/provideroperations"
        return [
            route("GET", base, self.list_all, api=api, subscription=False),
            route("GET", base + r"/([^/]+)", self.get_one, api=api, subscription=False),
        ]

    def _document(self, namespace: str, expand: bool) -> dict[str, Any]:
        types = self.arm.namespace_table(namespace) or {}
        document: dict[str, Any] = {
            "id": f"/providers/{OPERATIONS}/{namespace}", "name": namespace, "type": OPERATIONS,
            "displayName": _words(namespace.split(".", 1)[-1]),
            "operations": [{"name": f"{namespace}/register/action", "displayName": "Register Subscription for "
                            f"{namespace}", "description": f"Registers the subscription for the {namespace} resource "
                            "provider", "origin": "user", "properties": None}],
        }
        if expand:
            document["resourceTypes"] = [
                {"name": resource_type, "displayName": _words(resource_type), "operations": [
                    {"name": f"{namespace}/{resource_type}/{verb}", "displayName": f"{title} {_words(resource_type)}",
                     "description": f"{what} {_words(resource_type).lower()}", "origin": "user,system", "properties": None}
                    for verb, title, what in _VERBS]}
                for resource_type in types]
        return document

    def list_all(self, request: Request) -> Response:
        expand = request.query.get("$expand", "").lower() == "resourcetypes"
        return Response(200, {"value": [self._document(ns, expand) for ns in self.arm.ctx.api_table]})

    def get_one(self, request: Request, namespace: str) -> Response:
        if self.arm.namespace_table(namespace) is None:
            raise arm_errors.invalid_resource_namespace(namespace)
        expand = request.query.get("$expand", "").lower() == "resourcetypes"
        return Response(200, self._document(self.arm.canonical_namespace(namespace), expand))
