"""Microsoft.Resources: subscriptions, locations, providers, resource groups, resource lists, long-running
operation results and template export; its tags API (``tagNames``, ``tags/default``) is :mod:`tags`, served from here."""

from __future__ import annotations

import re
import time
from typing import Any

from azs_emulator import arm_errors
from azs_emulator.api_tables import api_profiles
from azs_emulator.arm_core import ALWAYS_REGISTERED, RESOURCES_NS, Arm, group_id, now
from azs_emulator.protocol import Request, Response
from azs_emulator.routing import Route, route
from azs_emulator.services.stack import DEFAULT_OFFER
from azs_emulator.services.tags import ResourceTags

_RG_NAME = re.compile(r"^[-\w._()]{1,90}$")
_SUB = r"/subscriptions/([^/]+)"
_RG = _SUB + r"/resourcegroups/([^/]+)"
# Properties every exported resource loses: set by the service, refused in a template.
_ALWAYS_READ_ONLY = ("provisioningState", "resourceGuid", "etag")
# $expand fields of a resource list, and the bookkeeping key each one reads.
_EXPANDABLE = {"createdtime": ("createdTime", "_created"), "changedtime": ("changedTime", "_changed"),
               "provisioningstate": ("provisioningState", None)}


def _resources(resource_type: str) -> tuple[str, str]:
    return (RESOURCES_NS, resource_type)


class ResourcesService:
    def __init__(self, arm: Arm) -> None:
        self.arm = arm
        self.tags = ResourceTags(arm)

    def routes(self) -> list[Route]:
        groups = _resources("resourceGroups")
        return [
            route("GET", r"/subscriptions", self.list_subscriptions, api=_resources("subscriptions")),
            route("GET", r"/tenants", self.list_tenants, api=_resources("tenants")),
            route("GET", _SUB, self.get_subscription, api=_resources("subscriptions")),
            route("GET", _SUB + r"/locations", self.list_locations, api=_resources("locations")),
            route("GET", _SUB + r"/providers", self.list_providers, api=_resources("providers")),
            route("GET", _SUB + r"/providers/([^/]+)", self.get_provider, api=_resources("providers")),
            route("POST", _SUB + r"/providers/([^/]+)/register", self.register_provider, api=_resources("providers")),
            route("POST", _SUB + r"/providers/([^/]+)/unregister", self.unregister_provider, api=_resources("providers")),
            route("GET", _SUB + r"/resources", self.list_subscription_resources, api=_resources("resources")),
            *self.tags.routes(),  # here, as before the groups' routes
            route("GET", _SUB + r"/resourcegroups", self.list_groups, api=groups),
            route("PUT", _RG, self.put_group, api=groups),
            route("GET", _RG, self.get_group, api=groups),
            route("HEAD", _RG, self.head_group, api=groups),
            route("PATCH", _RG, self.patch_group, api=groups),
            route("DELETE", _RG, self.delete_group, api=groups),
            route("POST", _RG + r"/exporttemplate", self.export_template, api=groups),
            route("GET", _RG + r"/resources", self.list_group_resources, api=_resources("resources")),
            route("GET", _SUB + r"/operationresults/([^/]+)", self.operation_result),
            route("GET", _SUB + r"/operationstatuses/([^/]+)", self.operation_status),
        ]

    # -- subscriptions and tenants ---------------------------------------------------------------

    def _subscription_body(self, admin: bool) -> dict[str, Any]:
        sub = self.arm.subscription_id(admin)
        body = {"id": f"/subscriptions/{sub}", "subscriptionId": sub, "tenantId": self.arm.tenant_id,
                "displayName": "Default Provider Subscription" if admin else "azs-scaffold emulator subscription",
                "state": "Enabled"}
        if self.arm.ctx.release == "azure":
            return {**body, "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01", "quotaId": "Default",
                                                     "spendingLimit": "Off"}}
        # A Stack names the offer and only the placement (real-stack: azurestack-powershell Azs.Subscriptions recording)
        return {**body, "offerId": f"/delegatedProviders/default/offers/{DEFAULT_OFFER}",
                "subscriptionPolicies": {"locationPlacementId": "AzureStack"}}

    def list_subscriptions(self, request: Request) -> Response:
        return Response(200, {"value": [self._subscription_body(request.admin)]})

    def list_tenants(self, request: Request) -> Response:
        tenant = self.arm.tenant_id
        return Response(200, {"value": [{"id": f"/tenants/{tenant}", "tenantId": tenant}]})

    def get_subscription(self, request: Request, sub: str) -> Response:
        return Response(200, self._subscription_body(request.admin))

    def list_locations(self, request: Request, sub: str) -> Response:
        location = self.arm.location
        body = {"id": f"/subscriptions/{sub}/locations/{location}", "name": location, "displayName": location,
                "metadata": {"regionType": "Physical"}}
        return Response(200, {"value": [body]})

    # -- providers -------------------------------------------------------------------------------

    def _provider_body(self, sub: str, namespace: str) -> dict[str, Any]:
        namespace = self.arm.canonical_namespace(namespace)
        types = self.arm.namespace_table(namespace) or {}
        return {
            "id": f"/subscriptions/{sub}/providers/{namespace}",
            "namespace": namespace,
            "registrationState": self.arm.registration_state(namespace),
            "resourceTypes": [{"resourceType": t, "locations": [self.arm.location], "apiVersions": list(v),
                               "apiProfiles": api_profiles(self.arm.ctx.release, namespace, t)} for t, v in types.items()],
        }

    def list_providers(self, request: Request, sub: str) -> Response:
        return Response(200, {"value": [self._provider_body(sub, ns) for ns in self.arm.ctx.api_table]})

    def _known_provider(self, namespace: str) -> None:
        if self.arm.namespace_table(namespace) is None:
            raise arm_errors.invalid_resource_namespace(namespace)

    def get_provider(self, request: Request, sub: str, namespace: str) -> Response:
        self._known_provider(namespace)
        return Response(200, self._provider_body(sub, namespace))

    def register_provider(self, request: Request, sub: str, namespace: str) -> Response:
        self._known_provider(namespace)
        if self.arm.registration_state(namespace) != "Registered":
            self.arm.set_registration(namespace, "Registering", time.time() + self.arm.ctx.config.registration_delay)
        return Response(200, self._provider_body(sub, namespace))

    def unregister_provider(self, request: Request, sub: str, namespace: str) -> Response:
        self._known_provider(namespace)
        if namespace.lower() not in ALWAYS_REGISTERED:
            self.arm.set_registration(namespace, "Unregistered")
        return Response(200, self._provider_body(sub, namespace))

    # -- resource groups -------------------------------------------------------------------------

    def _group_body(self, sub: str, group: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": group_id(sub, group["name"]),
            "name": group["name"],
            "type": "Microsoft.Resources/resourceGroups",
            "location": group["location"],
            "tags": group.get("tags") or {},
            "properties": {"provisioningState": "Succeeded"},
        }

    def list_groups(self, request: Request, sub: str) -> Response:
        groups = [self._group_body(sub, g) for g in self.arm.groups()]
        # A group list filters by tag only (azure-rest-api-specs#2540: "the only valid filter is tagname and tagvalue").
        return self.arm.paged(request, _filtered(groups, request.query.get("$filter", ""), _TAGS))

    def put_group(self, request: Request, sub: str, name: str) -> Response:
        body = request.json_object()
        if not _RG_NAME.match(name) or name.endswith("."):
            raise arm_errors.invalid_resource_group_name(name)
        if not isinstance(body.get("location"), str) or not body["location"]:
            raise arm_errors.location_required()
        self.arm.check_location(body["location"])
        group, existed = self.arm.put_group(name, body.get("tags") or {})
        return Response(200 if existed else 201, self._group_body(sub, group))

    def get_group(self, request: Request, sub: str, name: str) -> Response:
        return Response(200, self._group_body(sub, self.arm.group(name)))

    def head_group(self, request: Request, sub: str, name: str) -> Response:
        return Response(204 if self.arm.has_group(name) else 404)

    def patch_group(self, request: Request, sub: str, name: str) -> Response:
        group = self.arm.group(name)
        body = request.json_object()
        if body.get("tags") is not None:
            group["tags"] = body["tags"]
            self.arm.save()
        return Response(200, self._group_body(sub, group))

    def delete_group(self, request: Request, sub: str, name: str) -> Response:
        self.arm.delete_group(sub, name)
        return self.arm.accepted(request, sub)

    # -- resource lists --------------------------------------------------------------------------

    def _listed(self, request: Request, resources: list[dict[str, Any]]) -> Response:
        expand = {e.strip().lower() for e in request.query.get("$expand", "").split(",") if e.strip()}
        unknown = expand - set(_EXPANDABLE)
        if unknown:
            raise arm_errors.invalid_parameter(
                f"The $expand value '{','.join(sorted(unknown))}' is not supported; use createdTime, changedTime or provisioningState.")
        bodies = []
        for resource in _filtered(resources, request.query.get("$filter", "")):
            body: dict[str, Any] = {k: resource[k] for k in ("id", "name", "type", "location", "tags", "kind", "sku", "managedBy") if k in resource}
            for field in expand:
                key, stored = _EXPANDABLE[field]
                body[key] = resource.get(stored) if stored else resource.get("properties", {}).get("provisioningState")
            bodies.append(body)
        return self.arm.paged(request, bodies)

    def list_subscription_resources(self, request: Request, sub: str) -> Response:
        return self._listed(request, self.arm.resources_under(f"/subscriptions/{sub}/".lower()))

    def list_group_resources(self, request: Request, sub: str, name: str) -> Response:
        return self._listed(request, self.arm.group_resources(sub, name))

    # -- long-running operations and export ------------------------------------------------------

    def operation_result(self, request: Request, sub: str, operation: str) -> Response:
        result_id = self.arm.operation_result(operation)
        if isinstance(result_id, dict):
            return Response(200, result_id)
        resource = self.arm.find(result_id) if result_id else None
        return Response(200, self.arm.public(resource) if resource else None)

    def operation_status(self, request: Request, sub: str, operation: str) -> Response:
        self.arm.operation_result(operation)  # 404 for an unknown operation
        return Response(200, {"name": operation, "status": "Succeeded", "startTime": now()})

    def export_template(self, request: Request, sub: str, name: str) -> Response:
        resources = [self.template_entry(r) for r in self.arm.group_resources(sub, name)]
        template = {
            "$schema": "https://schema.management.azure.com/schemas/2015-01-01/deploymentTemplate.json#",
            "contentVersion": "1.0.0.0",
            "parameters": {},
            "variables": {},
            "resources": resources,
        }
        return Response(200, {"template": template})

    def template_entry(self, resource: dict[str, Any]) -> dict[str, Any]:
        """A stored resource as a template resource that redeploys it: writable properties only."""
        namespace, resource_type = resource["type"].split("/", 1)
        read_only = set(_ALWAYS_READ_ONLY) | set(self.arm.behaviour(resource["type"]).read_only)
        entry: dict[str, Any] = {
            "type": resource["type"],
            "apiVersion": self.arm.supported_versions(namespace, resource_type)[0],
            "name": resource["name"],
            "location": resource.get("location"),
        }
        entry.update({k: resource[k] for k in ("tags", "sku", "kind") if resource.get(k)})
        entry["properties"] = _writable({k: v for k, v in resource.get("properties", {}).items() if k not in read_only})
        return entry


def _writable(value: Any) -> Any:
    """Drop what a service sets in nested children (subnets, IP configurations): ids, etags, states."""
    if isinstance(value, list):
        return [_writable(v) for v in value]
    if not isinstance(value, dict):
        return value
    child = "name" in value and "properties" in value
    return {k: _writable(v) for k, v in value.items()
            if k not in _ALWAYS_READ_ONLY and not (child and k in ("id", "type"))}


_CLAUSE = re.compile(r"^\s*(?:(\w+)\s+eq\s+'((?:[^']|'')*)'|substringof\(\s*'((?:[^']|'')*)'\s*,\s*name\s*\))\s*$", re.IGNORECASE)


_TAGS = frozenset({"tagname", "tagvalue"})
_RESOURCE_FIELDS = frozenset({"resourcetype", "name", "location", "resourcegroup", *_TAGS})


def _filtered(items: list[dict[str, Any]], expression: str, fields: frozenset[str] = _RESOURCE_FIELDS) -> list[dict[str, Any]]:
    """Items matching an ARM ``$filter``: clauses ``field eq 'value'`` (of ``fields``: resourceType, name, location,
    tagName, tagValue, resourceGroup) and ``substringof('text', name)`` joined by ``and``. A tag's clauses combine with
    nothing else (real: ARM refuses "tagName eq ... and resourceType eq ...", azure-cli#7674, azure-sdk-for-python#27064;
    the Resources - List reference: only substringof/resourceType, plan and identity combine)."""
    if not expression.strip():
        return items
    clauses: list[tuple[str, str]] = []
    for part in re.split(r"\s+and\s+", expression.strip(), flags=re.IGNORECASE):
        found = _CLAUSE.match(part)
        if not found or (found.group(1) and found.group(1).lower() not in fields) or (not found.group(1) and "name" not in fields):
            raise arm_errors.invalid_filter(expression)
        if found.group(1):
            clauses.append((found.group(1).lower(), found.group(2).replace("''", "'")))
        else:
            clauses.append(("substringof", found.group(3).replace("''", "'")))
    values = dict(clauses)
    if set(values) & _TAGS and set(values) - _TAGS:
        raise arm_errors.invalid_filter(expression)

    def keep(item: dict[str, Any]) -> bool:
        tags = item.get("tags") or {}
        for field, wanted in clauses:
            if field == "resourcetype" and item.get("type", "").lower() != wanted.lower():
                return False
            if field in ("name", "location") and str(item.get(field, "")).lower() != wanted.lower():
                return False
            if field == "resourcegroup" and item["id"].split("/")[4].lower() != wanted.lower():
                return False
            if field == "substringof" and wanted.lower() not in item.get("name", "").lower():
                return False
            if field == "tagname" and not any(k.lower() == wanted.lower() for k in tags):
                return False
            if field == "tagvalue" and not any(
                str(v) == wanted and ("tagname" not in values or k.lower() == values["tagname"].lower()) for k, v in tags.items()
            ):
                return False
        return True

    return [item for item in items if keep(item)]
