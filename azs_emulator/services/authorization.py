"""Microsoft.Authorization as a Stack serves it (2015-07-01): built-in role definitions, role assignments at
subscription, group and resource scope, a caller's permissions - and the check ARM makes before every write:
is the caller's principal assigned a role whose actions cover it, at the scope or above?"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from typing import Any

from azs_emulator import arm_errors
from azs_emulator.arm_core import Arm
from azs_emulator.protocol import Request, Response
from azs_emulator.routing import Match, Route, route
from azs_emulator.state import Document, DocumentStore

NAMESPACE = "Microsoft.Authorization"
ASSIGNMENTS = f"{NAMESPACE}/roleAssignments"
DEFINITIONS = f"{NAMESPACE}/roleDefinitions"
_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
# A scope: a subscription, a resource group in it, or a resource (with any parent path) in the group.
SCOPE = r"(/subscriptions/[^/]+(?:/resourcegroups/[^/]+(?:/providers/[^/]+/.+?)?)?)"


# The emulator's own table of built-in roles: the generator's catalog has its own copy, and neither reads the other's,
# so that one wrong entry cannot fool both the product and its test double.
@dataclass(frozen=True)
class BuiltInRole:
    name: str
    guid: str  # the same on every Azure and Azure Stack Hub
    description: str
    actions: tuple[str, ...]
    not_actions: tuple[str, ...] = ()

    def allows(self, action: str) -> bool:
        """An action is allowed when one of ``actions`` matches it and none of ``not_actions`` does (case-insensitive)."""
        def matches(patterns: tuple[str, ...]) -> bool:
            return any(fnmatch.fnmatchcase(action.lower(), pattern.lower()) for pattern in patterns)
        return matches(self.actions) and not matches(self.not_actions)


BUILT_IN_ROLES = (
    BuiltInRole("Owner", "8e3af657-a8ff-443c-a75c-2fe8c4bcb635",
                "Lets you manage everything, including access to resources.", ("*",)),
    BuiltInRole("Contributor", "b24988ac-6180-42a0-ab88-20f7382dd24c",
                "Lets you manage everything except access to resources.", ("*",),
                ("Microsoft.Authorization/*/Delete", "Microsoft.Authorization/*/Write", "Microsoft.Authorization/elevateAccess/Action")),
    BuiltInRole("Reader", "acdd72a7-3385-48ef-bd42-f606fba81ae7", "Lets you view everything, but not make any changes.",
                ("*/read",)),
    BuiltInRole("User Access Administrator", "18d7d88d-d35e-4fb5-a5c3-7773c6a72009",
                "Lets you manage user access to Azure resources.", ("*/read", "Microsoft.Authorization/*", "Microsoft.Support/*")),
)


def role_named(name: str) -> BuiltInRole | None:
    return next((role for role in BUILT_IN_ROLES if role.name.lower() == name.lower()), None)


def _role_of(definition_id: str) -> BuiltInRole | None:
    guid = str(definition_id).rstrip("/").rsplit("/", 1)[-1].lower()
    return next((role for role in BUILT_IN_ROLES if role.guid == guid), None)


def is_under(scope: str, parent: str) -> bool:
    """``scope`` is ``parent`` or lies below it (whole path segments, case-insensitively)."""
    scope, parent = scope.rstrip("/").lower(), parent.rstrip("/").lower()
    return scope == parent or scope.startswith(parent + "/")


class RoleAssignmentsBackend:
    """Owns the role assignments (``StateData.role_assignments``, keyed by assignment id) and the name of the
    service principal's own (``principal_assignment``)."""

    def __init__(self, arm: Arm) -> None:
        self._arm = arm
        self.documents = DocumentStore(arm.data["role_assignments"])

    @property
    def principal_assignment(self) -> str:
        """The name (a GUID) of the assignment the emulator's service principal holds on its subscription."""
        return self._arm.data["principal_assignment"]

    def put(self, assignment: Document) -> None:
        self.documents.put(assignment["id"], assignment)
        self._arm.save()

    def delete(self, assignment_id: str) -> None:
        self.documents.pop(assignment_id)
        self._arm.save()


class AuthorizationService:
    def __init__(self, arm: Arm) -> None:
        self.arm = arm
        self.assignments = RoleAssignmentsBackend(arm)
        arm.authorize = self.authorize
        self._assign_the_principal(arm.ctx.config.role)

    def _assign_the_principal(self, role_name: str) -> None:
        """The emulator's service principal holds ``role_name`` on its subscription (Owner unless ``--role`` says
        otherwise), as a Stack's subscription always has its owner's assignment."""
        role = role_named(role_name)
        assert role is not None
        sub = self.arm.subscription_id()
        scope = f"/subscriptions/{sub}"
        assignment = self._document(scope, self.assignments.principal_assignment, self._definition_id(sub, role),
                                    self.arm.ctx.service_principal_object_id)
        with self.arm.ctx.state.lock:
            self.assignments.put(assignment)

    # -- routes ----------------------------------------------------------------------------------

    def routes(self) -> list[Route]:
        provider = SCOPE + r"/providers/microsoft\.authorization/"
        return [
            route("GET", provider + r"roledefinitions", self.list_definitions, api=(NAMESPACE, "roleDefinitions")),
            route("GET", provider + r"roledefinitions/([^/]+)", self.get_definition, api=(NAMESPACE, "roleDefinitions")),
            route("GET", provider + r"roleassignments", self.list_assignments, api=(NAMESPACE, "roleAssignments")),
            route("PUT|GET|DELETE", provider + r"roleassignments/([^/]+)", self.assignment, api=(NAMESPACE, "roleAssignments")),
            route("GET", provider + r"permissions", self.permissions, api=(NAMESPACE, "permissions")),
        ]

    # -- role definitions ------------------------------------------------------------------------

    @staticmethod
    def _definition_id(sub: str, role: BuiltInRole) -> str:
        return f"/subscriptions/{sub}/providers/{DEFINITIONS}/{role.guid}"

    def _definition(self, sub: str, role: BuiltInRole) -> dict[str, Any]:
        return {"id": self._definition_id(sub, role), "name": role.guid, "type": DEFINITIONS, "properties": {
            "roleName": role.name, "type": "BuiltInRole", "description": role.description, "assignableScopes": ["/"],
            "permissions": [{"actions": list(role.actions), "notActions": list(role.not_actions)}]}}

    def list_definitions(self, request: Request, scope: str) -> Response:
        self._check_scope(scope)
        sub = scope.split("/")[2]
        wanted = _filter_value(request, "roleName")
        roles = [r for r in BUILT_IN_ROLES if wanted is None or r.name.lower() == wanted.lower()]
        return Response(200, {"value": [self._definition(sub, role) for role in roles]})

    def get_definition(self, request: Request, scope: str, guid: str) -> Response:
        self._check_scope(scope)
        role = _role_of(guid)
        if role is None:
            raise arm_errors.role_definition_not_found(guid)
        return Response(200, self._definition(scope.split("/")[2], role))

    # -- role assignments ------------------------------------------------------------------------

    def _document(self, scope: str, name: str, definition_id: str, principal_id: str) -> dict[str, Any]:
        return {"id": f"{scope}/providers/{ASSIGNMENTS}/{name}", "name": name, "type": ASSIGNMENTS,
                "properties": {"roleDefinitionId": definition_id, "principalId": principal_id, "scope": scope}}

    def list_assignments(self, request: Request, scope: str) -> Response:
        self._check_scope(scope)
        expression = request.query.get("$filter", "").strip()
        principal = _filter_value(request, "principalId")
        assigned_to = re.fullmatch(r"assignedTo\('([^']*)'\)", expression)
        at_scope = expression == "atScope()"
        if expression and not (at_scope or principal is not None or assigned_to):
            raise arm_errors.invalid_filter(expression)
        principal = principal if principal is not None else (assigned_to.group(1) if assigned_to else None)
        found = []
        for assignment in self.assignments.documents.by_id():
            own = assignment["properties"]["scope"]
            if not (is_under(scope, own) or (not at_scope and is_under(own, scope))):
                continue  # neither at nor above the scope (nor, without atScope(), below it)
            if principal is not None and assignment["properties"]["principalId"].lower() != principal.lower():
                continue
            found.append(assignment)
        return Response(200, {"value": found})

    def assignment(self, request: Request, scope: str, name: str) -> Response:
        self._check_scope(scope)
        key = f"{scope}/providers/{ASSIGNMENTS}/{name}"
        existing = self.assignments.documents.get(key)
        if request.method == "GET":
            if existing is None:
                raise arm_errors.role_assignment_not_found()
            return Response(200, existing)
        if request.method == "DELETE":
            if existing is None:
                return Response(204)
            self.assignments.delete(key)
            return Response(200, existing)
        return self._create_assignment(request, scope, name, existing)

    def _create_assignment(self, request: Request, scope: str, name: str, existing: dict[str, Any] | None) -> Response:
        if not _GUID.match(name):
            raise arm_errors.invalid_role_assignment_id(name)
        props = request.properties()
        if props is None or not props.get("roleDefinitionId") or not props.get("principalId"):
            raise arm_errors.invalid_request_content("properties.roleDefinitionId and properties.principalId are required.")
        role = _role_of(str(props["roleDefinitionId"]))
        if role is None:
            raise arm_errors.role_definition_not_found(str(props["roleDefinitionId"]))
        sub = scope.split("/")[2]
        assignment = self._document(canonical_scope(scope), name, self._definition_id(sub, role), str(props["principalId"]))
        if existing is not None:
            if existing["properties"] != assignment["properties"] | {"scope": existing["properties"]["scope"]}:
                raise arm_errors.role_assignment_update_not_permitted()
            # spec: 2015-07-01 answers RoleAssignments_Create 201 only (authorization-RoleAssignmentsCalls.json), and the
            # SDK's client of that version refuses anything else: the same PUT again is answered as the first.
            return Response(201, existing)
        for other in self.assignments.documents.values():
            same = (other["properties"]["principalId"].lower() == assignment["properties"]["principalId"].lower()
                    and _role_of(other["properties"]["roleDefinitionId"]) == role
                    and other["properties"]["scope"].lower() == assignment["properties"]["scope"].lower())
            if same:
                raise arm_errors.role_assignment_exists()
        self.assignments.put(assignment)
        return Response(201, assignment)

    def permissions(self, request: Request, scope: str) -> Response:
        """The caller's effective permissions at ``scope``: one entry per role assigned to it there or above."""
        self._check_scope(scope)
        roles = self._roles_at(scope, self.arm.ctx.service_principal_object_id)
        return Response(200, {"value": [{"actions": list(r.actions), "notActions": list(r.not_actions)} for r in roles]})

    # -- the check before a request's handler runs -----------------------------------------------

    def _roles_at(self, scope: str, principal: str) -> list[BuiltInRole]:
        roles = []
        for assignment in self.assignments.documents.values():
            props = assignment["properties"]
            role = _role_of(props["roleDefinitionId"])
            if role is not None and props["principalId"].lower() == principal.lower() and is_under(scope, props["scope"]):
                roles.append(role)
        return roles

    def authorize(self, request: Request, match: Match) -> None:
        """403 ``AuthorizationFailed`` unless a role of the caller at the request's scope (or above) allows its action."""
        action, scope = required_action(request, match)
        principal = self.arm.ctx.service_principal_object_id
        if not any(role.allows(action) for role in self._roles_at(scope, principal)):
            # real: ARM names a service principal by its object id, as client and as object id alike
            # ("The client '63df65da-...' with object id '63df65da-...'", Azure/azure-sdk-for-net#1157).
            raise arm_errors.authorization_failed(principal, principal, action, scope)

    def _check_scope(self, scope: str) -> None:
        """The scope's subscription is the caller's, and its resource group exists."""
        parts = scope.split("/")
        self.arm.check_subscription(parts[2], admin=False)
        if len(parts) > 4:
            self.arm.group(parts[4])


def canonical_scope(scope: str) -> str:
    return re.sub(r"/resourcegroups/", "/resourceGroups/", scope, flags=re.IGNORECASE)


def _filter_value(request: Request, field: str) -> str | None:
    """The value of ``$filter=<field> eq '<value>'``, or None."""
    found = re.fullmatch(rf"\s*{field}\s+eq\s+'([^']*)'\s*", request.query.get("$filter", ""), re.IGNORECASE)
    return found.group(1) if found else None


# Resource types whose actions ARM names under another path than their namespace's.
_ACTION_TYPES = {("microsoft.resources", "resourcegroups"): "Microsoft.Resources/subscriptions/resourceGroups",
                 ("microsoft.resources", "subscriptions"): "Microsoft.Resources/subscriptions"}
_VERBS = {"GET": "read", "HEAD": "read", "PUT": "write", "PATCH": "write", "DELETE": "delete"}


def required_action(request: Request, match: Match) -> tuple[str, str]:
    """The action ARM checks for ``request`` (``Microsoft.Storage/storageAccounts/write``,
    ``Microsoft.Compute/virtualMachines/start/action``, ``Microsoft.Network/register/action``) and its scope."""
    path = re.sub(r"/+$", "", request.path.split("?", 1)[0])
    api = match.route.api_of(match.groups) or ("Microsoft.Resources", "subscriptions")
    namespace, resource_type = api
    base = _ACTION_TYPES.get((namespace.lower(), resource_type.lower()), f"{namespace}/{resource_type}")
    if request.method == "POST":
        verb = path.rsplit("/", 1)[-1]
        scope = path.rsplit("/", 1)[0]
        if resource_type.lower() == "providers" and verb.lower() in ("register", "unregister"):
            return f"{scope.rsplit('/', 1)[-1]}/{verb}/action", scope.rsplit("/providers/", 1)[0]
        return f"{base}/{verb}/action", scope
    return f"{base}/{_VERBS.get(request.method, 'read')}", path
