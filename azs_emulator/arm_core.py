"""What every Resource Manager service of the emulator shares: the checks ARM makes before any
handler runs, provider registration, resource groups, the resource store, long-running operations
and paging. Services (``azs_emulator/services/``) build on :class:`Arm`; how each resource type behaves is
declared with :mod:`azs_emulator.resource_types`.
"""

from __future__ import annotations

import copy
import datetime as dt
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, cast
from urllib.parse import quote

from azs_emulator import arm_errors
from azs_emulator.config import EmulatorContext
from azs_emulator.faults import FaultInjector
from azs_emulator.identity import IdentityService
from azs_emulator.protocol import ArmError, Request, Response
from azs_emulator.resource_types import ResourceType
from azs_emulator.routing import Match
from azs_emulator.state import Document, DocumentStore, StateData
from azs_emulator.store import Section

RESOURCES_NS = "Microsoft.Resources"
# The sections of the state (state.StateData) Arm owns for every service: registrations, groups, resources, and the
# keys kept beside storage accounts (services/registry.py names every other section's owner).
ARM_SECTIONS = ("providers", "resource_groups", "resources", "storage_keys")
# Namespaces a new subscription has registered already, as on a real one.
ALWAYS_REGISTERED = {RESOURCES_NS.lower(), "microsoft.authorization"}


def now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat().replace("+00:00", "Z")


def group_id(sub: str, group: str) -> str:
    return f"/subscriptions/{sub}/resourceGroups/{group}"


def ref_id(value: Any) -> str:
    """The id a reference names (``{"id": ...}``, as NICs, disks and subnets are referenced), or ""."""
    return str(value.get("id", "")) if isinstance(value, dict) else ""


def deep_merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    """``update`` over ``base``: nested objects merge, everything else is replaced (ARM's PATCH, and the PUT of
    an existing resource for types whose service keeps what a body leaves out)."""
    merged = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


class Arm:
    """Shared Resource Manager backend: state, checks, ids, operations, paging."""

    OPERATIONS_KEPT = 10_000  # accepted operations whose poll answers (assumed: ARM forgets them too; none documented)

    def __init__(self, ctx: EmulatorContext, identity: IdentityService, faults: FaultInjector) -> None:
        self.ctx = ctx
        self.identity = identity
        self.faults = faults
        self.types: dict[str, ResourceType] = {}  # full type, lower case -> behaviour: type_table() of the services
        # Role-based access control (Microsoft.Authorization's service sets it): raises 403 for a refused action.
        self.authorize: Callable[[Request, Match], None] | None = None
        # Checks after the caller's role (management locks): each raises an ArmError for a request it refuses.
        self.guards: list[Callable[[Request, Match], None]] = []
        # Called with a resource group's name (lower case) when it is deleted: what a service keeps per group goes too.
        self.group_deleted: list[Callable[[str], None]] = []
        # accepted operation -> the resource id it ends on, or an action's answer (a disk's SAS); the newest only
        self._operations: OrderedDict[str, str | dict[str, Any] | None] = OrderedDict()

    @property
    def data(self) -> StateData:
        """The whole state. Only owners touch their section (StateData says whose each is); services call the owners'
        methods. (Key Vault's service still reads it directly until it has a backend of its own.)"""
        return self.ctx.state.data

    @property
    def _resources(self) -> Section:
        """The resources, by lower-cased id: read by id prefix (a group's, a resource's children) from the store."""
        return cast(Section, self.data["resources"])

    # -- who the Stack is ----------------------------------------------------------------------

    @property
    def location(self) -> str:
        return self.data["location"]

    @property
    def tenant_id(self) -> str:
        return self.data["tenant_id"]

    @property
    def client_id(self) -> str:
        """The application (client) id of the emulator's service principal."""
        return self.data["client_id"]

    @property
    def audience_app_id(self) -> str:
        """The application id of the tenant's Resource Manager audience."""
        return self.data["audience_app_id"]

    def read_or_delete(self, request: Request, store: DocumentStore, key: str, not_found: Callable[[], ArmError],
                       echo_deleted: bool = False) -> Response | None:
        """GET and DELETE of a document kept in ``store`` under ``key`` (a lock, a policy definition or assignment):
        404 by ``not_found`` for a GET of none, 204 for a DELETE of none, 200 (with the document when ``echo_deleted``)
        once deleted and saved; None for any other method (the caller's PUT)."""
        existing = store.get(key)
        if request.method == "GET":
            if existing is None:
                raise not_found()
            return Response(200, existing)
        if request.method == "DELETE":
            if existing is None:
                return Response(204)
            store.pop(key)
            self.save()
            return Response(200, existing) if echo_deleted else Response(200)
        return None

    def save(self) -> None:
        self.ctx.state.save()

    # -- checks made before a handler runs -----------------------------------------------------

    def subscription_id(self, admin: bool = False) -> str:
        return self.data["admin_subscription_id" if admin else "subscription_id"]

    def check_subscription(self, subscription_id: str, admin: bool) -> None:
        if subscription_id.lower() != self.subscription_id(admin).lower():
            raise arm_errors.subscription_not_found(subscription_id)

    def check_api_version(self, request: Request, namespace: str, resource_type: str) -> None:
        """400 unless the release serves ``request``'s api-version for this resource type."""
        given = request.api_version
        versions = self.supported_versions(namespace, resource_type, given or "")
        if given is None:
            raise arm_errors.missing_api_version()
        if given not in versions:
            # Resource Manager's own types answer InvalidApiVersionParameter (real-stack: azure-pipelines-extensions
            # #929), a provider's resources in a group NoRegisteredProviderFound (real-stack: cloud-provider-azure
            # #9704), a provider's type across the subscription InvalidResourceType, 404 (real-stack: azurestack-powershell#43).
            if namespace.lower() == "microsoft.resources":
                raise arm_errors.invalid_api_version(given, versions)
            if "/resourcegroups/" in request.path.lower():
                raise arm_errors.no_provider_for_version(self.location, given, resource_type, versions)
            raise arm_errors.invalid_resource_type(namespace, resource_type, given, versions)

    def supported_versions(self, namespace: str, resource_type: str, given: str = "") -> tuple[str, ...]:
        types = self.namespace_table(namespace)
        if types is None:
            raise arm_errors.no_registered_provider(namespace, self.location)
        for known, versions in types.items():
            if known.lower() == resource_type.lower():
                return versions
        raise arm_errors.unknown_resource_type(self.canonical_namespace(namespace), given)

    def namespace_table(self, namespace: str):
        for known, types in self.ctx.api_table.items():
            if known.lower() == namespace.lower():
                return types
        return None

    def canonical_namespace(self, namespace: str) -> str:
        for known in self.ctx.api_table:
            if known.lower() == namespace.lower():
                return known
        return namespace

    def canonical_type(self, namespace: str, resource_type: str) -> str:
        """``Microsoft.Network/virtualNetworks`` for any spelling of namespace and (nested) type."""
        namespace = self.canonical_namespace(namespace)
        table = self.namespace_table(namespace) or {}
        spelled = next((known for known in table if known.lower() == resource_type.lower()), resource_type)
        return f"{namespace}/{spelled}"

    # -- provider registration -----------------------------------------------------------------

    def registration_state(self, namespace: str) -> str:
        if namespace.lower() in ALWAYS_REGISTERED:
            return "Registered"
        entry = self.data["providers"].get(namespace.lower())
        if entry is None:
            return "NotRegistered"
        if entry["state"] == "Registering" and time.time() >= entry["ready_at"] and not self.faults.registration_stuck():
            entry["state"] = "Registered"
            self.save()
        return entry["state"]

    def set_registration(self, namespace: str, state: str, ready_at: float = 0) -> None:
        """Record a namespace's registration state (``Registering`` turns ``Registered`` at ``ready_at``) and save."""
        self.data["providers"][namespace.lower()] = {"state": state, "ready_at": ready_at}
        self.save()

    def require_registration(self, namespace: str) -> None:
        if self.registration_state(namespace) != "Registered":
            raise arm_errors.missing_registration(self.canonical_namespace(namespace))

    # -- resource groups -----------------------------------------------------------------------

    def group(self, name: str) -> Document:
        """The resource group (``name``, ``location``, ``tags``); 404 when there is none of that name."""
        group = self.data["resource_groups"].get(name.lower())
        if group is None:
            raise arm_errors.resource_group_not_found(name)
        return group

    def has_group(self, name: str) -> bool:
        return name.lower() in self.data["resource_groups"]

    def groups(self) -> list[Document]:
        return list(self.data["resource_groups"].values())

    def put_group(self, name: str, tags: dict[str, Any]) -> tuple[Document, bool]:
        """Create the resource group (in the Stack's region) or set its tags; the group, and whether it existed."""
        groups = self.data["resource_groups"]
        existed = name.lower() in groups
        group = groups.setdefault(name.lower(), {"name": name, "location": self.location})
        group["tags"] = tags
        self.save()
        return group, existed

    def delete_group(self, sub: str, name: str) -> None:
        """Delete the resource group, every resource in it and what services keep for it."""
        for resource in self.group_resources(sub, name):
            self.delete_tree(resource["id"])
        for forget in self.group_deleted:
            forget(name.lower())
        del self.data["resource_groups"][name.lower()]
        self.save()

    def check_location(self, location: Any, what: str = "resource group") -> str:
        if not isinstance(location, str) or location.replace(" ", "").lower() != self.location:
            raise arm_errors.location_not_available(str(location), self.location, what)
        return self.location

    # -- the resource store --------------------------------------------------------------------

    def resource_id(self, sub: str, group: str, full_type: str, *names: str) -> str:
        """``/subscriptions/../resourceGroups/G/providers/NS/type/name[/child/name]``, spelled canonically."""
        namespace, *types = full_type.split("/")
        segments = [s for pair in zip(types, names) for s in pair]
        return f"{group_id(sub, self.group(group)['name'])}/providers/{namespace}/{'/'.join(segments)}"

    def find(self, resource_id: str) -> dict[str, Any] | None:
        return self.data["resources"].get(resource_id.lower())

    def get(self, resource_id: str, full_type: str) -> dict[str, Any]:
        resource = self.find(resource_id)
        if resource is None:
            raise arm_errors.resource_not_found(full_type, resource_id.rsplit("/", 1)[-1], resource_id.split("/")[4])
        return resource

    def store(self, resource: dict[str, Any]) -> None:
        self.data["resources"][resource["id"].lower()] = resource

    def all_resources(self) -> list[Document]:
        """Every resource of every group, children included (in the order they were stored)."""
        return list(self.data["resources"].values())

    def resources_of_type(self, full_type: str) -> list[Document]:
        """Every resource of one type (any group), ``full_type`` spelled as stored (canonically)."""
        return [r for r in self.data["resources"].values() if r["type"] == full_type]

    def storage_keys(self, account_id: str, new_keys: Callable[[], list[str]]) -> list[str]:
        """A storage account's access keys, made by ``new_keys`` on first use. They are kept beside the account, so
        that they go with it when it is deleted or moved; change them in place and save."""
        kept = self.data["storage_keys"]
        if account_id.lower() not in kept:
            kept[account_id.lower()] = new_keys()
        self.save()
        return kept[account_id.lower()]

    def move_resources(self, renamed: dict[str, str]) -> None:
        """Give resources new ids (``renamed``: old id in lower case -> new id), with everything below them, and make
        every reference (in any resource) to one of them, or to something below, name its new place."""
        store = self.data["resources"]
        for key in list(store):
            prefix = next((old for old in renamed if key == old or key.startswith(old + "/")), None)
            if prefix is not None:
                resource = store.pop(key)
                resource["id"] = renamed[prefix] + resource["id"][len(prefix):]
                store[resource["id"].lower()] = resource
        for key, resource in list(store.items()):
            store[key] = _with_ids_renamed(resource, renamed)
        keys = self.data["storage_keys"]
        for old, new in renamed.items():
            if old in keys:
                keys[new.lower()] = keys.pop(old)
        self.save()

    def delete_tree(self, resource_id: str) -> list[dict[str, Any]]:
        """Remove a resource and its children; the removed ones (none: it did not exist)."""
        resources = self._resources
        key = resource_id.lower()
        doomed = [k for k in resources.keys(key) if k == key or k.startswith(key + "/")]
        removed = [resources.pop(k) for k in doomed]
        self.data["storage_keys"].pop(key, None)
        return removed

    def resources_under(self, prefix: str, depth: int | None = 1) -> list[dict[str, Any]]:
        """Resources whose id starts with ``prefix`` (lower case), ``depth`` type levels deep (None: any)."""
        return [
            r for _, r in sorted(self._resources.items(prefix))
            if depth is None or r["type"].count("/") == depth
        ]

    def group_resources(self, sub: str, group: str) -> list[dict[str, Any]]:
        """The top-level resources of a resource group (404 when the group does not exist)."""
        return self.resources_under(group_id(sub, self.group(group)["name"]).lower() + "/")

    @staticmethod
    def public(resource: dict[str, Any]) -> dict[str, Any]:
        """A stored resource as ARM shows it: without the emulator's own bookkeeping (``_`` keys)."""
        return {k: v for k, v in resource.items() if not k.startswith("_")}

    def behaviour(self, full_type: str) -> ResourceType:
        return self.types.get(full_type.lower(), ResourceType())

    def shown(self, resource: dict[str, Any], request: Request) -> dict[str, Any]:
        """A resource as its type shows it to this request."""
        render = self.behaviour(resource["type"]).render
        return render(self, resource, request) if render else self.public(resource)

    # -- long-running operations ---------------------------------------------------------------

    def accepted(self, request: Request, sub: str, result_id: str | None = None,
                 result: dict[str, Any] | None = None) -> Response:
        """202 for a long-running operation (done at once), with the headers ARM sends: ``Location`` (its poll
        answers 200 with the resource ``result_id`` names, an action's ``result``, or no body) and, unless the
        operation ends on a ``result`` of its own, ``Azure-AsyncOperation`` (a status document saying
        Succeeded). Network's views (a NIC's effective routes) answer with ``Location`` alone, and a client
        given both would read the status document, which has no result."""
        operation = uuid.uuid4().hex
        self._operations[operation] = result if result is not None else result_id
        while len(self._operations) > self.OPERATIONS_KEPT:
            self._operations.popitem(last=False)
        base = f"{request.base_url}/subscriptions/{sub}"
        version = quote(request.api_version or "")
        headers = {"Location": f"{base}/operationresults/{operation}?api-version={version}", "Retry-After": "0"}
        if result is None:
            headers["Azure-AsyncOperation"] = f"{base}/operationstatuses/{operation}?api-version={version}"
        return Response(202, None, headers)

    def operation_result(self, operation: str) -> str | dict[str, Any] | None:
        """The resource id an accepted operation ends on, or its answer (None: no body)."""
        if operation not in self._operations:
            raise arm_errors.operation_not_found(operation)
        return self._operations[operation]

    # -- lists ---------------------------------------------------------------------------------

    def paged(self, request: Request, items: list[dict[str, Any]], size: int | None = None) -> Response:
        """One page of ``items`` (ordered by id, case-insensitively). The continuation token is the last id
        returned, not an offset: items added or deleted meanwhile never make a page skip or repeat one."""
        size = size or self.ctx.config.page_size
        top = request.query.get("$top", "")
        if top:
            if not top.isdigit() or int(top) < 1:
                raise arm_errors.invalid_parameter(f"The value '{top}' of $top is not a positive integer.")
            size = min(size, int(top))
        ordered = sorted(items, key=lambda item: item["id"].lower())
        after = request.query.get("$skiptoken", "")
        if after:
            try:
                after = bytes.fromhex(after).decode("utf-8").lower()
            except ValueError:
                raise arm_errors.invalid_skip_token() from None
            ordered = [item for item in ordered if item["id"].lower() > after]
        body: dict[str, Any] = {"value": ordered[:size]}
        if len(ordered) > size:
            token = ordered[size - 1]["id"].encode("utf-8").hex()
            kept = "".join(f"&{quote(k)}={quote(v)}" for k, v in request.query.items()
                           if k not in ("api-version", "$skiptoken"))
            query = f"api-version={quote(request.api_version or '')}{kept}&%24skiptoken={token}"
            body["nextLink"] = f"{request.base_url}{request.path}?{query}"
        return Response(200, body)


def _with_ids_renamed(value: Any, renamed: dict[str, str]) -> Any:
    """``value`` with every id of a moved resource (or of something below it) naming its new place."""
    if isinstance(value, dict):
        return {k: _with_ids_renamed(v, renamed) for k, v in value.items()}
    if isinstance(value, list):
        return [_with_ids_renamed(v, renamed) for v in value]
    if isinstance(value, str) and value.startswith("/subscriptions/"):
        lowered = value.lower()
        for old, new in renamed.items():
            if lowered == old or lowered.startswith(old + "/"):
                return new + value[len(old):]
    return value
