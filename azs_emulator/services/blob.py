"""The storage data plane's blob service, at ``<account>.blob.<region>.<fqdn>``: the service's properties, containers
(metadata, stored access policies and public access, leases) and their blob lists, answered in the service's XML,
authorized as the service does it (:mod:`.blob_auth`) at the service versions the release serves
(``api_tables.storage_data_versions``, from Microsoft's "Azure Stack Hub storage: Differences and considerations").
The blobs themselves: :mod:`.blob_objects`; what is kept: :mod:`.blob_store`; their bytes: :mod:`.blob_content`.
Each behaviour follows the Blob service REST API reference of the operation it names."""

from __future__ import annotations

import functools
import re
from typing import Any
from urllib.parse import unquote
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from azs_emulator.api_tables import storage_data_versions
from azs_emulator.arm_core import Arm
from azs_emulator.protocol import Request, Response
from azs_emulator.routing import ANYONE, BLOB, Route, route
from azs_emulator.services.blob_auth import XML, BlobError, check_sas, check_shared_key, http_date, invalid_header, now
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
from azs_emulator.services.storage import account_keys, find_account
from azs_emulator.state import BlobAccount

_SHARED_KEY = re.compile(r"^SharedKey ([^:]+):(.+)$")
_CONTAINER_NAME = re.compile(r"[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]")
# Set Container ACL: at most five stored access policies (REST API "Set Container ACL").
_MOST_POLICIES = 5
# Get Blob Service Properties of an account nobody set them on: logging and metrics off, no CORS rules.
_RETENTION_OFF = "<RetentionPolicy><Enabled>false</Enabled></RetentionPolicy>"
_DEFAULT_SERVICE_PROPERTIES = {
    "Logging": f"<Logging><Version>1.0</Version><Read>false</Read><Write>false</Write><Delete>false</Delete>{_RETENTION_OFF}</Logging>",
    "HourMetrics": f"<HourMetrics><Version>1.0</Version><Enabled>false</Enabled>{_RETENTION_OFF}</HourMetrics>",
    "MinuteMetrics": f"<MinuteMetrics><Version>1.0</Version><Enabled>false</Enabled>{_RETENTION_OFF}</MinuteMetrics>",
    "Cors": "<Cors />",
}


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
        name = request.headers.get("host", "").split(".", 1)[0].lower()
        account = find_account(self.arm, name)
        if account is None:
            raise BlobError(404, "ResourceNotFound", "The specified resource does not exist.")
        store = self.blobs.account(name)
        served = storage_data_versions(self.arm.ctx.release)
        version = request.headers.get("x-ms-version", "")
        if version and served is not None and version not in served:
            raise invalid_header("x-ms-version", version)
        keys = account_keys(self.arm, account)
        signed = _SHARED_KEY.match(request.headers.get("authorization", ""))
        if "sig" in request.query and needed is not None:
            policies = store["containers"].get(container, {}).get("acl", {}).get("policies", {})
            check_sas(request, name, keys, served, needed, container, blob, policies)
        elif signed:
            if not version:
                raise BlobError(400, "MissingRequiredHeader", "An HTTP header that's mandatory for this request is not "
                                "specified.", HeaderName="x-ms-version")
            check_shared_key(request, name, keys, (signed.group(1), signed.group(2)))
        elif "sig" in request.query:  # only the account's key may do this
            raise BlobError(403, "AuthorizationFailure", "This request is not authorized to perform this operation.")
        elif not self._public(store, request, needed, container, blob):
            raise BlobError(403, "NoAuthenticationInformation", "Server failed to authenticate the request. Please refer "
                            "to the information in the www-authenticate header.")
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
        raise BlobError(400, "InvalidQueryParameterValue", "Value for one of the query parameters specified in the request "
                        "URI is invalid.", QueryParameterName="comp")

    def _service_properties(self, request: Request) -> Response:
        store = self._admit(request, None)
        kept: dict[str, str] = store.setdefault("service_properties", {})  # type: ignore[typeddict-item]
        if request.method == "PUT":
            try:
                given = ElementTree.fromstring(small_body(request))
            except ElementTree.ParseError:
                raise BlobError(400, "InvalidXmlDocument", "XML specified is not syntactically valid.") from None
            if given.tag != "StorageServiceProperties":
                raise BlobError(400, "InvalidXmlDocument", "XML specified is not syntactically valid.")
            for element in given:  # what the request leaves out stays as it was
                kept[element.tag] = ElementTree.tostring(element, encoding="unicode")
            self.blobs.save()
            return Response(202, None, content_type=None)
        merged = {**_DEFAULT_SERVICE_PROPERTIES, **kept}
        return _xml("<StorageServiceProperties>" + "".join(merged.values()) + "</StorageServiceProperties>")

    def list_containers(self, request: Request) -> Response:
        store = self._admit(request, "l")
        prefix, marker = request.query.get("prefix", ""), request.query.get("marker", "")
        names = sorted(n for n in store["containers"] if n.startswith(prefix) and n >= marker)
        page, rest = _page(names, request)
        with_metadata = "metadata" in request.query.get("include", "")
        items = "".join(f"<Container><Name>{escape(n)}</Name>{_container_properties_xml(store['containers'][n])}"
                        f"{_metadata_xml(store['containers'][n]) if with_metadata else ''}</Container>" for n in page)
        return _xml(f'<EnumerationResults ServiceEndpoint="{_endpoint(request)}">{_list_head(request)}<Containers>{items}'
                    f"</Containers>{_next_marker(rest)}</EnumerationResults>")

    # -- containers ------------------------------------------------------------------------------

    def container(self, request: Request, name: str) -> Response:
        name = unquote(name)
        if request.query.get("restype") != "container":
            raise BlobError(400, "InvalidQueryParameterValue", "Value for one of the query parameters specified in the "
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
            return _done(status, found, headers)
        if comp == "metadata" and request.method == "PUT":
            check_lease(request, found, "Container") if request.headers.get("x-ms-lease-id") else None
            found["metadata"] = metadata_of(request)
            touch(found)
            self.blobs.save()
            return _done(200, found)
        if request.method == "DELETE":
            check_lease(request, found, "Container")
            self.blobs.forget_container(found)
            del containers[name]
            self.blobs.save()
            return _done(202)
        # Get Container Properties / Metadata: headers only, and no Content-Type (the 2017-11-09 SDK Azure CLI uses
        # under 2019-03-01-hybrid reads one as content settings a container does not have).
        public = found.get("acl", {}).get("public")
        return _done(200, found, {**lease_headers(found), **metadata_headers(found), "x-ms-has-immutability-policy": "false",
                                  "x-ms-has-legal-hold": "false", **({"x-ms-blob-public-access": public} if public else {})})

    def _create(self, request: Request, containers: dict[str, Container], name: str) -> Response:
        if not _CONTAINER_NAME.fullmatch(name):
            raise BlobError(400, "InvalidResourceName", "The specifed resource name contains invalid characters.")
        if name in containers:
            raise BlobError(409, "ContainerAlreadyExists", "The specified container already exists.")
        public = _public_access(request)
        containers[name] = {"modified": http_date(now()), "etag": "", "blobs": {}, "metadata": metadata_of(request),
                            "acl": {"public": public, "policies": {}}}
        touch(containers[name])
        self.blobs.save()
        return _done(201, containers[name])

    def _acl(self, request: Request, found: Container) -> Response:
        """Get Container ACL (the stored access policies as ``<SignedIdentifiers>``, the public access level as a
        header) and Set Container ACL (both replaced; REST API "Set Container ACL")."""
        acl = found.setdefault("acl", {"public": None, "policies": {}})
        if request.method == "PUT":
            check_lease(request, found, "Container") if request.headers.get("x-ms-lease-id") else None
            policies = _policies(small_body(request))
            acl.update(public=_public_access(request), policies=policies)
            touch(found)
            self.blobs.save()
            return _done(200, found)
        items = "".join(f"<SignedIdentifier><Id>{escape(pid)}</Id><AccessPolicy>"
                        + "".join(f"<{tag}>{escape(policy[key])}</{tag}>" for tag, key in
                                  (("Start", "start"), ("Expiry", "expiry"), ("Permission", "permission")) if policy.get(key))
                        + "</AccessPolicy></SignedIdentifier>" for pid, policy in acl["policies"].items())
        answer = _xml(f"<SignedIdentifiers>{items}</SignedIdentifiers>")
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
        page, rest = _page(entries, request)
        items = "".join(f"<BlobPrefix><Name>{escape(n)}</Name></BlobPrefix>" if blob is None
                        else blob_xml(n, stamp, blob, self.blobs, "metadata" in include, "copy" in include) for n, stamp, blob in page)
        head = _list_head(request) + (f"<Delimiter>{escape(delimiter)}</Delimiter>" if delimiter else "")
        return _xml(f'<EnumerationResults ServiceEndpoint="{_endpoint(request)}" ContainerName="{escape(name)}">'
                    f"{head}<Blobs>{items}</Blobs>{_next_marker([e[0] for e in rest])}</EnumerationResults>")

    @staticmethod
    def _container(store: BlobAccount, container: str) -> Container:
        found = store["containers"].get(container)
        if found is None:
            raise BlobError(404, "ContainerNotFound", "The specified container does not exist.")
        return found


def _public_access(request: Request) -> str | None:
    level = request.headers.get("x-ms-blob-public-access")
    if level not in (None, "blob", "container"):
        raise invalid_header("x-ms-blob-public-access", str(level))
    return level


def _policies(body: bytes) -> dict[str, dict[str, str]]:
    """The stored access policies of a Set Container ACL body (at most five, each id at most 64 characters)."""
    if not body.strip():
        return {}
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        raise BlobError(400, "InvalidXmlDocument", "XML specified is not syntactically valid.") from None
    policies: dict[str, dict[str, str]] = {}
    for identifier in root.findall("SignedIdentifier"):
        pid = identifier.findtext("Id") or ""
        if not pid or len(pid) > 64:
            raise BlobError(400, "InvalidXmlDocument", "XML specified is not syntactically valid.")
        policy = identifier.find("AccessPolicy")
        policies[pid] = {key: (policy.findtext(tag) or "") for tag, key in
                         (("Start", "start"), ("Expiry", "expiry"), ("Permission", "permission"))} if policy is not None else {}
    if len(policies) > _MOST_POLICIES:
        raise BlobError(400, "InvalidXmlDocument", "XML specified is not syntactically valid: more than five stored "
                        "access policies.")
    return policies


def _container_properties_xml(container: Container) -> str:
    state, status, duration = lease_state(container)
    public = container.get("acl", {}).get("public")
    return (f"<Properties><Last-Modified>{container['modified']}</Last-Modified><Etag>{container['etag']}</Etag>"
            f"<LeaseStatus>{status}</LeaseStatus><LeaseState>{state}</LeaseState>"
            + (f"<LeaseDuration>{duration}</LeaseDuration>" if duration else "")
            + (f"<PublicAccess>{public}</PublicAccess>" if public else "")
            + "<HasImmutabilityPolicy>false</HasImmutabilityPolicy><HasLegalHold>false</HasLegalHold></Properties>")


def _metadata_xml(item: dict[str, Any]) -> str:
    return "<Metadata>" + "".join(f"<{k}>{escape(v)}</{k}>" for k, v in item.get("metadata", {}).items()) + "</Metadata>"


def _page(entries: list[Any], request: Request) -> tuple[list[Any], list[Any]]:
    size = int(request.query.get("maxresults") or 5000)
    return entries[:size], entries[size:]


def _list_head(request: Request) -> str:
    return "".join(f"<{tag}>{escape(value)}</{tag}>" for tag, value in (("Prefix", request.query.get("prefix", "")),
                   ("Marker", request.query.get("marker", "")), ("MaxResults", request.query.get("maxresults", ""))) if value)


def _next_marker(rest: list[str]) -> str:
    return f"<NextMarker>{escape(rest[0])}</NextMarker>" if rest else "<NextMarker />"


def _endpoint(request: Request) -> str:
    return f"https://{request.headers.get('host', '')}/"


def _xml(body: str) -> Response:
    return Response(200, ('<?xml version="1.0" encoding="utf-8"?>' + body).encode(), content_type=XML)


def _done(status: int, item: dict[str, Any] | None = None, extra: dict[str, str] | None = None) -> Response:
    headers = {"Last-Modified": item["modified"], "ETag": item["etag"]} if item else {}
    return Response(status, None, {**headers, **(extra or {})}, content_type=None)
