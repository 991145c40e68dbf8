"""Microsoft.Resources: subscriptions, locations, providers, resource groups, resource lists, tags,
long-running operation results and template export."""

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
from azs_emulator.state import Document, TagHolder, TagName

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


class TagsBackend:
    """Owns the tags kept apart from resources: tag names (and their values) created on their own, and the
    subscription's tags. (Tags on groups and resources live in those documents.)"""

    def __init__(self, arm: Arm) -> None:
        self._arm = arm
        self._names = arm.data["tag_names"]

    def created_names(self) -> dict[str, str]:
        """Tag names created on their own: lower case -> as spelled."""
        return {key: entry["name"] for key, entry in self._names.items()}

    def created_values(self, name: str) -> list[str]:
        entry = self._names.get(name.lower())
        return list(entry["values"]) if entry else []

    def create_name(self, name: str) -> bool:
        """Create the tag name; whether it existed."""
        existed = name.lower() in self._names
        self._entry(name)
        self._arm.save()
        return existed

    def delete_name(self, name: str) -> bool:
        """Forget the tag name and its values; whether there was one."""
        removed = self._names.pop(name.lower(), None)
        self._arm.save()
        return removed is not None

    def set_value(self, name: str, value: str, present: bool) -> bool:
        """Create (``present``) or delete a value of a tag name (the name is created if need be); whether the value
        existed before."""
        values = self._entry(name)["values"]
        existed = value in values
        if present and not existed:
            values.append(value)
        elif not present and existed:
            values.remove(value)
        self._arm.save()
        return existed

    def subscription_tags(self) -> TagHolder:
        """The subscription's tags (``{"tags": ...}``): change them in place, within the request."""
        return self._arm.data["subscription_tags"]

    def _entry(self, name: str) -> TagName:
        return self._names.setdefault(name.lower(), {"name": name, "values": []})


class ResourcesService:
    def __init__(self, arm: Arm) -> None:
        self.arm = arm
        self.tags = TagsBackend(arm)

    def routes(self) -> list[Route]:
        groups, tags = _resources("resourceGroups"), _resources("tagNames")
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
            route("GET", _SUB + r"/tagnames", self.list_tag_names, api=tags),
            route("PUT|DELETE", _SUB + r"/tagnames/([^/]+)", self.tag_name, api=tags),
            route("PUT|DELETE", _SUB + r"/tagnames/([^/]+)/tagvalues/([^/]+)", self.tag_value, api=tags),
            route("GET|PUT|PATCH|DELETE", r"(/subscriptions/[^/]+(?:/resourcegroups/[^/]+(?:/providers/.+?)?)?)"
                  r"/providers/microsoft\.resources/tags/default", self.tags_at_scope, api=_resources("tags")),
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
        return self.arm.paged(request, _filtered(groups, request.query.get("$filter", "")))

    def put_group(self, request: Request, sub: str, name: str) -> Response:
        body = _object(request)
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
        body = _object(request)
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

    # -- tags ------------------------------------------------------------------------------------

    def _tagged(self) -> list[Document]:
        return [*self.arm.groups(), *self.arm.all_resources()]

    def _tag_body(self, sub: str, name: str) -> dict[str, Any]:
        used = [t.get("tags") or {} for t in self._tagged()]
        values = sorted({str(tags[k]) for tags in used for k in tags if k.lower() == name.lower()}
                        | set(self.tags.created_values(name)))
        count = sum(1 for tags in used if any(k.lower() == name.lower() for k in tags))
        base = f"/subscriptions/{sub}/tagNames/{name}"
        return {
            "id": base, "tagName": name, "count": {"type": "Total", "value": count},
            "values": [{"id": f"{base}/tagValues/{v}", "tagValue": v,
                        "count": {"type": "Total", "value": sum(1 for tags in used if any(
                            k.lower() == name.lower() and str(x) == v for k, x in tags.items()))}}
                       for v in values],
        }

    def list_tag_names(self, request: Request, sub: str) -> Response:
        names = {k.lower(): k for t in self._tagged() for k in (t.get("tags") or {})}
        for key, spelled in self.tags.created_names().items():
            names.setdefault(key, spelled)
        return Response(200, {"value": [self._tag_body(sub, names[k]) for k in sorted(names)]})

    def tag_name(self, request: Request, sub: str, name: str) -> Response:
        if request.method == "PUT":
            existed = self.tags.create_name(name)
            return Response(200 if existed else 201, self._tag_body(sub, name))
        if self._tag_body(sub, name)["count"]["value"]:
            raise arm_errors.conflict("TagNameInUse",
                                      f"The tag name '{name}' cannot be deleted because it is applied to resources or resource groups.")
        return Response(200 if self.tags.delete_name(name) else 204)

    def tag_value(self, request: Request, sub: str, name: str, value: str) -> Response:
        existed = self.tags.set_value(name, value, present=request.method == "PUT")
        if request.method == "PUT":
            return Response(200 if existed else 201, {"id": f"/subscriptions/{sub}/tagNames/{name}/tagValues/{value}",
                                                      "tagValue": value, "count": {"type": "Total", "value": 0}})
        return Response(200 if existed else 204)

    def tags_at_scope(self, request: Request, scope: str) -> Response:
        holder = self._tag_holder(scope)
        if request.method == "PUT":
            holder["tags"] = dict(_object(request).get("properties", {}).get("tags") or {})
        elif request.method == "PATCH":
            body = _object(request)
            given = dict(body.get("properties", {}).get("tags") or {})
            operation = str(body.get("operation", "")).lower()
            if operation == "replace":
                holder["tags"] = given
            elif operation == "merge":
                holder["tags"] = {**(holder.get("tags") or {}), **given}
            elif operation == "delete":
                holder["tags"] = {k: v for k, v in (holder.get("tags") or {}).items() if k not in given or given[k] != v}
            else:
                raise arm_errors.invalid_parameter("The operation must be Merge, Replace or Delete.")
        elif request.method == "DELETE":
            holder["tags"] = {}
        self.arm.save()
        return Response(200, {"id": f"{scope}/providers/Microsoft.Resources/tags/default", "name": "default",
                              "type": "Microsoft.Resources/tags", "properties": {"tags": holder.get("tags") or {}}})

    def _tag_holder(self, scope: str) -> TagHolder | Document:
        parts = scope.strip("/").split("/")
        if len(parts) == 2:
            return self.tags.subscription_tags()
        group = self.arm.group(parts[3])
        if len(parts) == 4:
            return group
        resource = self.arm.find(scope)
        if resource is None:
            raise arm_errors.resource_not_found("/".join(parts[5:-1:2]), parts[-1], group["name"])
        return resource

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


def _object(request: Request) -> dict[str, Any]:
    body = request.json()
    if not isinstance(body, dict):
        raise arm_errors.invalid_request_content()
    return body


_CLAUSE = re.compile(r"^\s*(?:(\w+)\s+eq\s+'((?:[^']|'')*)'|substringof\(\s*'((?:[^']|'')*)'\s*,\s*name\s*\))\s*$", re.IGNORECASE)


def _filtered(items: list[dict[str, Any]], expression: str) -> list[dict[str, Any]]:
    """Items matching an ARM ``$filter``: clauses ``field eq 'value'`` (resourceType, name, location, tagName,
    tagValue, resourceGroup) and ``substringof('text', name)`` joined by ``and``."""
    if not expression.strip():
        return items
    clauses: list[tuple[str, str]] = []
    for part in re.split(r"\s+and\s+", expression.strip(), flags=re.IGNORECASE):
        found = _CLAUSE.match(part)
        if not found or (found.group(1) and found.group(1).lower() not in
                         ("resourcetype", "name", "location", "tagname", "tagvalue", "resourcegroup")):
            raise arm_errors.invalid_filter(expression)
        if found.group(1):
            clauses.append((found.group(1).lower(), found.group(2).replace("''", "'")))
        else:
            clauses.append(("substringof", found.group(3).replace("''", "'")))
    values = dict(clauses)

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
