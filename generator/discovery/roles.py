"""What the service principal may do: its role assignments on the subscription, read through Microsoft.Authorization
at the version every Stack serves (2015-07-01), with the evidence. Never fails a discovery: a principal may not be
allowed to read assignments, or may hold its role through a group it cannot see."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from generator.discovery.http import DiscoveryError, HttpStatusError, StackHttp
from generator.discovery.metadata import StackMetadata

AUTHORIZATION_API_VERSION = "2015-07-01"


@dataclass(frozen=True)
class RoleAssignment:
    """A role the principal holds, by name, and where."""

    role: str
    scope: str

    def to_json(self) -> dict[str, str]:
        return {"role": self.role, "scope": self.scope}


@dataclass
class PrincipalRoles:
    """The principal's role assignments, or None when they could not be read; ``note`` says how, or why not."""

    assignments: list[RoleAssignment] | None
    note: str
    object_id: str | None = None
    evidence: list[str] = field(default_factory=list)

    def held_on(self, subscription_id: str) -> list[str]:
        """The roles held on the subscription itself: those that let a project create resource groups there."""
        scope = f"/subscriptions/{subscription_id}".lower()
        return [a.role for a in self.assignments or [] if a.scope.rstrip("/").lower() == scope]


def token_object_id(token: str) -> str | None:
    """The ``oid`` claim of an access token, unverified (it names the principal; nothing is trusted on it)."""
    try:
        payload = token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return None
    value = claims.get("oid") if isinstance(claims, dict) else None
    return str(value) if value else None


def objects_of(body: Any) -> list[dict[str, Any]]:
    """The objects in an ARM list answer's ``value``; anything else in it is passed over."""
    value = body.get("value") if isinstance(body, dict) else None
    return [entry for entry in value if isinstance(entry, dict)] if isinstance(value, list) else []


def read_roles(http: StackHttp, metadata: StackMetadata, token: str, subscription: str) -> PrincipalRoles:
    """The principal's assignments at the subscription and below, with role names; unreadable ones said plainly."""
    object_id = token_object_id(token)
    if object_id is None:
        return PrincipalRoles(None, "the principal's role assignments were not read: its token names no object id (oid)")
    headers = {"Authorization": f"Bearer {token}"}
    base = f"{metadata.resource_manager}subscriptions/{subscription}/providers/Microsoft.Authorization"
    version = f"api-version={AUTHORIZATION_API_VERSION}"
    what = "reading the service principal's role assignments"
    try:
        listed = http.get(f"{base}/roleAssignments?{version}&$filter={quote(f'principalId eq {chr(39)}{object_id}{chr(39)}')}",
                          what, headers=headers).body
        definitions = http.get(f"{base}/roleDefinitions?{version}", "reading the role definitions", headers=headers).body
    except HttpStatusError as exc:
        if exc.status == 403:
            why = "the principal may not read them (it lacks Microsoft.Authorization/roleAssignments/read)"
        elif exc.status in (400, 404):
            why = f"the Stack does not serve Microsoft.Authorization {AUTHORIZATION_API_VERSION} ({exc.arm_code or exc.status})"
        else:
            why = f"Resource Manager answered {exc.status}{' ' + exc.arm_code if exc.arm_code else ''}"
        return PrincipalRoles(None, f"the principal's role assignments could not be read: {why}", object_id)
    except DiscoveryError as exc:
        return PrincipalRoles(None, f"the principal's role assignments could not be read: {exc}", object_id)
    # Entries that are not objects (null, a number, a string) are passed over: reading roles never fails a discovery.
    names = {}
    for definition in objects_of(definitions):
        props = definition["properties"] if isinstance(definition.get("properties"), dict) else {}
        names[str(definition.get("name", "")).lower()] = str(props.get("roleName") or definition.get("name"))
    found = []
    for assignment in objects_of(listed):
        props = assignment["properties"] if isinstance(assignment.get("properties"), dict) else assignment
        guid = str(props.get("roleDefinitionId", "")).rstrip("/").rsplit("/", 1)[-1].lower()
        found.append(RoleAssignment(names.get(guid, guid), str(props.get("scope", ""))))
    sentence = (f"object id {object_id} holds " + ", ".join(f"{a.role} at {a.scope}" for a in found) if found
                else f"object id {object_id} holds no role it can see (one may come through a group)")
    return PrincipalRoles(found, sentence, object_id, [sentence])
