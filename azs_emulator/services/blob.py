"""The storage data plane's blob service, at ``<account>.blob.<region>.<fqdn>``: the service's properties, containers
(metadata, stored access policies and public access, leases) and their blob lists, answered in the service's XML,
authorized as the service does it (:mod:`.storage_auth`) at the service versions the release serves
(``api_tables.storage_data_versions``, from Microsoft's "Azure Stack Hub storage: Differences and considerations").
The blobs themselves: :mod:`.blob_objects`; what is kept: :mod:`.blob_store`; their bytes: :mod:`.blob_content`.
Each behaviour follows the Blob service REST API reference of the operation it names."""

from __future__ import annotations

import functools
import re
from typing import Any
from urllib.parse import unquote
from xml.sax.saxutils import escape

from azs_emulator.arm_core import Arm
from azs_emulator.protocol import Request, Response
from azs_emulator.routing import ANYONE, BLOB, Route, route
from azs_emulator.services.blob_content import small_body
from azs_emulator.services.blob_objects import BlobObjects
from azs_emulator.services.blob_store import (
    BlobBackend,
    Container,
    blob_xml,
    check_lease,
    lease_action,
    lease_headers,
    lease_state,
    metadata_headers,
    metadata_of,
    touch,
)
from azs_emulator.services.storage import find_account
from azs_emulator.services.storage_auth import StorageError, admit, http_date, invalid_header, no_authentication, now
from azs_emulator.services.storage_xml import (
    done,
    endpoint,
    list_head,
    listing,
    metadata_xml,
    next_marker,
    one_page,
    parse_policies,
    policies_xml,
    service_properties,
    xml_answer,
)
from azs_emulator.state import BlobAccount

_SHARED_KEY = re.compile(r"^SharedKey ([^:]+):(.+)$")
_CONTAINER_NAME = re.compile(r"[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]")
class BlobService:
    def __init__(self, arm: Arm) -> None:
        self.arm = arm
        self.blobs = BlobBackend(arm)
        self.objects = BlobObjects(self.blobs, self._admit, self._container)

    def routes(self) -> list[Route]:
        blob_route = functools.partial(route, listener=BLOB, auth=ANYONE, subscription=False)
        return [
            blob_route("GET|PUT", r"/", self.account_root),
            blob_route("PUT|GET|HEAD|DELETE", r"/([^/]+)", self.container),
            blob_route("PUT|GET|HEAD|DELETE", r"/([^/]+)/(.+)", self.objects.blob),
        ]

    # -- who may ask what ------------------------------------------------------------------------

    def _admit(self, request: Request, needed: str | None, container: str = "", blob: str = "") -> BlobAccount:
        """The account's blob store, once the request's version and authorization hold. ``needed`` is the SAS
        permission letter the operation takes (r, a, c, w, d, l); None: only the account's key may (ACLs, service
        properties). A request with neither key nor signature reads what a container's public access opens."""
        store = self.blobs.account(request.headers.get("host", "").split(".", 1)[0].lower())
        policies = store["containers"].get(container, {}).get("acl", {}).get("policies", {})
        if admit(self.arm, request, "blob", needed, container, blob, policies) is None and \
                not self._public(store, request, needed, container, blob):
            raise no_authentication()
        return store

    @staticmethod
    def _public(store: BlobAccount, request: Request, needed: str | None, container: str, blob: str) -> bool:
        """Anonymous access a container's public access level opens (REST API "Set Container ACL",
        x-ms-blob-public-access): ``blob`` reads blobs, ``container`` also lists them and reads the container."""
        level = store["containers"].get(container, {}).get("acl", {}).get("public")
        if request.method not in ("GET", "HEAD") or level is None:
            return False
        return (bool(blob) and needed == "r") or (level == "container" and needed in ("r", "l"))

    # -- the account ------------------------------------------------------------------------------

    def account_root(self, request: Request) -> Response:
        """List Containers, Get/Set Blob Service Properties, Get Account Information."""
        restype, comp = request.query.get("restype", ""), request.query.get("comp", "")
        if restype == "service" and comp == "properties":
            return self._service_properties(request)
        if restype == "account" and comp == "properties":  # 2018-03-28 and later
            self._admit(request, "r")
            account = find_account(self.arm, request.headers.get("host", "").split(".", 1)[0].lower()) or {}
            return Response(200, None, {"x-ms-sku-name": account.get("sku", {}).get("name", "Standard_LRS"),
                                        "x-ms-account-kind": account.get("kind", "Storage")}, content_type=None)
        if request.method == "GET" and comp == "list":
            return self.list_containers(request)
        raise StorageError(400, "InvalidQueryParameterValue", "Value for one of the query parameters specified in the request "
                        "URI is invalid.", QueryParameterName="comp")

    def _service_properties(self, request: Request) -> Response:
        store = self._admit(request, None)
        return service_properties(request, store.setdefault("service_properties", {}), self.blobs.save)  # type: ignore[typeddict-item]

    def list_containers(self, request: Request) -> Response:
        store = self._admit(request, "l")
        with_metadata = "metadata" in request.query.get("include", "")
        return listing(request, store["containers"], "Container",
                       lambda c: _container_properties_xml(c) + (metadata_xml(c) if with_metadata else ""))

    # -- containers ------------------------------------------------------------------------------

    def container(self, request: Request, name: str) -> Response:
        name = unquote(name)
        if request.query.get("restype") != "container":
            raise StorageError(400, "InvalidQueryParameterValue", "Value for one of the query parameters specified in the "
                            "request URI is invalid.", QueryParameterName="restype")
        comp = request.query.get("comp", "")
        if comp == "list":
            return self.list_blobs(request, name)
        needed = None if comp == "acl" else {"PUT": "w" if comp else "c", "DELETE": "d"}.get(request.method, "r")
        store = self._admit(request, needed, name)
        containers = store["containers"]
        if request.method == "PUT" and not comp:
            return self._create(request, containers, name)
        found = self._container(store, name)
        if comp == "acl":
            return self._acl(request, found)
        if comp == "lease" and request.method == "PUT":
            status, headers = lease_action(request, found)
            self.blobs.save()
            return done(status, found, headers)
        if comp == "metadata" and request.method == "PUT":
            check_lease(request, found, "Container") if request.headers.get("x-ms-lease-id") else None
            found["metadata"] = metadata_of(request)
            touch(found)
            self.blobs.save()
            return done(200, found)
        if request.method == "DELETE":
            check_lease(request, found, "Container")
            self.blobs.forget_container(found)
            del containers[name]
            self.blobs.save()
            return done(202)
        # Get Container Properties / Metadata: headers only, and no Content-Type (the 2017-11-09 SDK Azure CLI uses
        # under 2019-03-01-hybrid reads one as content settings a container does not have).
        public = found.get("acl", {}).get("public")
        return done(200, found, {**lease_headers(found), **metadata_headers(found), "x-ms-has-immutability-policy": "false",
                                  "x-ms-has-legal-hold": "false", **({"x-ms-blob-public-access": public} if public else {})})

    def _create(self, request: Request, containers: dict[str, Container], name: str) -> Response:
        if not _CONTAINER_NAME.fullmatch(name):
            raise StorageError(400, "InvalidResourceName", "The specifed resource name contains invalid characters.")
        if name in containers:
            raise StorageError(409, "ContainerAlreadyExists", "The specified container already exists.")
        public = _public_access(request)
        containers[name] = {"modified": http_date(now()), "etag": "", "blobs": {}, "metadata": metadata_of(request),
                            "acl": {"public": public, "policies": {}}}
        touch(containers[name])
        self.blobs.save()
        return done(201, containers[name])

    def _acl(self, request: Request, found: Container) -> Response:
        """Get Container ACL (the stored access policies as ``<SignedIdentifiers>``, the public access level as a
        header) and Set Container ACL (both replaced; REST API "Set Container ACL")."""
        acl = found.setdefault("acl", {"public": None, "policies": {}})
        if request.method == "PUT":
            check_lease(request, found, "Container") if request.headers.get("x-ms-lease-id") else None
            policies = parse_policies(small_body(request))
            acl.update(public=_public_access(request), policies=policies)
            touch(found)
            self.blobs.save()
            return done(200, found)
        answer = xml_answer(policies_xml(acl["policies"]))
        answer.headers.update({"ETag": found["etag"], "Last-Modified": found["modified"],
                               **({"x-ms-blob-public-access": acl["public"]} if acl.get("public") else {})})
        return answer

    def list_blobs(self, request: Request, name: str) -> Response:
        store = self._admit(request, "l", name)
        found = self._container(store, name)
        prefix, marker = request.query.get("prefix", ""), request.query.get("marker", "")
        delimiter = request.query.get("delimiter", "")
        include = set(request.query.get("include", "").split(","))
        entries: list[tuple[str, str, dict[str, Any] | None]] = []  # (name, snapshot, blob) or a prefix's (name, "", None)
        seen_prefixes: set[str] = set()
        for blob_name in sorted(found["blobs"].keys() | (found.get("snapshots", {}).keys() if "snapshots" in include else set())
                                | (found.get("staged", {}).keys() if "uncommittedblobs" in include else set())):
            if not blob_name.startswith(prefix) or blob_name < marker:
                continue
            cut = blob_name.find(delimiter, len(prefix)) if delimiter else -1
            if cut >= 0:
                folder = blob_name[:cut + len(delimiter)]
                if folder not in seen_prefixes:
                    seen_prefixes.add(folder)
                    entries.append((folder, "", None))
                continue
            if "snapshots" in include:
                entries += [(blob_name, stamp, kept) for stamp, kept in sorted(found.get("snapshots", {}).get(blob_name, {}).items())]
            if blob_name in found["blobs"]:
                entries.append((blob_name, "", found["blobs"][blob_name]))
            elif blob_name in found.get("staged", {}):
                entries.append((blob_name, "", {"type": "BlockBlob", "size": 0, "etag": "", "modified": found["modified"],
                                                "created": found["modified"], "extents": []}))
        shown, rest = one_page(entries, request)
        items = "".join(f"<BlobPrefix><Name>{escape(n)}</Name></BlobPrefix>" if blob is None
                        else blob_xml(n, stamp, blob, self.blobs, "metadata" in include, "copy" in include) for n, stamp, blob in shown)
        head = list_head(request) + (f"<Delimiter>{escape(delimiter)}</Delimiter>" if delimiter else "")
        return xml_answer(f'<EnumerationResults ServiceEndpoint="{endpoint(request)}" ContainerName="{escape(name)}">'
                    f"{head}<Blobs>{items}</Blobs>{next_marker([e[0] for e in rest])}</EnumerationResults>")

    @staticmethod
    def _container(store: BlobAccount, container: str) -> Container:
        found = store["containers"].get(container)
        if found is None:
            raise StorageError(404, "ContainerNotFound", "The specified container does not exist.")
        return found


def _public_access(request: Request) -> str | None:
    level = request.headers.get("x-ms-blob-public-access")
    if level not in (None, "blob", "container"):
        raise invalid_header("x-ms-blob-public-access", str(level))
    return level


def _container_properties_xml(container: Container) -> str:
    state, status, duration = lease_state(container)
    public = container.get("acl", {}).get("public")
    return (f"<Properties><Last-Modified>{container['modified']}</Last-Modified><Etag>{container['etag']}</Etag>"
            f"<LeaseStatus>{status}</LeaseStatus><LeaseState>{state}</LeaseState>"
            + (f"<LeaseDuration>{duration}</LeaseDuration>" if duration else "")
            + (f"<PublicAccess>{public}</PublicAccess>" if public else "")
            + "<HasImmutabilityPolicy>false</HasImmutabilityPolicy><HasLegalHold>false</HasLegalHold></Properties>")
