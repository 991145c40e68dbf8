"""The storage data plane's blob service, at ``<account>.blob.<region>.<fqdn>``: containers and block blobs, answered in
the service's XML, authorized as the service does it - Shared Key (the real signing algorithm, against the account's
current keys) or a shared access signature (signature, time window, permissions) - at the service versions the
release serves (``api_tables.storage_data_versions``, from Microsoft's Stack storage documentation)."""

from __future__ import annotations

import base64
import datetime as dt
import functools
import hashlib
import hmac
import re
import uuid
from email.utils import format_datetime
from typing import Any
from urllib.parse import unquote
from xml.etree import ElementTree
from xml.sax.saxutils import escape

from azs_emulator.api_tables import storage_data_versions
from azs_emulator.arm_core import Arm
from azs_emulator.protocol import ArmError, Request, Response
from azs_emulator.routing import ANYONE, BLOB, Route, route
from azs_emulator.services.storage import account_keys, find_account
from azs_emulator.state import BlobAccount

_XML = "application/xml"
_SHARED_KEY = re.compile(r"^SharedKey ([^:]+):(.+)$")


class BlobError(ArmError):
    """An error as the storage service answers it: XML ``<Error>`` and the ``x-ms-error-code`` header."""

    def __init__(self, status: int, code: str, message: str, **details: str) -> None:
        super().__init__(status, code, message)
        self.details = details

    def response(self) -> Response:
        extra = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in self.details.items())
        body = (f'<?xml version="1.0" encoding="utf-8"?><Error><Code>{self.code}</Code><Message>{escape(self.message)}\n'
                f"RequestId:{uuid.uuid4()}\nTime:{_iso(_now())}</Message>{extra}</Error>").encode()
        return Response(self.status, body, {"x-ms-error-code": self.code}, content_type=_XML)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.0000000Z")


def _http_date(moment: dt.datetime) -> str:
    return format_datetime(moment, usegmt=True)


def _etag() -> str:
    return f'"0x{uuid.uuid4().hex[:15].upper()}"'


def _authentication_failed(detail: str) -> BlobError:
    return BlobError(403, "AuthenticationFailed", "Server failed to authenticate the request. Make sure the value of "
                     "Authorization header is formed correctly including the signature.", AuthenticationErrorDetail=detail)


def shared_key_string_to_sign(request: Request, account: str) -> str:
    """Shared Key's string to sign (service versions 2015-02-21 and later): the verb, the standard headers, the
    ``x-ms-`` headers in order, and the canonicalized resource with its query."""
    header = request.headers.get
    length = header("content-length", "")
    standard = [request.method, header("content-encoding", ""), header("content-language", ""), "" if length == "0" else length,
                header("content-md5", ""), header("content-type", ""), header("date", ""), header("if-modified-since", ""),
                header("if-match", ""), header("if-none-match", ""), header("if-unmodified-since", ""), header("range", "")]
    ms_headers = "".join(f"{name}:{value.strip()}\n" for name, value in sorted(request.headers.items()) if name.startswith("x-ms-"))
    resource = f"/{account}{request.path or '/'}" + "".join(f"\n{name.lower()}:{unquote(value)}"
                                                              for name, value in sorted(request.query.items()))
    return "\n".join(standard) + "\n" + ms_headers + resource


def _sign(key: str, text: str) -> str:
    return base64.b64encode(hmac.new(base64.b64decode(key), text.encode("utf-8"), hashlib.sha256).digest()).decode()


def sas_string_to_sign(query: dict[str, str], account: str, container: str, blob: str) -> str:
    """A service SAS's string to sign, in the shape its signed version (``sv``) defines."""
    get = lambda name: query.get(name, "")  # noqa: E731
    resource = f"/blob/{account}/{container}" + (f"/{blob}" if get("sr") == "b" else "")
    fields = [get("sp"), get("st"), get("se"), resource, get("si"), get("sip"), get("spr"), get("sv")]
    if get("sv") >= "2018-11-09":
        fields += [get("sr"), get("snapshot")]
    if get("sv") >= "2020-12-06":
        fields.append(get("ses"))
    fields += [get("rscc"), get("rscd"), get("rsce"), get("rscl"), get("rsct")]
    return "\n".join(fields)


def _sas_time(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


class BlobBackend:
    """Owns the blob data plane's containers and blobs (``StateData.blob_accounts``), by storage account name."""

    def __init__(self, arm: Arm) -> None:
        self._accounts = arm.data["blob_accounts"]

    def account(self, name: str) -> BlobAccount:
        """The account's blob store (made empty on first use): change its containers in place and save."""
        return self._accounts.setdefault(name, {"containers": {}})


class BlobService:
    def __init__(self, arm: Arm) -> None:
        self.arm = arm
        self.blobs = BlobBackend(arm)

    def routes(self) -> list[Route]:
        blob_route = functools.partial(route, listener=BLOB, auth=ANYONE, subscription=False)
        return [
            blob_route("GET", r"/", self.list_containers),
            blob_route("PUT|GET|HEAD|DELETE", r"/([^/]+)", self.container),
            blob_route("PUT|GET|HEAD|DELETE", r"/([^/]+)/(.+)", self.blob),
        ]

    # -- who may ask what ------------------------------------------------------------------------

    def _account(self, request: Request) -> tuple[str, dict[str, Any]]:
        name = request.headers.get("host", "").split(".", 1)[0].lower()
        account = find_account(self.arm, name)
        if account is None:
            raise BlobError(404, "ResourceNotFound", "The specified resource does not exist.")
        return name, account

    def _admit(self, request: Request, needed: str, container: str = "", blob: str = "") -> BlobAccount:
        """The account's blob store, once the request's version and authorization hold; ``needed`` is the SAS
        permission letter the operation takes (r, w, d, l, c)."""
        name, account = self._account(request)
        served = storage_data_versions(self.arm.ctx.release)
        version = request.headers.get("x-ms-version", "")
        if version and served is not None and version not in served:
            raise BlobError(400, "InvalidHeaderValue", "The value for one of the HTTP headers is not in the correct format.",
                            HeaderName="x-ms-version", HeaderValue=version)
        keys = account_keys(self.arm, account)
        if "sig" in request.query:
            self._check_sas(request, name, keys, served, needed, container, blob)
        else:
            found = _SHARED_KEY.match(request.headers.get("authorization", ""))
            if not found:
                raise BlobError(403, "NoAuthenticationInformation", "Server failed to authenticate the request. Please refer "
                                "to the information in the www-authenticate header.")
            if not version:
                raise BlobError(400, "MissingRequiredHeader", "An HTTP header that's mandatory for this request is not "
                                "specified.", HeaderName="x-ms-version")
            to_sign = shared_key_string_to_sign(request, name)
            if found.group(1) != name or not any(hmac.compare_digest(_sign(key, to_sign), found.group(2)) for key in keys):
                raise _authentication_failed("The MAC signature found in the HTTP request is not the same as any computed "
                                             "signature. Server used following string to sign: " + repr(to_sign))
        return self.blobs.account(name)

    def _check_sas(self, request: Request, account: str, keys: list[str], served: tuple[str, ...] | None, needed: str,
                   container: str, blob: str) -> None:
        query = {k: unquote(v) for k, v in request.query.items()}
        version = query.get("sv", "")
        if served is not None and version not in served:
            raise _authentication_failed(f"Signed version {version!r} is not supported; this Stack serves {', '.join(served)}.")
        expected = sas_string_to_sign(query, account, container, blob)
        if not any(hmac.compare_digest(_sign(key, expected), query["sig"]) for key in keys):
            raise _authentication_failed("Signature did not match. String to sign used was " + repr(expected))
        now = _now()
        try:
            start = _sas_time(query["st"]) if query.get("st") else None
            expiry = _sas_time(query["se"])
        except (KeyError, ValueError):
            raise _authentication_failed("Signed expiry is missing or not an ISO 8601 time.") from None
        if now >= expiry or (start is not None and now < start):
            raise _authentication_failed(f"Signed expiry time [{query['se']}] must be after the current time [{_iso(now)}]"
                                         if now >= expiry else f"Signed start time [{query['st']}] is in the future")
        if query.get("sr") == "b" and not blob:
            raise BlobError(403, "AuthorizationResourceTypeMismatch", "This request is not authorized to perform this "
                            "operation using this resource type.")
        if needed not in query.get("sp", ""):
            raise BlobError(403, "AuthorizationPermissionMismatch", "This request is not authorized to perform this "
                            "operation using this permission.")

    # -- containers ------------------------------------------------------------------------------

    def list_containers(self, request: Request) -> Response:
        store = self._admit(request, "l")
        names = sorted(n for n in store["containers"] if n.startswith(request.query.get("prefix", "")))
        items = "".join(f"<Container><Name>{escape(n)}</Name><Properties><Last-Modified>{store['containers'][n]['modified']}"
                        f"</Last-Modified><Etag>{store['containers'][n]['etag']}</Etag><LeaseStatus>unlocked</LeaseStatus>"
                        "<LeaseState>available</LeaseState></Properties></Container>" for n in names)
        return self._xml(f'<EnumerationResults ServiceEndpoint="{self._endpoint(request)}"><Containers>{items}</Containers>'
                         "<NextMarker /></EnumerationResults>")

    def container(self, request: Request, name: str) -> Response:
        if request.query.get("restype") != "container":
            raise BlobError(400, "InvalidQueryParameterValue", "Value for one of the query parameters specified in the "
                            "request URI is invalid.", QueryParameterName="restype")
        if request.query.get("comp") == "list":
            return self.list_blobs(request, name)
        store = self._admit(request, {"PUT": "c", "DELETE": "d"}.get(request.method, "r"), unquote(name))
        containers = store["containers"]
        if request.method == "PUT":
            if not re.fullmatch(r"[a-z0-9](?!.*--)[a-z0-9-]{1,61}[a-z0-9]", name):
                raise BlobError(400, "InvalidResourceName", "The specifed resource name contains invalid characters.")
            if name in containers:
                raise BlobError(409, "ContainerAlreadyExists", "The specified container already exists.")
            containers[name] = {"modified": _http_date(_now()), "etag": _etag(), "blobs": {}}
            self.arm.save()
            return self._done(201, containers[name])
        found = self._container(store, name)
        if request.method == "DELETE":
            del containers[name]
            self.arm.save()
            return self._done(202)
        return self._done(200, found, {"x-ms-lease-status": "unlocked", "x-ms-lease-state": "available"})

    def list_blobs(self, request: Request, container: str) -> Response:
        store = self._admit(request, "l", container)
        found = self._container(store, container)
        prefix, marker = request.query.get("prefix", ""), request.query.get("marker", "")
        size = int(request.query.get("maxresults") or 5000)
        names = sorted(n for n in found["blobs"] if n.startswith(prefix) and (not marker or n >= marker))
        page, rest = names[:size], names[size:]
        items = "".join(self._blob_xml(n, found["blobs"][n]) for n in page)
        head = "".join(f"<{tag}>{escape(value)}</{tag}>" for tag, value in (("Prefix", prefix), ("Marker", marker),
                                                                           ("MaxResults", request.query.get("maxresults", ""))) if value)
        next_marker = f"<NextMarker>{escape(rest[0])}</NextMarker>" if rest else "<NextMarker />"
        return self._xml(f'<EnumerationResults ServiceEndpoint="{self._endpoint(request)}" ContainerName="{escape(container)}">'
                         f"{head}<Blobs>{items}</Blobs>{next_marker}</EnumerationResults>")

    @staticmethod
    def _blob_xml(name: str, blob: dict[str, Any]) -> str:
        return (f"<Blob><Name>{escape(name)}</Name><Properties><Creation-Time>{blob['created']}</Creation-Time>"
                f"<Last-Modified>{blob['modified']}</Last-Modified><Etag>{blob['etag']}</Etag>"
                f"<Content-Length>{len(base64.b64decode(blob['content']))}</Content-Length>"
                f"<Content-Type>{escape(blob['content_type'])}</Content-Type><Content-MD5>{blob['md5']}</Content-MD5>"
                "<BlobType>BlockBlob</BlobType><LeaseStatus>unlocked</LeaseStatus><LeaseState>available</LeaseState>"
                "<ServerEncrypted>true</ServerEncrypted></Properties></Blob>")

    # -- blobs -----------------------------------------------------------------------------------

    def blob(self, request: Request, container: str, name: str) -> Response:
        name = unquote(name)
        comp = request.query.get("comp", "")
        store = self._admit(request, {"PUT": "w", "DELETE": "d"}.get(request.method, "r"), container, name)
        found = self._container(store, container)
        blobs = found["blobs"]
        if request.method == "PUT" and comp == "block":
            staged = found.setdefault("staged", {}).setdefault(name, {})
            staged[request.query.get("blockid", "")] = base64.b64encode(request.body).decode()
            self.arm.save()
            return self._done(201, extra={"Content-MD5": _md5(request.body)})
        if request.method == "PUT" and comp == "blocklist":
            return self._commit_blocks(request, found, name)
        if request.method == "PUT":
            if request.headers.get("x-ms-blob-type", "").lower() != "blockblob":
                raise BlobError(400, "InvalidHeaderValue", "The value for one of the HTTP headers is not in the correct "
                                "format.", HeaderName="x-ms-blob-type")
            return self._store_blob(request, found, name, request.body)
        blob = blobs.get(name)
        if blob is None:
            raise BlobError(404, "BlobNotFound", "The specified blob does not exist.")
        if request.method == "DELETE":
            del blobs[name]
            self.arm.save()
            return self._done(202)
        content = base64.b64decode(blob["content"])
        headers = {"Last-Modified": blob["modified"], "ETag": blob["etag"], "x-ms-blob-type": "BlockBlob",
                   "x-ms-creation-time": blob["created"], "Accept-Ranges": "bytes", "x-ms-server-encrypted": "true",
                   "x-ms-lease-status": "unlocked", "x-ms-lease-state": "available"}
        wanted = request.headers.get("x-ms-range") or request.headers.get("range")
        if wanted and request.method != "HEAD":
            return self._range(content, wanted, headers, blob)
        return Response(200, content, {**headers, "Content-MD5": blob["md5"]}, content_type=blob["content_type"])

    def _range(self, content: bytes, wanted: str, headers: dict[str, str], blob: dict[str, Any]) -> Response:
        found = re.fullmatch(r"bytes=(\d+)-(\d*)", wanted.strip())
        if not found or int(found.group(1)) >= len(content):
            raise BlobError(416, "InvalidRange", "The range specified is invalid for the current size of the resource.")
        start = int(found.group(1))
        end = min(int(found.group(2)) if found.group(2) else len(content) - 1, len(content) - 1)
        return Response(206, content[start:end + 1], {**headers, "Content-Range": f"bytes {start}-{end}/{len(content)}"},
                        content_type=blob["content_type"])

    def _commit_blocks(self, request: Request, found: dict[str, Any], name: str) -> Response:
        try:
            listed = ElementTree.fromstring(request.body)
        except ElementTree.ParseError:
            raise BlobError(400, "InvalidXmlDocument", "XML specified is not syntactically valid.") from None
        staged = found.setdefault("staged", {}).get(name, {})
        committed = found.get("committed_blocks", {}).get(name, {})
        parts = []
        for element in listed:
            pool = {"Latest": {**committed, **staged}, "Committed": committed, "Uncommitted": staged}.get(element.tag, {})
            if (element.text or "") not in pool:
                raise BlobError(400, "InvalidBlockList", "The specified block list is invalid.")
            parts.append(pool[element.text or ""])
        found.setdefault("committed_blocks", {})[name] = dict(zip((element.text or "" for element in listed), parts))
        found["staged"].pop(name, None)
        return self._store_blob(request, found, name, b"".join(base64.b64decode(p) for p in parts),
                                content_type=request.headers.get("x-ms-blob-content-type"))

    def _store_blob(self, request: Request, found: dict[str, Any], name: str, content: bytes,
                    content_type: str | None = None) -> Response:
        stamp = _http_date(_now())
        existing = found["blobs"].get(name)
        found["blobs"][name] = {
            "content": base64.b64encode(content).decode(), "etag": _etag(), "modified": stamp,
            "created": existing["created"] if existing else stamp, "md5": _md5(content),
            "content_type": content_type or request.headers.get("x-ms-blob-content-type") or "application/octet-stream",
        }
        self.arm.save()
        return self._done(201, found["blobs"][name], {"Content-MD5": found["blobs"][name]["md5"],
                                                      "x-ms-request-server-encrypted": "true"})

    # -- answers ---------------------------------------------------------------------------------

    @staticmethod
    def _container(store: BlobAccount, container: str) -> dict[str, Any]:
        found = store["containers"].get(container)
        if found is None:
            raise BlobError(404, "ContainerNotFound", "The specified container does not exist.")
        return found

    @staticmethod
    def _endpoint(request: Request) -> str:
        return f"https://{request.headers.get('host', '')}/"

    @staticmethod
    def _xml(body: str) -> Response:
        return Response(200, ('<?xml version="1.0" encoding="utf-8"?>' + body).encode(), content_type=_XML)

    @staticmethod
    def _done(status: int, item: dict[str, Any] | None = None, extra: dict[str, str] | None = None) -> Response:
        headers = {"Last-Modified": item["modified"], "ETag": item["etag"]} if item else {}
        return Response(status, None, {**headers, **(extra or {})})


def _md5(content: bytes) -> str:
    return base64.b64encode(hashlib.md5(content).digest()).decode()
