"""The directory's objects, as Microsoft Graph serves them to an Azure AD Stack's tenant (graph.microsoft.com): only
what clients ask when they name the principals in role assignments (Azure CLI's ``az role assignment``) or look up
their own object id (``az keyvault create`` names the caller in the vault's access policy). The
directory holds one object, the emulator's service principal. An ADFS Stack's graph host serves none of this
(its AD Graph speaks another API), so there every such request is a 404, as it is on a real one."""

from __future__ import annotations

import functools
import re
from typing import Any

from azs_emulator import arm_errors
from azs_emulator.arm_core import Arm
from azs_emulator.protocol import ArmError, Request, Response
from azs_emulator.routing import GRAPH, GRAPH_TOKEN, Route, route

_CONTEXT = "https://graph.microsoft.com/v1.0/$metadata#directoryObjects"


class GraphService:
    def __init__(self, arm: Arm) -> None:
        self.arm = arm

    def routes(self) -> list[Route]:
        if self.arm.ctx.is_adfs:
            return []
        graph_route = functools.partial(route, listener=GRAPH, auth=GRAPH_TOKEN, subscription=False)
        return [
            graph_route("POST", r"/v1\.0/directoryobjects/getbyids", self.get_by_ids),
            graph_route("GET", r"/v1\.0/me", self.me),
            graph_route("GET", r"/v1\.0/serviceprincipals", self.list_service_principals),
            graph_route("GET", r"/v1\.0/(?:directoryobjects|serviceprincipals)/([^/]+)", self.get_object),
        ]

    def _principal(self) -> dict[str, Any]:
        return {"@odata.type": "#microsoft.graph.servicePrincipal", "id": self.arm.ctx.service_principal_object_id,
                "appId": self.arm.client_id, "displayName": "azs-scaffold emulator service principal",
                "servicePrincipalType": "Application", "servicePrincipalNames": [self.arm.client_id],
                "appOwnerOrganizationId": self.arm.tenant_id}

    def get_by_ids(self, request: Request) -> Response:
        body = request.json()
        ids = body.get("ids") if isinstance(body, dict) else None
        if not isinstance(ids, list):
            raise arm_errors.invalid_request_content("ids must be a list of object ids.")
        principal = self._principal()
        found = [principal for wanted in ids if str(wanted).lower() == principal["id"].lower()]
        return Response(200, {"@odata.context": _CONTEXT, "value": found})

    def me(self, request: Request) -> Response:
        """The signed-in user: a service principal's token has none (Graph's own answer to an app-only token)."""
        raise ArmError(400, "BadRequest", "/me request is only valid with delegated authentication flow.")

    def list_service_principals(self, request: Request) -> Response:
        """Service principals by ``$filter``: ``servicePrincipalNames/any(c:c eq '...')`` or ``appId eq '...'``."""
        wanted = request.query.get("$filter", "")
        found = re.fullmatch(r"\s*(?:servicePrincipalNames/any\(c:c eq '([^']*)'\)|appId eq '([^']*)')\s*", wanted,
                             re.IGNORECASE)
        if wanted and found is None:
            raise ArmError(400, "Request_UnsupportedQuery", f"Unsupported query: $filter={wanted}")
        principal = self._principal()
        name = next((g for g in found.groups() if g is not None), "") if found else principal["appId"]
        matches = [principal] if name.lower() == principal["appId"].lower() else []
        return Response(200, {"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#servicePrincipals",
                              "value": matches})

    def get_object(self, request: Request, object_id: str) -> Response:
        principal = self._principal()
        if object_id.lower() != principal["id"].lower():
            raise ArmError(404, "Request_ResourceNotFound", f"Resource '{object_id}' does not exist or one of its queried "
                           "reference-property objects are not present.")
        return Response(200, {"@odata.context": _CONTEXT + "/$entity", **principal})
