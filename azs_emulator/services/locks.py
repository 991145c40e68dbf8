"""Microsoft.Authorization/locks (2016-09-01, every Stack profile's version): management locks at subscription,
resource group and resource scope (child resources too), and what they stop. ``CanNotDelete`` refuses the
delete of the locked scope, of anything below it and of anything containing it; ``ReadOnly`` refuses writes
and actions at the scope and below as well. Both answer 409 ``ScopeLocked``, as ARM does."""

from __future__ import annotations

import re
from typing import Any

from azs_emulator import arm_errors
from azs_emulator.arm_core import Arm
from azs_emulator.protocol import Request, Response
from azs_emulator.routing import Match, Route, route
from azs_emulator.services.authorization import SCOPE, canonical_scope, is_under
from azs_emulator.state import Document, DocumentStore

NAMESPACE = "Microsoft.Authorization"
LOCKS = f"{NAMESPACE}/locks"
LEVELS = ("CanNotDelete", "ReadOnly")
_LOCK_PATH = "/providers/microsoft.authorization/locks"


class LocksBackend:
    """Owns the management locks (``StateData.locks``), keyed by lock id."""

    def __init__(self, arm: Arm) -> None:
        self._arm = arm
        self.documents = DocumentStore(arm.data["locks"])

    def put(self, lock: Document) -> bool:
        """Keep the lock and save; whether one of its id existed."""
        existed = self.documents.put(lock["id"], lock)
        self._arm.save()
        return existed

    def by_id(self) -> list[Document]:
        return self.documents.by_id()

    def scopes(self) -> list[tuple[str, str]]:
        """(scope, level) of every lock."""
        return [(_lock_scope(lock), lock["properties"]["level"]) for lock in self.documents.values()]


class LocksService:
    def __init__(self, arm: Arm) -> None:
        self.arm = arm
        self.locks = LocksBackend(arm)
        arm.guards.append(self.refuse_locked)

    def routes(self) -> list[Route]:
        api = (NAMESPACE, "locks")
        return [
            route("GET", SCOPE + _LOCK_PATH, self.list_locks, api=api),
            route("PUT|GET|DELETE", SCOPE + _LOCK_PATH + r"/([^/]+)", self.lock, api=api),
        ]

    def _scope(self, scope: str) -> str:
        """The scope as ARM spells it; 404 when its group or resource does not exist."""
        parts = scope.split("/")
        if len(parts) <= 3:
            return scope
        group = self.arm.group(parts[4])
        if len(parts) <= 5:
            return f"/subscriptions/{parts[2]}/resourceGroups/{group['name']}"
        resource = self.arm.find(scope)
        if resource is None:
            raise arm_errors.resource_not_found(f"{parts[6]}/{'/'.join(parts[7::2])}", parts[-1], parts[4])
        return resource["id"]

    def lock(self, request: Request, scope: str, name: str) -> Response:
        scope = self._scope(canonical_scope(scope))
        key = f"{scope}/providers/{LOCKS}/{name}"
        answer = self.arm.read_or_delete(request, self.locks.documents, key, lambda: arm_errors.lock_not_found(name))
        if answer is not None:
            return answer
        props = request.properties()
        if props is None:
            raise arm_errors.invalid_request_content("The lock needs its properties (level, notes).")
        level = next((lv for lv in LEVELS if lv.lower() == str(props.get("level", "")).lower()), None)
        if level is None:
            raise arm_errors.lock_level_invalid(str(props.get("level")))
        shown = {"level": level}
        if props.get("notes") is not None:
            shown["notes"] = str(props["notes"])
        if isinstance(props.get("owners"), list):
            shown["owners"] = props["owners"]
        document = {"id": f"{scope}/providers/{LOCKS}/{name}", "name": name, "type": LOCKS, "properties": shown}
        existed = self.locks.put(document)
        return Response(200 if existed else 201, document)

    def list_locks(self, request: Request, scope: str) -> Response:
        """Locks at the scope and below it; with ``$filter=atScope()``, at the scope and above it."""
        scope = self._scope(canonical_scope(scope))
        expression = request.query.get("$filter", "").strip()
        if expression and expression != "atScope()":
            raise arm_errors.invalid_filter(expression)
        found = [lock for lock in self.locks.by_id()
                 if (is_under(scope, _lock_scope(lock)) if expression else is_under(_lock_scope(lock), scope))]
        return Response(200, {"value": found})

    # -- what a lock stops ------------------------------------------------------------------------

    def refuse_locked(self, request: Request, match: Match) -> None:
        """409 ``ScopeLocked`` for a delete a lock guards (one at, above or below the target), or a write or action
        at or below a read-only lock. Requests on locks themselves are never refused: that is how one is removed."""
        if request.method in ("GET", "HEAD") or not self.locks.documents:
            return
        path = re.sub(r"/+$", "", request.path.split("?", 1)[0])
        if _LOCK_PATH in path.lower():
            return
        target = path.rsplit("/", 1)[0] if request.method == "POST" else path
        scopes = self.locks.scopes()
        if request.method == "DELETE":
            locked = [s for s, _ in scopes if is_under(target, s) or is_under(s, target)]
            operation = "delete"
        else:
            locked = [s for s, level in scopes if level == "ReadOnly" and is_under(target, s)]
            operation = "write" if request.method in ("PUT", "PATCH") else "action"
        if locked:
            raise arm_errors.scope_locked(path, operation, sorted(set(locked)))


def _lock_scope(lock: dict[str, Any]) -> str:
    return lock["id"].rsplit(f"/providers/{LOCKS}/", 1)[0]
