"""Azure Resource Manager, tenant and admin side, as the track 2 SDK drives it.

Every request is checked in ARM's order: bearer token, subscription, api-version of the addressed
resource type (against the emulated release's table), provider registration, then the resource.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
import time
import uuid
from typing import Any, Callable
from urllib.parse import quote

from generator.emulator.config import ADMIN_PREFIX, EmulatorContext
from generator.emulator.faults import FaultInjector
from generator.emulator.identity import IdentityService
from generator.emulator.protocol import ArmError, Request, Response

RESOURCES_NS = "Microsoft.Resources"
# Namespaces a new subscription has registered already, as on a real one.
ALWAYS_REGISTERED = {RESOURCES_NS.lower(), "microsoft.authorization"}
# Providers whose DELETE is a long-running operation (202); Storage and Key Vault answer 200 at once.
_ASYNC_DELETE = {"microsoft.network", "microsoft.compute"}
_STORAGE_NAME = re.compile(r"^[a-z0-9]{3,24}$")
_RG_NAME = re.compile(r"^[-\w._()]{1,90}$")

Handler = Callable[..., Response]


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def _rg_id(sub: str, rg: str) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{rg}"


class ArmService:
    """Routes and answers Resource Manager requests (``/`` tenant side, ``/admin`` operator side)."""

    def __init__(self, ctx: EmulatorContext, identity: IdentityService, faults: FaultInjector) -> None:
        self.ctx = ctx
        self.identity = identity
        self.faults = faults
        s, rg, prov = r"/subscriptions/([^/]+)", r"/resourcegroups/([^/]+)", r"/providers/([^/]+)"
        self._routes: list[tuple[str, re.Pattern[str], Handler, tuple[str, str] | None]] = []
        # (method, path pattern, handler, (namespace, resource type) whose api-versions apply;
        #  None: the handler checks the version itself).
        for method, pattern, handler, api in [
            ("GET", r"/subscriptions", self.list_subscriptions, (RESOURCES_NS, "subscriptions")),
            ("GET", s, self.get_subscription, (RESOURCES_NS, "subscriptions")),
            ("GET", s + r"/locations", self.list_locations, (RESOURCES_NS, "locations")),
            ("GET", s + r"/providers", self.list_providers, (RESOURCES_NS, "providers")),
            ("GET", s + prov, self.get_provider, (RESOURCES_NS, "providers")),
            ("POST", s + prov + r"/register", self.register_provider, (RESOURCES_NS, "providers")),
            ("POST", s + prov + r"/unregister", self.unregister_provider, (RESOURCES_NS, "providers")),
            ("GET", s + r"/resourcegroups", self.list_resource_groups, (RESOURCES_NS, "resourceGroups")),
            ("PUT", s + rg, self.put_resource_group, (RESOURCES_NS, "resourceGroups")),
            ("GET", s + rg, self.get_resource_group, (RESOURCES_NS, "resourceGroups")),
            ("HEAD", s + rg, self.head_resource_group, (RESOURCES_NS, "resourceGroups")),
            ("PATCH", s + rg, self.patch_resource_group, (RESOURCES_NS, "resourceGroups")),
            ("DELETE", s + rg, self.delete_resource_group, (RESOURCES_NS, "resourceGroups")),
            ("POST", s + rg + r"/exporttemplate", self.export_template, (RESOURCES_NS, "resourceGroups")),
            ("GET", s + rg + r"/resources", self.list_group_resources, (RESOURCES_NS, "resources")),
            ("GET", s + r"/operationresults/([^/]+)", self.operation_result, None),
            ("POST", s + r"/providers/microsoft\.storage/checknameavailability", self.check_storage_name,
             ("Microsoft.Storage", "checkNameAvailability")),
            ("GET", s + r"/providers/([^/]+)/([^/]+)", self.list_subscription_resources, None),
            ("GET", s + rg + prov + r"/([^/]+)", self.list_typed_group_resources, None),
            ("POST", s + rg + prov + r"/([^/]+)/([^/]+)/(listkeys)", self.resource_action, None),
            ("PUT|GET|DELETE", s + rg + prov + r"/([^/]+)/([^/]+)", self.top_level_resource, None),
            ("PUT|GET|DELETE", s + rg + prov + r"/([^/]+)/([^/]+)/([^/]+)/([^/]+)", self.child_resource, None),
            ("GET", s + rg + prov + r"/([^/]+)/([^/]+)/([^/]+)", self.list_child_resources, None),
        ]:
            self._routes.append((method, re.compile(pattern + "$", re.IGNORECASE), handler, api))
        self._operations: dict[str, str | None] = {}

    # -- dispatch --------------------------------------------------------------------------------

    def route(self, request: Request) -> Response | None:
        """Answer an ARM request, or None when no ARM route matches the path."""
        path, admin = request.path.rstrip("/"), False
        if path.lower() == ADMIN_PREFIX or path.lower().startswith(ADMIN_PREFIX + "/"):
            path, admin = path[len(ADMIN_PREFIX):], True
        if path.lower() == "/metadata/endpoints":
            return self.metadata(request, admin) if request.method == "GET" else None
        if admin and re.search(r"/providers/microsoft\.update\.admin/updatelocations", path, re.IGNORECASE):
            return self.update_locations(request, path)
        for methods, pattern, handler, api in self._routes:
            match = pattern.match(path)
            if not match or request.method not in methods.split("|"):
                continue
            self.identity.authenticate(request, admin)
            groups = match.groups()
            if path.lower() != "/subscriptions":
                self._check_subscription(groups[0], admin)
            if api is not None:
                self.check_api_version(request, *api)
            with self.ctx.state.lock:
                return handler(request, *groups)
        return None

    def _check_subscription(self, subscription_id: str, admin: bool) -> None:
        expected = self.ctx.state.data["admin_subscription_id" if admin else "subscription_id"]
        if subscription_id.lower() != expected.lower():
            raise ArmError(404, "SubscriptionNotFound", f"The subscription '{subscription_id}' could not be found.")

    def check_api_version(self, request: Request, namespace: str, resource_type: str) -> None:
        """400 unless the release serves ``request``'s api-version for this resource type."""
        versions = self.supported_versions(namespace, resource_type)
        given = request.api_version
        if given is None:
            raise ArmError(
                400,
                "MissingApiVersionParameter",
                "The api-version query parameter (?api-version=) is required for all requests.",
            )
        if given not in versions:
            raise ArmError(
                400,
                "InvalidApiVersionParameter",
                f"The api-version '{given}' is invalid. The supported versions are '{','.join(versions)}'.",
            )

    def supported_versions(self, namespace: str, resource_type: str) -> tuple[str, ...]:
        types = self._namespace_table(namespace)
        if types is None:
            raise ArmError(
                400,
                "NoRegisteredProviderFound",
                f"No registered resource provider found for location '{self.ctx.state.data['location']}' "
                f"and namespace '{namespace}'.",
            )
        for known, versions in types.items():
            if known.lower() == resource_type.lower():
                return versions
        raise ArmError(
            400,
            "InvalidResourceType",
            f"The resource type '{resource_type}' could not be found in the namespace '{namespace}' "
            f"for api version '{self._versions_hint(types)}'.",
        )

    @staticmethod
    def _versions_hint(types: Any) -> str:
        return ",".join(sorted({v for versions in types.values() for v in versions}))

    def _namespace_table(self, namespace: str):
        for known, types in self.ctx.api_table.items():
            if known.lower() == namespace.lower():
                return types
        return None

    def _canonical_namespace(self, namespace: str) -> str:
        for known in self.ctx.api_table:
            if known.lower() == namespace.lower():
                return known
        return namespace

    def _canonical_type(self, namespace: str, resource_type: str) -> str:
        for known in self._namespace_table(namespace) or {}:
            if known.lower() == resource_type.lower():
                return known
        return resource_type

    # -- metadata --------------------------------------------------------------------------------

    def metadata(self, request: Request, admin: bool) -> Response:
        version = request.api_version
        base = self.ctx.base_url
        portal = f"{base}/{'adminportal' if admin else 'portal'}/"
        gallery = f"{base}/gallery/"
        graph = f"{base}/graph/" if self.ctx.is_adfs else "https://graph.windows.net/"
        authentication = {"loginEndpoint": self.ctx.login_endpoint, "audiences": [self.ctx.audience(admin)]}
        if version in ("1.0", "2015-01-01"):
            return Response(
                200,
                {"galleryEndpoint": gallery, "graphEndpoint": graph, "portalEndpoint": portal, "authentication": authentication},
            )
        if version is None or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", version) or version < "2019-05-01":
            raise ArmError(
                400,
                "InvalidApiVersionParameter",
                f"The api-version '{version}' is invalid. The supported versions are '2022-09-01,2020-06-01,2019-05-01,2015-01-01,1.0'.",
            )
        host = base.split("://", 1)[1].rsplit(":", 1)[0]
        return Response(
            200,
            [
                {
                    "portal": portal,
                    "authentication": authentication,
                    "media": f"{base}/media/",
                    "graphAudience": graph,
                    "graph": graph,
                    "name": f"AzureStack-{'Admin' if admin else 'User'}-{self.ctx.state.data['audience_app_id']}",
                    "suffixes": {"keyVaultDns": f"vault.{host}", "storage": host},
                    "gallery": gallery,
                }
            ],
        )

    # -- subscriptions ---------------------------------------------------------------------------

    def _subscription_body(self, admin: bool) -> dict[str, Any]:
        sub = self.ctx.state.data["admin_subscription_id" if admin else "subscription_id"]
        return {
            "id": f"/subscriptions/{sub}",
            "subscriptionId": sub,
            "displayName": "Default Provider Subscription" if admin else "azs-scaffold emulator subscription",
            "state": "Enabled",
            "subscriptionPolicies": {
                "locationPlacementId": "Public_2014-09-01" if self.ctx.release == "azure" else "AzureStack",
                "quotaId": "Default",
                "spendingLimit": "Off",
            },
        }

    def list_subscriptions(self, request: Request) -> Response:
        admin = request.path.lower().startswith(ADMIN_PREFIX)
        return Response(200, {"value": [self._subscription_body(admin)]})

    def get_subscription(self, request: Request, sub: str) -> Response:
        return Response(200, self._subscription_body(request.path.lower().startswith(ADMIN_PREFIX)))

    def list_locations(self, request: Request, sub: str) -> Response:
        location = self.ctx.state.data["location"]
        body = {"id": f"/subscriptions/{sub}/locations/{location}", "name": location, "displayName": location}
        return Response(200, {"value": [body]})

    # -- providers -------------------------------------------------------------------------------

    def _registration_state(self, namespace: str) -> str:
        if namespace.lower() in ALWAYS_REGISTERED:
            return "Registered"
        entry = self.ctx.state.data["providers"].get(namespace.lower())
        if entry is None:
            return "NotRegistered"
        if entry["state"] == "Registering" and time.time() >= entry["ready_at"] and not self.faults.registration_stuck():
            entry["state"] = "Registered"
            self.ctx.state.save()
        return entry["state"]

    def _provider_body(self, sub: str, namespace: str) -> dict[str, Any]:
        namespace = self._canonical_namespace(namespace)
        types = self._namespace_table(namespace) or {}
        location = self.ctx.state.data["location"]
        return {
            "id": f"/subscriptions/{sub}/providers/{namespace}",
            "namespace": namespace,
            "registrationState": self._registration_state(namespace),
            "resourceTypes": [
                {"resourceType": t, "locations": [location], "apiVersions": list(v)} for t, v in types.items()
            ],
        }

    def list_providers(self, request: Request, sub: str) -> Response:
        return Response(200, {"value": [self._provider_body(sub, ns) for ns in self.ctx.api_table]})

    def _known_provider(self, namespace: str) -> None:
        if self._namespace_table(namespace) is None:
            raise ArmError(
                404, "InvalidResourceNamespace", f"The resource namespace '{namespace}' is invalid."
            )

    def get_provider(self, request: Request, sub: str, namespace: str) -> Response:
        self._known_provider(namespace)
        return Response(200, self._provider_body(sub, namespace))

    def register_provider(self, request: Request, sub: str, namespace: str) -> Response:
        self._known_provider(namespace)
        if self._registration_state(namespace) != "Registered":
            delay = self.ctx.config.registration_delay
            self.ctx.state.data["providers"][namespace.lower()] = {"state": "Registering", "ready_at": time.time() + delay}
            self.ctx.state.save()
        return Response(200, self._provider_body(sub, namespace))

    def unregister_provider(self, request: Request, sub: str, namespace: str) -> Response:
        self._known_provider(namespace)
        if namespace.lower() not in ALWAYS_REGISTERED:
            self.ctx.state.data["providers"][namespace.lower()] = {"state": "Unregistered", "ready_at": 0}
            self.ctx.state.save()
        return Response(200, self._provider_body(sub, namespace))

    def _require_registration(self, namespace: str) -> None:
        if self._registration_state(namespace) != "Registered":
            raise ArmError(
                409,
                "MissingSubscriptionRegistration",
                f"The subscription is not registered to use namespace '{self._canonical_namespace(namespace)}'. "
                "See https://aka.ms/rps-not-found for how to register subscriptions.",
            )

    # -- resource groups -------------------------------------------------------------------------

    def _group(self, name: str) -> dict[str, Any]:
        group = self.ctx.state.data["resource_groups"].get(name.lower())
        if group is None:
            raise ArmError(404, "ResourceGroupNotFound", f"Resource group '{name}' could not be found.")
        return group

    def _group_body(self, sub: str, group: dict[str, Any]) -> dict[str, Any]:
        return {
            "id": _rg_id(sub, group["name"]),
            "name": group["name"],
            "type": "Microsoft.Resources/resourceGroups",
            "location": group["location"],
            "tags": group.get("tags") or {},
            "properties": {"provisioningState": "Succeeded"},
        }

    def _paged(self, request: Request, items: list[dict[str, Any]]) -> Response:
        """One page of ``items`` (ordered by id, case-insensitively). The continuation token is the last id
        returned, not an offset: items added or deleted meanwhile never make a page skip or repeat one."""
        size = self.ctx.config.page_size
        ordered = sorted(items, key=lambda item: item["id"].lower())
        after = request.query.get("$skiptoken", "")
        if after:
            try:
                after = bytes.fromhex(after).decode("utf-8").lower()
            except ValueError:
                raise ArmError(400, "InvalidSkipToken", "The $skiptoken is not valid.") from None
            ordered = [item for item in ordered if item["id"].lower() > after]
        body: dict[str, Any] = {"value": ordered[:size]}
        if len(ordered) > size:
            token = ordered[size - 1]["id"].encode("utf-8").hex()
            query = f"api-version={quote(request.api_version or '')}&%24skiptoken={token}"
            body["nextLink"] = f"{self.ctx.base_url}{request.path}?{query}"
        return Response(200, body)

    def list_resource_groups(self, request: Request, sub: str) -> Response:
        groups = sorted(self.ctx.state.data["resource_groups"].values(), key=lambda g: g["name"].lower())
        return self._paged(request, [self._group_body(sub, g) for g in groups])

    def put_resource_group(self, request: Request, sub: str, name: str) -> Response:
        body = request.json()
        if not _RG_NAME.match(name) or name.endswith("."):
            raise ArmError(400, "InvalidResourceGroup", f"The provided resource group name '{name}' has these invalid characters.")
        location = body.get("location") if isinstance(body, dict) else None
        if not isinstance(location, str) or not location:
            raise ArmError(400, "LocationRequired", "The location property is required for this definition.")
        self._check_location(location)
        groups = self.ctx.state.data["resource_groups"]
        existed = name.lower() in groups
        group = groups.setdefault(name.lower(), {"name": name, "location": location.lower()})
        group["tags"] = body.get("tags") or {}
        self.ctx.state.save()
        return Response(200 if existed else 201, self._group_body(sub, group))

    def _check_location(self, location: str) -> None:
        expected = self.ctx.state.data["location"]
        if location.replace(" ", "").lower() != expected:
            raise ArmError(
                400,
                "LocationNotAvailableForResourceGroup",
                f"The provided location '{location}' is not available for resource group. List of available regions is '{expected}'.",
            )

    def get_resource_group(self, request: Request, sub: str, name: str) -> Response:
        return Response(200, self._group_body(sub, self._group(name)))

    def head_resource_group(self, request: Request, sub: str, name: str) -> Response:
        return Response(204 if name.lower() in self.ctx.state.data["resource_groups"] else 404)

    def patch_resource_group(self, request: Request, sub: str, name: str) -> Response:
        group = self._group(name)
        body = request.json()
        if isinstance(body, dict) and body.get("tags") is not None:
            group["tags"] = body["tags"]
            self.ctx.state.save()
        return Response(200, self._group_body(sub, group))

    def delete_resource_group(self, request: Request, sub: str, name: str) -> Response:
        group = self._group(name)
        resources = self.ctx.state.data["resources"]
        prefix = _rg_id(sub, group["name"]).lower() + "/"
        for resource_id in [r for r in resources if r.startswith(prefix)]:
            del resources[resource_id]
        del self.ctx.state.data["resource_groups"][name.lower()]
        self.ctx.state.save()
        return self._accepted(request, sub)

    def _accepted(self, request: Request, sub: str, result_id: str | None = None) -> Response:
        """202 for a long-running operation, polled at ``/operationresults``.

        A poll answers 200 with the resource ``result_id`` names (Storage's creates end on their
        Location URL) or with no body.
        """
        operation = uuid.uuid4().hex
        self._operations[operation] = result_id
        location = f"{self.ctx.base_url}{ADMIN_PREFIX if request.path.lower().startswith(ADMIN_PREFIX) else ''}" \
            f"/subscriptions/{sub}/operationresults/{operation}?api-version={quote(request.api_version or '')}"
        return Response(202, None, {"Location": location, "Retry-After": "0"})

    def operation_result(self, request: Request, sub: str, operation: str) -> Response:
        if operation not in self._operations:
            raise ArmError(404, "OperationNotFound", f"The operation '{operation}' could not be found.")
        result_id = self._operations[operation]
        resource = self.ctx.state.data["resources"].get(result_id.lower()) if result_id else None
        return Response(200, resource)

    def export_template(self, request: Request, sub: str, name: str) -> Response:
        group = self._group(name)
        prefix = _rg_id(sub, group["name"]).lower() + "/"
        resources = []
        for resource in self._top_level_resources(prefix):
            namespace, resource_type = resource["type"].split("/", 1)
            resources.append(
                {
                    "type": resource["type"],
                    "apiVersion": self.supported_versions(namespace, resource_type)[0],
                    "name": resource["name"],
                    "location": resource.get("location"),
                    "properties": resource.get("properties", {}),
                }
            )
        template = {
            "$schema": "https://schema.management.azure.com/schemas/2015-01-01/deploymentTemplate.json#",
            "contentVersion": "1.0.0.0",
            "parameters": {},
            "variables": {},
            "resources": resources,
        }
        return Response(200, {"template": template})

    def _top_level_resources(self, prefix: str) -> list[dict[str, Any]]:
        return [
            r
            for key, r in sorted(self.ctx.state.data["resources"].items())
            if key.startswith(prefix) and r["type"].count("/") == 1
        ]

    @staticmethod
    def _generic_body(resource: dict[str, Any]) -> dict[str, Any]:
        keys = ("id", "name", "type", "location", "tags", "kind", "sku")
        return {k: resource[k] for k in keys if k in resource}

    def list_group_resources(self, request: Request, sub: str, name: str) -> Response:
        group = self._group(name)
        prefix = _rg_id(sub, group["name"]).lower() + "/"
        return self._paged(request, [self._generic_body(r) for r in self._top_level_resources(prefix)])

    # -- resources of any emulated provider ------------------------------------------------------

    def _resource_id(self, sub: str, rg: str, namespace: str, *segments: str) -> str:
        group = self._group(rg)
        return f"{_rg_id(sub, group['name'])}/providers/{self._canonical_namespace(namespace)}/{'/'.join(segments)}"

    def _get_resource(self, resource_id: str, resource_type: str) -> dict[str, Any]:
        resource = self.ctx.state.data["resources"].get(resource_id.lower())
        if resource is None:
            raise ArmError(
                404,
                "ResourceNotFound",
                f"The Resource '{resource_type}/{resource_id.rsplit('/', 1)[-1]}' under resource group "
                f"'{resource_id.split('/')[4]}' was not found.",
            )
        return resource

    def top_level_resource(self, request: Request, sub: str, rg: str, namespace: str, rtype: str, name: str) -> Response:
        self.check_api_version(request, namespace, rtype)
        namespace, rtype = self._canonical_namespace(namespace), self._canonical_type(namespace, rtype)
        full_type = f"{namespace}/{rtype}"
        if request.method == "PUT":
            self._require_registration(namespace)
        resource_id = self._resource_id(sub, rg, namespace, rtype, name)
        if request.method == "GET":
            return Response(200, self._get_resource(resource_id, full_type))
        if request.method == "DELETE":
            removed = self._delete_tree(resource_id)
            if not removed:
                return Response(204)
            return self._accepted(request, sub) if namespace.lower() in _ASYNC_DELETE else Response(200)
        body = request.json()
        if not isinstance(body, dict):
            raise ArmError(400, "InvalidRequestContent", "The request content was invalid and could not be deserialized.")
        self._check_location(str(body.get("location", "")))
        existed = resource_id.lower() in self.ctx.state.data["resources"]
        resource = {
            **{k: body[k] for k in ("tags", "kind", "sku") if k in body},
            "id": resource_id,
            "name": name,
            "type": full_type,
            "location": str(body["location"]).lower(),
            "properties": dict(body.get("properties") or {}),
        }
        shape = _RESOURCE_SHAPES.get(full_type.lower())
        if shape is not None:
            shape(self, resource, sub)
        resource["properties"]["provisioningState"] = "Succeeded"
        self.ctx.state.data["resources"][resource_id.lower()] = resource
        self.ctx.state.save()
        if full_type == "Microsoft.Storage/storageAccounts" and not existed:
            return self._accepted(request, sub, resource_id)
        return Response(200 if existed else 201, resource)

    def _delete_tree(self, resource_id: str) -> bool:
        resources = self.ctx.state.data["resources"]
        key = resource_id.lower()
        doomed = [k for k in resources if k == key or k.startswith(key + "/")]
        for k in doomed:
            del resources[k]
        self.ctx.state.data["storage_keys"].pop(key, None)
        self.ctx.state.save()
        return bool(doomed)

    def child_resource(
        self, request: Request, sub: str, rg: str, namespace: str, rtype: str, name: str, child_type: str, child: str
    ) -> Response:
        self.check_api_version(request, namespace, rtype)
        namespace, rtype = self._canonical_namespace(namespace), self._canonical_type(namespace, rtype)
        parent_id = self._resource_id(sub, rg, namespace, rtype, name)
        parent = self._get_resource(parent_id, f"{namespace}/{rtype}")
        resource_id = f"{parent_id}/{child_type}/{child}"
        full_type = f"{namespace}/{rtype}/{child_type}"
        if request.method == "GET":
            return Response(200, self._get_resource(resource_id, full_type))
        if request.method == "DELETE":
            return self._accepted(request, sub) if self._delete_tree(resource_id) else Response(204)
        body = request.json()
        existed = resource_id.lower() in self.ctx.state.data["resources"]
        resource = {
            "id": resource_id,
            "name": child,
            "type": full_type,
            "properties": {**dict(body.get("properties") or {}), "provisioningState": "Succeeded"},
        }
        self.ctx.state.data["resources"][resource_id.lower()] = resource
        self._refresh_children(parent)
        self.ctx.state.save()
        return Response(200 if existed else 201, resource)

    def list_child_resources(self, request: Request, sub: str, rg: str, namespace: str, rtype: str, name: str, child_type: str) -> Response:
        self.check_api_version(request, namespace, rtype)
        namespace, rtype = self._canonical_namespace(namespace), self._canonical_type(namespace, rtype)
        parent_id = self._resource_id(sub, rg, namespace, rtype, name)
        self._get_resource(parent_id, f"{namespace}/{rtype}")
        prefix = f"{parent_id}/{child_type}/".lower()
        children = [r for k, r in sorted(self.ctx.state.data["resources"].items()) if k.startswith(prefix) and k.count("/") == prefix.count("/")]
        return Response(200, {"value": children})

    def _refresh_children(self, parent: dict[str, Any]) -> None:
        """Mirror child resources (subnets) into their parent's properties, as ARM shows them."""
        if parent["type"] != "Microsoft.Network/virtualNetworks":
            return
        prefix = parent["id"].lower() + "/subnets/"
        parent["properties"]["subnets"] = [
            r for k, r in sorted(self.ctx.state.data["resources"].items()) if k.startswith(prefix)
        ]

    def list_typed_group_resources(self, request: Request, sub: str, rg: str, namespace: str, rtype: str) -> Response:
        self.check_api_version(request, namespace, rtype)
        group = self._group(rg)
        full_type = f"{self._canonical_namespace(namespace)}/{self._canonical_type(namespace, rtype)}".lower()
        prefix = _rg_id(sub, group["name"]).lower() + "/"
        return Response(200, {"value": [r for r in self._top_level_resources(prefix) if r["type"].lower() == full_type]})

    def list_subscription_resources(self, request: Request, sub: str, namespace: str, rtype: str) -> Response:
        self.check_api_version(request, namespace, rtype)
        full_type = f"{self._canonical_namespace(namespace)}/{self._canonical_type(namespace, rtype)}".lower()
        prefix = f"/subscriptions/{sub}/".lower()
        return Response(200, {"value": [r for r in self._top_level_resources(prefix) if r["type"].lower() == full_type]})

    def resource_action(self, request: Request, sub: str, rg: str, namespace: str, rtype: str, name: str, action: str) -> Response:
        self.check_api_version(request, namespace, rtype)
        if f"{namespace}/{rtype}".lower() != "microsoft.storage/storageaccounts":
            raise ArmError(404, "InvalidResourceType", f"The action '{action}' is not supported for '{namespace}/{rtype}'.")
        resource_id = self._resource_id(sub, rg, namespace, "storageAccounts", name)
        self._get_resource(resource_id, "Microsoft.Storage/storageAccounts")
        keys = self.ctx.state.data["storage_keys"].setdefault(
            resource_id.lower(), [secrets.token_urlsafe(48), secrets.token_urlsafe(48)]
        )
        self.ctx.state.save()
        return Response(
            200,
            {"keys": [{"keyName": f"key{i + 1}", "value": v, "permissions": "FULL"} for i, v in enumerate(keys)]},
        )

    def check_storage_name(self, request: Request, sub: str) -> Response:
        body = request.json()
        name = body.get("name", "") if isinstance(body, dict) else ""
        if not _STORAGE_NAME.match(name):
            return Response(
                200,
                {
                    "nameAvailable": False,
                    "reason": "AccountNameInvalid",
                    "message": f"{name} is not a valid storage account name. Storage account name must be between 3 and 24 "
                    "characters in length and use numbers and lower-case letters only.",
                },
            )
        taken = any(
            r["type"] == "Microsoft.Storage/storageAccounts" and r["name"] == name
            for r in self.ctx.state.data["resources"].values()
        )
        if taken:
            return Response(
                200,
                {"nameAvailable": False, "reason": "AlreadyExists", "message": f"The storage account named {name} is already taken."},
            )
        return Response(200, {"nameAvailable": True})

    # -- admin -----------------------------------------------------------------------------------

    def update_locations(self, request: Request, path: str) -> Response:
        """``Microsoft.Update.Admin/updateLocations``: the release's build, for an operator only."""
        self.identity.authenticate(request, admin=True)
        match = re.fullmatch(
            r"/subscriptions/([^/]+)/resourcegroups/system\.([^/]+)/providers/microsoft\.update\.admin/updatelocations(?:/([^/]+))?",
            path,
            re.IGNORECASE,
        )
        if match is None:
            raise ArmError(404, "NotFound", f"No HTTP resource was found that matches the request URI '{path}'.")
        sub, region, name = match.groups()
        self._check_subscription(sub, admin=True)
        if request.api_version not in ("2016-05-01", "2021-07-01"):
            raise ArmError(
                400,
                "InvalidApiVersionParameter",
                f"The api-version '{request.api_version}' is invalid. The supported versions are '2021-07-01,2016-05-01'.",
            )
        location = self.ctx.state.data["location"]
        if region.lower() != location or (name is not None and name.lower() != location):
            raise ArmError(404, "ResourceNotFound", f"The update location '{name or region}' was not found.")
        body = {
            "id": f"/subscriptions/{sub}/resourceGroups/System.{location}/providers/Microsoft.Update.Admin/updateLocations/{location}",
            "name": location,
            "type": "Microsoft.Update.Admin/updateLocations",
            "location": location,
            "properties": {
                "currentVersion": self.ctx.build,
                "currentOemVersion": "2.2.2108.1",
                "state": "AppliedSuccessfully",
                "lastUpdatedTime": _now(),
            },
        }
        return Response(200, body if name is not None else {"value": [body]})


def _shape_storage_account(arm: ArmService, resource: dict[str, Any], sub: str) -> None:
    name = resource["name"]
    if not _STORAGE_NAME.match(name):
        raise ArmError(400, "AccountNameInvalid", f"{name} is not a valid storage account name.")
    host = arm.ctx.base_url.split("://", 1)[1].rsplit(":", 1)[0]
    resource.setdefault("sku", {"name": "Standard_LRS"})
    resource["sku"].setdefault("tier", "Standard")
    resource.setdefault("kind", "Storage")
    resource["properties"].update(
        {
            "creationTime": _now(),
            "primaryLocation": resource["location"],
            "statusOfPrimary": "available",
            "primaryEndpoints": {s: f"https://{name}.{s}.{host}/" for s in ("blob", "queue", "table")},
        }
    )


def _shape_virtual_network(arm: ArmService, resource: dict[str, Any], sub: str) -> None:
    resource["etag"] = f'W/"{uuid.uuid4()}"'
    resource["properties"].setdefault("resourceGuid", str(uuid.uuid4()))
    subnets = resource["properties"].pop("subnets", None) or []
    resources = arm.ctx.state.data["resources"]
    for subnet in subnets:
        subnet_id = f"{resource['id']}/subnets/{subnet['name']}"
        resources[subnet_id.lower()] = {
            "id": subnet_id,
            "name": subnet["name"],
            "type": "Microsoft.Network/virtualNetworks/subnets",
            "properties": {**dict(subnet.get("properties") or {}), "provisioningState": "Succeeded"},
        }
    arm._refresh_children(resource)


_RESOURCE_SHAPES: dict[str, Callable[[ArmService, dict[str, Any], str], None]] = {
    "microsoft.storage/storageaccounts": _shape_storage_account,
    "microsoft.network/virtualnetworks": _shape_virtual_network,
}
