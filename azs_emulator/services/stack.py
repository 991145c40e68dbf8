"""What a Stack says about itself: the metadata endpoint, the offers a tenant may subscribe to, and (operators only)
its update location."""

from __future__ import annotations

import re
import time
import uuid

from azs_emulator import arm_errors
from azs_emulator.api_tables import AZURE
from azs_emulator.arm_core import Arm, now
from azs_emulator.config import LOOPBACK
from azs_emulator.protocol import Request, Response
from azs_emulator.routing import ANYONE, Route, route

_METADATA_VERSIONS = ("2022-09-01", "2020-06-01", "2019-05-01", "2015-01-01", "1.0")
_UPDATE_VERSIONS = ("2021-07-01", "2016-05-01")
# The tenant's offers (Microsoft.Subscriptions; real-stack: azurestack-powershell Azs.Subscriptions Offer recording).
_OFFER_VERSIONS = ("2015-11-01",)
DEFAULT_OFFER = "BaseOffer"


def add_arm_headers(response: Response, request: Request, location: str) -> None:
    """The headers a Stack's Resource Manager sends with every answer (real-stack: the response headers of the
    azurestack-powershell Azs.Subscriptions recordings): correlation and routing ids, no caching, HSTS, nosniff."""
    correlation = request.headers.get("x-ms-correlation-request-id") or str(uuid.uuid4())
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    for name, value in (("x-ms-correlation-request-id", correlation),
                        ("x-ms-routing-request-id", f"{location.upper()}:{stamp}:{correlation}"),
                        ("Cache-Control", "no-cache"), ("Pragma", "no-cache"),
                        ("Strict-Transport-Security", "max-age=31536000; includeSubDomains"),
                        ("X-Content-Type-Options", "nosniff")):
        if not any(k.lower() == name.lower() for k in response.headers):
            response.headers[name] = value


class StackService:
    def __init__(self, arm: Arm) -> None:
        self.arm = arm

    def routes(self) -> list[Route]:
        update = r"/subscriptions/([^/]+)/resourcegroups/system\.([^/]+)/providers/microsoft\.update\.admin/updatelocations"
        return [
            route("GET", r"/metadata/endpoints", self.metadata, auth=ANYONE),
            route("GET", r"/offers", self.offers),
            route("GET", r"/delegatedproviders/default/offers/([^/]+)", self.offer),
            route("GET", update, self.update_locations),
            route("GET", update + r"/([^/]+)", self.update_locations),
        ]

    def metadata(self, request: Request) -> Response:
        ctx, admin = self.arm.ctx, request.admin
        version = request.api_version
        portal, gallery, graph = self._other_endpoints(admin)
        authentication = {"loginEndpoint": ctx.login_endpoint, "audiences": [ctx.audience(admin)]}
        if version in ("1.0", "2015-01-01"):
            return Response(200, {"galleryEndpoint": gallery, "graphEndpoint": graph, "portalEndpoint": portal,
                                  "authentication": authentication})
        if version is None:  # ARM's answer to any request without one (assumed for this endpoint; was "api-version 'None'")
            raise arm_errors.missing_api_version()
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", version) or version < "2019-05-01":
            raise arm_errors.invalid_api_version(version, _METADATA_VERSIONS)
        return Response(200, [{
            "portal": portal,
            "authentication": authentication,
            "media": portal.replace("portal", "media", 1),
            "graphAudience": graph,
            "graph": graph,
            "name": f"AzureStack-{'Admin' if admin else 'User'}-{self.arm.audience_app_id}",
            "suffixes": {"keyVaultDns": ctx.keyvault_dns_suffix, "storage": ctx.storage_suffix},
            "gallery": gallery,
        }])

    def _check_offer_version(self, request: Request) -> None:
        if self.arm.ctx.release == AZURE:  # global Azure has no offers under this path
            raise arm_errors.no_route(request.path)
        if request.api_version not in _OFFER_VERSIONS:
            raise arm_errors.invalid_api_version(str(request.api_version), _OFFER_VERSIONS)

    @staticmethod
    def _offer_body(name: str) -> dict[str, str]:
        return {"id": f"/delegatedProviders/default/offers/{name}", "name": name, "displayName": name, "description": ""}

    def offers(self, request: Request) -> Response:
        """The public offers a tenant may subscribe to: the one the emulator's subscription came from."""
        self._check_offer_version(request)
        return Response(200, {"value": [self._offer_body(DEFAULT_OFFER)]})

    def offer(self, request: Request, name: str) -> Response:
        self._check_offer_version(request)
        if name.lower() != DEFAULT_OFFER.lower():
            raise arm_errors.not_found(f"The offer '{name}'")
        return Response(200, self._offer_body(DEFAULT_OFFER))

    def _other_endpoints(self, admin: bool) -> tuple[str, str, str]:
        """Portal, gallery and graph as the metadata names them (nothing here serves them): a Stack's own hosts beside
        Resource Manager, or paths of the loopback listener."""
        ctx = self.arm.ctx
        if ctx.config.layout == LOOPBACK:
            base = ctx.base_url
            return (f"{base}/{'adminportal' if admin else 'portal'}/", f"{base}/gallery/",
                    f"{base}/graph/" if ctx.is_adfs else "https://graph.windows.net/")
        if ctx.release == AZURE:
            return "https://portal.azure.com/", "https://gallery.azure.com/", "https://graph.windows.net/"
        domain = ctx.storage_suffix
        return (f"https://{'adminportal' if admin else 'portal'}.{domain}/", f"https://providers.{domain}/",
                f"https://graph.{domain}/" if ctx.is_adfs else "https://graph.windows.net/")

    def update_locations(self, request: Request, sub: str, region: str, name: str | None = None) -> Response:
        """``Microsoft.Update.Admin/updateLocations``: the release's build, for an operator only."""
        if not request.admin:
            raise arm_errors.no_route(request.path)
        if request.api_version not in _UPDATE_VERSIONS:
            raise arm_errors.invalid_api_version(str(request.api_version), _UPDATE_VERSIONS)
        location = self.arm.location
        if region.lower() != location or (name is not None and name.lower() != location):
            raise arm_errors.resource_not_found("Microsoft.Update.Admin/updateLocations", name or region, f"System.{region}")
        body = {
            "id": f"/subscriptions/{sub}/resourceGroups/System.{location}/providers/Microsoft.Update.Admin/updateLocations/{location}",
            "name": location,
            "type": "Microsoft.Update.Admin/updateLocations",
            "location": location,
            "properties": {"currentVersion": self.arm.ctx.build, "currentOemVersion": "2.2.2108.1",
                           "state": "AppliedSuccessfully", "lastUpdatedTime": now()},
        }
        return Response(200, body if name is not None else {"value": [body]})
