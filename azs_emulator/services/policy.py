"""Microsoft.Authorization policy as the Stack profiles name it (2016-12-01): custom policy definitions in the
subscription, and policy assignments at subscription, resource group or resource scope. Definitions and
assignments are kept and shown as the policy spec gives them; the emulator does not evaluate them against
the requests it serves (a known difference, docs/emulator.md)."""

from __future__ import annotations

import re
from typing import Any

from azs_emulator import arm_errors
from azs_emulator.arm_core import Arm
from azs_emulator.protocol import Request, Response
from azs_emulator.routing import Route, route
from azs_emulator.services.authorization import SCOPE, canonical_scope, is_under
from azs_emulator.state import Document, DocumentStore

NAMESPACE = "Microsoft.Authorization"
DEFINITIONS = f"{NAMESPACE}/policyDefinitions"
ASSIGNMENTS = f"{NAMESPACE}/policyAssignments"
_MODES = ("All", "Indexed", "NotSpecified")
_TYPES = ("NotSpecified", "BuiltIn", "Custom")
_DEFINITION_ID = re.compile(r"^(?:/subscriptions/([^/]+))?/providers/microsoft\.authorization/policydefinitions/([^/]+)$",
                            re.IGNORECASE)


def _spelled(value: Any, members: tuple[str, ...]) -> Any:
    return next((m for m in members if isinstance(value, str) and m.lower() == value.lower()), value)


class PolicyBackend:
    """Owns the custom policy definitions and the policy assignments (``StateData.policy_definitions`` and
    ``policy_assignments``), each keyed by its id."""

    def __init__(self, arm: Arm) -> None:
        self._arm = arm
        self.definitions = DocumentStore(arm.data["policy_definitions"])
        self.assignments = DocumentStore(arm.data["policy_assignments"])

    def put(self, store: DocumentStore, document: Document) -> None:
        store.put(document["id"], document)
        self._arm.save()


class PolicyService:
    def __init__(self, arm: Arm) -> None:
        self.arm = arm
        self.policy = PolicyBackend(arm)

    def routes(self) -> list[Route]:
        definitions, assignments = (NAMESPACE, "policyDefinitions"), (NAMESPACE, "policyAssignments")
        provider = r"/providers/microsoft\.authorization/"
        return [
            route("GET", r"/subscriptions/([^/]+)" + provider + "policydefinitions", self.list_definitions, api=definitions),
            route("PUT|GET|DELETE", r"/subscriptions/([^/]+)" + provider + r"policydefinitions/([^/]+)", self.definition,
                  api=definitions),
            # Built-in definitions live outside any subscription; the emulator's Stack has none of its own.
            route("GET", provider + "policydefinitions", self.list_built_in, api=definitions, subscription=False),
            route("GET", provider + r"policydefinitions/([^/]+)", self.get_built_in, api=definitions, subscription=False),
            route("GET", SCOPE + provider + "policyassignments", self.list_assignments, api=assignments),
            route("PUT|GET|DELETE", SCOPE + provider + r"policyassignments/([^/]+)", self.assignment, api=assignments),
        ]

    # -- definitions -----------------------------------------------------------------------------

    def definition(self, request: Request, sub: str, name: str) -> Response:
        definition_id = f"/subscriptions/{sub}/providers/{DEFINITIONS}/{name}"
        answer = self.arm.read_or_delete(request, self.policy.definitions, definition_id,
                                         lambda: arm_errors.policy_definition_not_found(name))
        if answer is not None:
            return answer
        props = request.properties()
        if props is None:
            raise arm_errors.invalid_request_content("The policy definition needs its properties.")
        rule = props.get("policyRule")
        if not isinstance(rule, dict) or "if" not in rule or "then" not in rule:
            raise arm_errors.invalid_policy_rule("The policy rule must be an object with an 'if' and a 'then'.")
        shown = {k: v for k, v in props.items() if v is not None}
        shown["policyType"] = _spelled(props.get("policyType") or "Custom", _TYPES)
        if "mode" in shown:
            shown["mode"] = _spelled(shown["mode"], _MODES)
        document = {"id": definition_id, "name": name, "type": DEFINITIONS, "properties": shown}
        self.policy.put(self.policy.definitions, document)
        return Response(201, document)  # the 2016-12-01 spec answers a create or an update 201 alike

    def list_definitions(self, request: Request, sub: str) -> Response:
        return Response(200, {"value": self.policy.definitions.by_id()})

    def list_built_in(self, request: Request) -> Response:
        return Response(200, {"value": []})

    def get_built_in(self, request: Request, name: str) -> Response:
        raise arm_errors.policy_definition_not_found(name)

    # -- assignments -----------------------------------------------------------------------------

    def _check_scope(self, scope: str) -> str:
        parts = scope.split("/")
        self.arm.check_subscription(parts[2], admin=False)
        if len(parts) > 4:
            self.arm.group(parts[4])
        if len(parts) > 6 and self.arm.find(scope) is None:
            raise arm_errors.resource_not_found(f"{parts[6]}/{'/'.join(parts[7::2])}", parts[-1], parts[4])
        return canonical_scope(scope)

    def assignment(self, request: Request, scope: str, name: str) -> Response:
        scope = self._check_scope(scope)
        assignment_id = f"{scope}/providers/{ASSIGNMENTS}/{name}"
        answer = self.arm.read_or_delete(request, self.policy.assignments, assignment_id,
                                         lambda: arm_errors.policy_assignment_not_found(name), echo_deleted=True)
        if answer is not None:
            return answer
        props = request.properties()
        if props is None or not props.get("policyDefinitionId"):
            raise arm_errors.invalid_request_content("properties.policyDefinitionId is required.")
        definition_id = str(props["policyDefinitionId"])
        found = _DEFINITION_ID.match(definition_id)
        definition = self.policy.definitions.get(definition_id)
        if not found or found.group(1) is None or definition is None:
            raise arm_errors.policy_definition_not_found(found.group(2) if found else definition_id)
        shown = {k: v for k, v in props.items() if v is not None}
        shown["policyDefinitionId"] = definition["id"]
        shown["scope"] = scope
        document = {"id": assignment_id, "name": name, "type": ASSIGNMENTS, "properties": shown}
        self.policy.put(self.policy.assignments, document)
        return Response(201, document)  # the 2016-12-01 spec answers a create or an update 201 alike

    def list_assignments(self, request: Request, scope: str) -> Response:
        """Assignments that apply at ``scope`` (at it or above) and, unless ``$filter=atScope()``, those below it."""
        scope = self._check_scope(scope)
        expression = request.query.get("$filter", "").strip()
        if expression and expression != "atScope()":
            raise arm_errors.invalid_filter(expression)
        found = [a for a in self.policy.assignments.by_id()
                 if is_under(scope, a["properties"]["scope"]) or (not expression and is_under(a["properties"]["scope"], scope))]
        return Response(200, {"value": found})
